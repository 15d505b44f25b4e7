package compilecache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/safefile"
	"github.com/lvsgen/lvsgen/model"
)

// Default bounds of a cache: past either, the least recently used
// entries are deleted after a store. An entry of the 10,000 × 10
// generated config is about 25 MB.
const (
	DefaultMaxBytes   = 256 << 20
	DefaultMaxEntries = 64
)

// RootDir is the cache of root: beside the state in /var/lib/lvsgen, in
// the place the FHS gives data that can be deleted at any time.
const RootDir = "/var/cache/lvsgen"

// Dir says where the cache lives: $LVSGEN_CACHE_DIR when set; else
// RootDir for root; else lvsgen below the user's cache directory
// ($XDG_CACHE_HOME, else ~/.cache: os.UserCacheDir), which is where a CI
// job's user keeps it. An error when none can be found (no $HOME).
func Dir() (string, error) {
	if d := os.Getenv("LVSGEN_CACHE_DIR"); d != "" {
		return d, nil
	}
	if os.Geteuid() == 0 {
		return RootDir, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "lvsgen"), nil
}

// Disabled reports whether $LVSGEN_CACHE is "off", as --no-cache.
func Disabled() bool { return os.Getenv("LVSGEN_CACHE") == "off" }

// A Cache is a directory of compiled configs.
type Cache struct {
	dir string
	// MaxBytes and MaxEntries bound the directory.
	MaxBytes   int64
	MaxEntries int
}

// Open returns the cache in dir, making dir (mode 0700) when missing.
// The directory must be private — a directory, not a link to one, owned
// by the effective user and writable by no one else
// (safefile.CheckPrivateDir) — since an entry is a compiled config that
// apply programs the kernel from without reading the config again:
// whoever can write the cache reprograms the balancer. Open refuses any
// other directory, and the caller compiles without a cache.
func Open(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("making the compile cache: %w", err)
	}
	if err := safefile.CheckPrivateDir(dir); err != nil {
		return nil, fmt.Errorf("compile cache: %w", err)
	}
	return &Cache{dir: dir, MaxBytes: DefaultMaxBytes, MaxEntries: DefaultMaxEntries}, nil
}

// magic starts every entry; its number changes with the entry's layout.
const magic = "lvsgen compile cache 1\n"

// entry is what an entry holds: the result of a valid compile and the
// policy files it read, which the key does not cover.
type entry struct {
	// Deps are the policy files read from Result.PolicyDirs, sorted by
	// name, each with the SHA-256 of its bytes.
	Deps        []dep
	Config      *model.Config
	Hosts       map[string]*hoststate.Host
	Diagnostics diag.List
	Files       []string
	Rules       []compiler.Rule
	PolicyDirs  []string
}

type dep struct {
	Name string
	Sum  [sha256.Size]byte
}

