package compilecache

import (
	"bytes"
	"crypto/sha256"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/model"
)

// A config directory's service memo is the model of each of its
// services that the last compile through the cache found valid, by
// compiler.ServiceKey: a compile after an edit (which misses the cache,
// whose entries are keyed by every file's bytes) takes the unchanged
// services from it and compiles only the others, as lvsgen watch does
// between edits in one process. At 10,000 services that is most of a
// compile.
//
// It is an entry like the others — its key, a checksum, trusted whole
// or not at all, written by rename, evicted as the least recently used
// — keyed by the build of lvsgen and the directory, and replaced after
// each valid compile of that directory, so it holds the services of one
// config: its size is about a fifth of the whole entry. A service key
// covers the service's text and everything else its model depends on
// (compiler.ServiceMemo), so a memo of an older version of the config
// gives the models of the services that did not change, and nothing for
// the others.

// memoMinServices is the fewest services a config keeps a memo for:
// below, a compile takes milliseconds, and writing the memo would cost
// about as much as it saves. (A variable for the tests.)
var memoMinServices = 64

// memoUsed is called with the memo of each compile, after it (for the
// tests).
var memoUsed = func(*serviceMemo) {}

// memoEntry is what a service memo holds: each service's model, encoded
// on its own so that a compile decodes only those it takes.
type memoEntry struct {
	Keys     [][sha256.Size]byte
	Services [][]byte
	// Files are what the config's files that declare services alone
	// hold (compiler.FileServices), by the SHA-256 of their bytes: such
	// a file, unchanged, is not read again.
	Files []memoFile
	// Hosts are the keys of the hosts built without a conflict
	// (compiler.HostKey): plan and apply of one host do not build the
	// others again while their keys stay.
	Hosts [][sha256.Size]byte
	// WorldKey and World are the world of the compile (compiler.World),
	// encoded on its own; World is nil when it had none to keep.
	WorldKey [sha256.Size]byte
	World    []byte
}

type memoFile struct {
	Sum [sha256.Size]byte
	compiler.FileServices
}

// memoKey is the key of the service memo of dir for build.
func memoKey(build, dir string) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(magic))
	h.Write([]byte("service memo\n"))
	h.Write([]byte(build))
	h.Write([]byte{0})
	h.Write([]byte(dir))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// serviceMemo is a memo read from the cache: a compiler.ServiceMemo.
type serviceMemo struct {
	index map[compiler.ServiceKey]int
	raw   [][]byte
	files map[[sha256.Size]byte]*compiler.FileServices
	hosts map[compiler.HostKey]bool
	// worldKey and world are the entry's (world nil for none).
	worldKey compiler.WorldKey
	world    []byte
	// hits counts the services given, worlds the worlds (for the
	// tests).
	hits, worlds atomic.Int64
}

// loadMemo reads the service memo of key; an empty one when there is
// none to trust.
func (c *Cache) loadMemo(key [sha256.Size]byte) *serviceMemo {
	m := &serviceMemo{}
	var e memoEntry
	if !c.loadInto(key, &e) || len(e.Keys) != len(e.Services) {
		return m
	}
	m.index = make(map[compiler.ServiceKey]int, len(e.Keys))
	for i, k := range e.Keys {
		m.index[k] = i
	}
	m.raw = e.Services
	m.files = make(map[[sha256.Size]byte]*compiler.FileServices, len(e.Files))
	for i := range e.Files {
		f := &e.Files[i]
		if len(f.Names) != len(f.Digests) {
			return &serviceMemo{}
		}
		m.files[f.Sum] = &f.FileServices
	}
	m.worldKey, m.world = e.WorldKey, e.World
	m.hosts = make(map[compiler.HostKey]bool, len(e.Hosts))
	for _, k := range e.Hosts {
		m.hosts[k] = true
	}
	return m
}