// Compile returns what compiler.CompileWith(dir, opts) returns, from the
// cache when an entry holds the compile of the same build of lvsgen, the
// same options and config files of the same names and bytes, and policy
// directories whose .cue files are those it read; hit says which. A valid
// result compiled here is stored for the next time; an invalid one is
// not (its diagnostics are for someone editing the config, and the next
// compile sees another config). The cache never fails a compile: an
// entry that cannot be read, is corrupt, truncated, or another key's, is
// ignored and overwritten, and a store that fails is skipped.
func (c *Cache) Compile(dir string, opts compiler.Options) (res *compiler.Result, hit bool, err error) {
	files, err := compiler.ConfigFiles(dir)
	if err != nil || len(files) == 0 {
		res, err := compiler.CompileWith(dir, opts)
		return res, false, err
	}
	if opts.CheckPermissions {
		// Before a hit as before a compile: a config others can
		// change is refused either way.
		if err := safefile.CheckPermissions(dir, files); err != nil {
			return nil, false, err
		}
	}
	rootRead, done, err := compiler.ReadConfigFiles(dir)
	if err != nil {
		res, err := compiler.CompileWith(dir, opts)
		return res, false, err
	}
	defer done()
	snap := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := rootRead(f)
		if err != nil {
			// The compile reports it where it belongs.
			res, err := compiler.CompileWith(dir, opts)
			return res, false, err
		}
		snap[f] = b
	}
	build, err := BuildID()
	if err != nil {
		res, err := compiler.CompileWith(dir, opts)
		return res, false, err
	}
	key := Key(build, dir, opts, files, snap)
	read := func(name string) ([]byte, error) {
		if within(dir, name) {
			return rootRead(name)
		}
		return safefile.ReadFile(name, safefile.MaxConfigFile)
	}
	if e := c.load(key, read); e != nil {
		return &compiler.Result{Config: e.Config, Hosts: e.Hosts, Diagnostics: e.Diagnostics, Files: e.Files, Rules: e.Rules, PolicyDirs: e.PolicyDirs}, true, nil
	}

	// Compile the bytes that were hashed; record what is read, for the
	// policy files among it.
	var mu sync.Mutex
	var reads []dep
	opts.ReadFile = func(name string) ([]byte, error) {
		b, ok := snap[name]
		if !ok {
			var err error
			if b, err = read(name); err != nil {
				return nil, err
			}
		}
		mu.Lock()
		reads = append(reads, dep{Name: name, Sum: sha256.Sum256(b)})
		mu.Unlock()
		return b, nil
	}
	res, err = compiler.CompileWith(dir, opts)
	if err != nil || !res.Valid() {
		return res, false, err
	}
	var deps []dep
	for _, d := range reads {
		switch {
		case slices.Contains(res.PolicyDirs, filepath.Dir(d.Name)):
			deps = append(deps, d)
		case !inSnap(snap, d.Name):
			// A config file that appeared during the compile: the
			// result is not that of the files hashed.
			return res, false, nil
		}
	}
	slices.SortFunc(deps, func(a, b dep) int { return strings.Compare(a.Name, b.Name) })
	deps = slices.CompactFunc(deps, func(a, b dep) bool { return a == b })
	c.store(key, &entry{Deps: deps, Config: res.Config, Hosts: res.Hosts, Diagnostics: res.Diagnostics, Files: res.Files, Rules: res.Rules, PolicyDirs: res.PolicyDirs})
	return res, false, nil
}

func inSnap(snap map[string][]byte, name string) bool {
	_, ok := snap[name]
	return ok
}

// within reports whether name lies below dir.
func within(dir, name string) bool {
	rel, err := filepath.Rel(dir, name)
	return err == nil && filepath.IsLocal(rel)
}

// Key is the cache key of a compile: the SHA-256 of the build, the
// config directory as named, the options that change the result, and
// every config file's name and bytes, each length-prefixed so that no two
// inputs run together into the same stream.
func Key(build, dir string, opts compiler.Options, files []string, data map[string][]byte) [sha256.Size]byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	put := func(b []byte) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	put([]byte(magic))
	put([]byte(build))
	put([]byte(dir))
	perms := "0"
	if opts.CheckPermissions {
		perms = "1"
	}
	put([]byte(perms))
	put([]byte(fmt.Sprint(len(opts.PolicyDirs))))
	for _, d := range opts.PolicyDirs {
		put([]byte(d))
	}
	put([]byte(fmt.Sprint(len(files))))
	for _, f := range files {
		put([]byte(f))
		put(data[f])
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *Cache) path(key [sha256.Size]byte) string {
	return filepath.Join(c.dir, hex.EncodeToString(key[:]))
}

// load returns the entry of key, or nil when there is none to trust:
// missing, unreadable, of another layout or key, failing its checksum,
// not decoding to exactly its length, or whose policy files changed.
func (c *Cache) load(key [sha256.Size]byte, read func(string) ([]byte, error)) *entry {
	path := c.path(key)
	b, err := safefile.ReadFile(path, c.MaxBytes)
	if err != nil {
		return nil
	}
	e, err := decodeEntry(b, key)
	if err != nil || !depsUnchanged(e, read) {
		return nil
	}
	// The least recently used go first when the cache is full.
	now := time.Now()
	_ = os.Chtimes(path, now, now)
	return e
}

// encodeEntry lays out an entry: magic, key, the SHA-256 of the payload,
// the payload.
func encodeEntry(key [sha256.Size]byte, e *entry) ([]byte, error) {
	enc := encoder{buf: make([]byte, 0, 1<<20)}
	if err := enc.encode(reflect.ValueOf(e).Elem()); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(enc.buf)
	out := make([]byte, 0, len(magic)+2*sha256.Size+len(enc.buf))
	out = append(out, magic...)
	out = append(out, key[:]...)
	out = append(out, sum[:]...)
	return append(out, enc.buf...), nil
}

// decodeEntry reads an entry encodeEntry laid out for key.
func decodeEntry(b []byte, key [sha256.Size]byte) (*entry, error) {
	head := len(magic) + 2*sha256.Size
	if len(b) < head || string(b[:len(magic)]) != magic {
		return nil, errors.New("not an entry of this layout")
	}
	if !bytes.Equal(b[len(magic):len(magic)+sha256.Size], key[:]) {
		return nil, errors.New("another key's entry")
	}
	payload := b[head:]
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], b[len(magic)+sha256.Size:head]) {
		return nil, errors.New("checksum mismatch")
	}
	e := new(entry)
	d := decoder{buf: payload}
	if err := d.decode(reflect.ValueOf(e).Elem()); err != nil {
		return nil, err
	}
	if d.off != len(payload) {
		return nil, errors.New("bytes after the entry")
	}
	return e, nil
}

// depsUnchanged reports whether every policy directory of e holds the
// .cue files it held, with the same bytes: the files the compile read
// (compiler's loadPacks reads every entry of the directory named *.cue
// that is not a directory).
func depsUnchanged(e *entry, read func(string) ([]byte, error)) bool {
	var now []dep
	for _, d := range e.PolicyDirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			return false
		}
		for _, de := range ents {
			if de.IsDir() || !strings.HasSuffix(de.Name(), ".cue") {
				continue
			}
			name := filepath.Join(d, de.Name())
			b, err := read(name)
			if err != nil {
				return false
			}
			now = append(now, dep{Name: name, Sum: sha256.Sum256(b)})
		}
	}
	slices.SortFunc(now, func(a, b dep) int { return strings.Compare(a.Name, b.Name) })
	return slices.Equal(now, e.Deps)
}

// store writes e under key — to a temporary file renamed into place, so
// that a reader sees a whole entry or none — and then bounds the cache.
// A failure leaves the cache as it was: it is only a cache.
func (c *Cache) store(key [sha256.Size]byte, e *entry) {
	b, err := encodeEntry(key, e)
	if err != nil || int64(len(b)) > c.MaxBytes {
		return
	}
	f, err := os.CreateTemp(c.dir, tmpPrefix+"*")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	if cerr := f.Close(); werr != nil || cerr != nil {
		_ = os.Remove(f.Name())
		return
	}
	if err := os.Rename(f.Name(), c.path(key)); err != nil {
		_ = os.Remove(f.Name())
		return
	}
	c.evict()
}

// tmpPrefix starts the name of an entry being written.
const tmpPrefix = ".tmp-"

// evict deletes the least recently used entries beyond MaxEntries or
// MaxBytes, and temporary files a killed process left over an hour ago.
func (c *Cache) evict() {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type file struct {
		name string
		size int64
		used time.Time
	}
	var files []file
	for _, de := range ents {
		if !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(de.Name(), tmpPrefix):
			if time.Since(fi.ModTime()) > time.Hour {
				_ = os.Remove(filepath.Join(c.dir, de.Name()))
			}
		case isKey(de.Name()):
			files = append(files, file{de.Name(), fi.Size(), fi.ModTime()})
		}
	}
	slices.SortFunc(files, func(a, b file) int { return b.used.Compare(a.used) })
	var total int64
	for i, f := range files {
		total += f.size
		if i >= c.MaxEntries || total > c.MaxBytes {
			_ = os.Remove(filepath.Join(c.dir, f.name))
		}
	}
}

// isKey reports whether name is an entry's: a key in hex.
func isKey(name string) bool {
	if len(name) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil
}