// World decodes the world kept under k, or returns nil when there is
// none or it does not decode to exactly its bytes.
func (m *serviceMemo) World(k compiler.WorldKey) *compiler.World {
	if m.world == nil || k != m.worldKey {
		return nil
	}
	w := new(compiler.World)
	if decodeAll(m.world, w) != nil {
		return nil
	}
	m.worlds.Add(1)
	return w
}

// Host reports whether the memo knows the host of key k to build without
// a conflict.
func (m *serviceMemo) Host(k compiler.HostKey) bool { return m.hosts[k] }

// File returns what the memo holds of a file of these bytes, or nil.
func (m *serviceMemo) File(sum [sha256.Size]byte) *compiler.FileServices {
	return m.files[sum]
}

// Service decodes the model kept under k, or returns nil when there is
// none or it does not decode to exactly its bytes.
func (m *serviceMemo) Service(k compiler.ServiceKey) *model.Service {
	i, ok := m.index[k]
	if !ok {
		return nil
	}
	s := new(model.Service)
	if decodeAll(m.raw[i], s) != nil {
		return nil
	}
	m.hits.Add(1)
	return s
}

// storeMemo replaces the memo of key with the services of res, a valid
// compile that was given old: the encoding old holds for a key is kept,
// the others are encoded. Nothing is written when res's services are
// those old holds.
func (c *Cache) storeMemo(key [sha256.Size]byte, old *serviceMemo, res *compiler.Result) {
	keys := res.ServiceKeys()
	if len(keys) < memoMinServices {
		return
	}
	svcs := slices.DeleteFunc(slices.Clone(res.Config.Services), func(s *model.Service) bool {
		_, ok := keys[s.Name]
		return !ok
	})
	e := memoEntry{Keys: make([][sha256.Size]byte, len(svcs)), Services: make([][]byte, len(svcs))}
	var fresh atomic.Int64
	// Services are encoded on every core: after the first compile, all
	// of them (a tenth of a second at 10,000 on one).
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(svcs); i += workers {
				k := keys[svcs[i].Name]
				e.Keys[i] = k
				if j, ok := old.index[k]; ok {
					e.Services[i] = old.raw[j]
					continue
				}
				fresh.Add(1)
				b, err := encodeAll(svcs[i])
				if err != nil {
					// Not kept: the entry is still whole and
					// right, without this service.
					continue
				}
				e.Services[i] = b
			}
		})
	}
	wg.Wait()
	files := res.FileServices()
	sameFiles := len(files) == len(old.files)
	for sum, fs := range files {
		if old.files[sum] == nil {
			sameFiles = false
		}
		e.Files = append(e.Files, memoFile{Sum: sum, FileServices: *fs})
	}
	// In the order of the files' sums: the same memo, the same bytes.
	slices.SortFunc(e.Files, func(a, b memoFile) int { return bytes.Compare(a.Sum[:], b.Sum[:]) })
	sameWorld := true
	if wk, w := res.World(); w != nil {
		if wk != old.worldKey || old.world == nil {
			sameWorld = false
			if b, err := encodeAll(w); err == nil {
				e.WorldKey, e.World = wk, b
			}
		} else {
			e.WorldKey, e.World = old.worldKey, old.world
		}
	} else if old.world != nil {
		sameWorld = false
	}
	sameHosts := len(res.HostKeys()) == len(old.hosts)
	for _, k := range res.HostKeys() {
		if !old.hosts[k] {
			sameHosts = false
		}
		e.Hosts = append(e.Hosts, k)
	}
	if fresh.Load() == 0 && len(svcs) == len(old.index) && sameFiles && sameHosts && sameWorld {
		return
	}
	for i := len(svcs) - 1; i >= 0; i-- {
		if e.Services[i] == nil {
			e.Keys = slices.Delete(e.Keys, i, i+1)
			e.Services = slices.Delete(e.Services, i, i+1)
		}
	}
	c.storeValue(key, &e)
}
