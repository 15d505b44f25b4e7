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
// generated config is about 15 MB, its director's part under 2 MB;
// most hosts' parts are a few kilobytes, and every host planned from a
// config adds one, hence room for many entries.
const (
	DefaultMaxBytes   = 256 << 20
	DefaultMaxEntries = 256
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
const magic = "lvsgen compile cache 3\n"

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

// hostEntry is what a host's entry holds: the part of a valid compile
// that plan and apply of that one host read (CompileHost). It is a
// fraction of the whole entry, which holds every host's state and the
// model, and reading and decoding the whole one was most of a cached
// plan of a large config.
type hostEntry struct {
	Deps        []dep
	PolicyDirs  []string
	Diagnostics diag.List
	Host        *hoststate.Host
	Declared    bool
}

// result is the compile's result the entry holds.
func (e *entry) result() *compiler.Result {
	return &compiler.Result{Config: e.Config, Hosts: e.Hosts, Diagnostics: e.Diagnostics, Files: e.Files, Rules: e.Rules, PolicyDirs: e.PolicyDirs}
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
	l, res, err := c.lookup(dir, opts)
	if l == nil {
		return res, false, err
	}
	defer func() { _ = l.done() }()
	if e := c.load(l.key, l.read); e != nil {
		return e.result(), true, nil
	}
	res, _, err = l.compile("")
	return res, false, err
}

// HostResult is the part of a compile that plan and apply of one host
// need.
type HostResult struct {
	// Diagnostics are the compile's, all of them: an error anywhere
	// stops plan and apply of every host.
	Diagnostics diag.List
	// Host is the host's desired state; nil when the config does not
	// manage it.
	Host *hoststate.Host
	// Declared says whether the config declares the host (managed or
	// not), for the error that says which.
	Declared bool

	valid bool
}

// Valid reports whether the compile was valid (compiler.Result.Valid).
func (r *HostResult) Valid() bool { return r.valid }

// CompileHost is Compile for one host: from the host's own entry when
// there is one (a fraction of the whole config's), else from the whole
// entry or a compile, after which the host's entry is stored (and only
// it, after a compile).
// Entries are trusted, missed and bounded as Compile's; a host entry's
// key is derived from the whole entry's and the host's name.
func (c *Cache) CompileHost(dir string, opts compiler.Options, host string) (res *HostResult, hit bool, err error) {
	l, full, err := c.lookup(dir, opts)
	if l == nil {
		if err != nil {
			return nil, false, err
		}
		return HostOf(full, host), false, nil
	}
	defer func() { _ = l.done() }()
	hkey := hostKey(l.key, host)
	var he hostEntry
	if c.loadInto(hkey, &he) && depsUnchanged(he.PolicyDirs, he.Deps, l.read) {
		return &HostResult{Diagnostics: he.Diagnostics, Host: he.Host, Declared: he.Declared, valid: true}, true, nil
	}
	var deps []dep
	if e := c.load(l.key, l.read); e != nil {
		full, deps, hit = e.result(), e.Deps, true
	} else {
		// The host's part alone is stored: plan and apply of a host
		// read nothing else, and the whole entry (15 MB at 10,000
		// services, half a second to write) would only serve a render
		// or another host's plan, which compile or store it themselves.
		if full, deps, err = l.compile(host); err != nil {
			return nil, false, err
		}
		if deps == nil {
			// Not stored (invalid, or the config changed during
			// the compile): neither is the host's part.
			return HostOf(full, host), false, nil
		}
	}
	res = HostOf(full, host)
	c.storeValue(hkey, &hostEntry{Deps: deps, PolicyDirs: full.PolicyDirs, Diagnostics: res.Diagnostics, Host: res.Host, Declared: res.Declared})
	return res, hit, nil
}

// HostOf is the part of res for host.
func HostOf(res *compiler.Result, host string) *HostResult {
	hr := &HostResult{Diagnostics: res.Diagnostics, valid: res.Valid()}
	if res.Config != nil {
		_, hr.Declared = res.Config.Hosts[host]
	}
	hr.Host = res.Hosts[host]
	return hr
}

// hostKey is the key of host's entry in the compile of key.
func hostKey(key [sha256.Size]byte, host string) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(magic))
	h.Write([]byte("host\n"))
	h.Write(key[:])
	h.Write([]byte(host))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// lookup is what a compile through the cache starts with: the config
// files read once and hashed into the key. It returns nil and the
// compile's result when the cache cannot serve this compile (no files,
// unreadable ones, no build ID), so the caller returns that.
func (c *Cache) lookup(dir string, opts compiler.Options) (*lookup, *compiler.Result, error) {
	files, err := compiler.ConfigFiles(dir)
	if err != nil || len(files) == 0 {
		res, err := compiler.CompileWith(dir, opts)
		return nil, res, err
	}
	if opts.CheckPermissions {
		// Before a hit as before a compile: a config others can
		// change is refused either way.
		if err := safefile.CheckPermissions(dir, files); err != nil {
			return nil, nil, err
		}
	}
	rootRead, done, err := compiler.ReadConfigFiles(dir)
	if err != nil {
		res, err := compiler.CompileWith(dir, opts)
		return nil, res, err
	}
	snap := make(map[string][]byte, len(files))
	sums := make(map[string][sha256.Size]byte, len(files))
	for _, f := range files {
		b, err := rootRead(f)
		if err != nil {
			_ = done()
			// The compile reports it where it belongs.
			res, err := compiler.CompileWith(dir, opts)
			return nil, res, err
		}
		snap[f], sums[f] = b, sha256.Sum256(b)
	}
	build, err := BuildID()
	if err != nil {
		_ = done()
		res, err := compiler.CompileWith(dir, opts)
		return nil, res, err
	}
	// The config's files are read once, through the directory's root:
	// the compile sees the bytes hashed. Others (policies) as any file.
	read := func(name string) ([]byte, error) {
		if b, ok := snap[name]; ok {
			return b, nil
		}
		if within(dir, name) {
			return rootRead(name)
		}
		return safefile.ReadFile(name, safefile.MaxConfigFile)
	}
	return &lookup{c: c, dir: dir, opts: opts, key: Key(build, dir, opts, files, sums), memoKey: memoKey(build, dir), snap: snap, sums: sums, read: read, done: done}, nil, nil
}

// lookup is one compile's way through the cache.
type lookup struct {
	c    *Cache
	dir  string
	opts compiler.Options
	key  [sha256.Size]byte
	// memoKey is the key of the directory's service memo (memo.go).
	memoKey [sha256.Size]byte
	// snap are the config files' bytes, whose SHA-256 sums are hashed
	// into key: each file is hashed once, and the compile is given the
	// sums (compiler.Options.Sums).
	snap map[string][]byte
	sums map[string][sha256.Size]byte
	// read reads a policy file (or returns a config file's snapshot).
	read func(string) ([]byte, error)
	// done closes the config directory's root, which read uses.
	done func() error
}

// compile compiles the bytes that were hashed, with the directory's
// service memo, which it then replaces. It returns the result with the
// policy files the compile read (deps), nil when a valid result could
// not be stored (a config file appeared meanwhile). A compile of the
// whole (host "") stores a valid result under the key; one for a host
// (CompileHost, which stores the host's part) stores nothing of the
// whole, which may lack other hosts' states (compiler.Options.Host).
func (l *lookup) compile(host string) (*compiler.Result, []dep, error) {
	// Record what is read, for the policy files among it (hashed
	// once the compile says which they are).
	type fileRead struct {
		name string
		data []byte
	}
	var mu sync.Mutex
	var reads []fileRead
	opts := l.opts
	opts.ReadFile = func(name string) ([]byte, error) {
		b, err := l.read(name)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		reads = append(reads, fileRead{name, b})
		mu.Unlock()
		return b, nil
	}
	opts.Sums = l.sums
	memo := l.c.loadMemo(l.memoKey)
	opts.Memo, opts.Host = memo, host
	res, err := compiler.CompileWith(l.dir, opts)
	memoUsed(memo)
	if err != nil || !res.Valid() {
		return res, nil, err
	}
	deps := []dep{}
	for _, r := range reads {
		switch {
		case slices.Contains(res.PolicyDirs, filepath.Dir(r.name)):
			deps = append(deps, dep{Name: r.name, Sum: sha256.Sum256(r.data)})
		case !inSnap(l.snap, r.name):
			// A config file that appeared during the compile: the
			// result is not that of the files hashed.
			return res, nil, nil
		}
	}
	slices.SortFunc(deps, func(a, b dep) int { return strings.Compare(a.Name, b.Name) })
	deps = slices.CompactFunc(deps, func(a, b dep) bool { return a == b })
	l.c.storeMemo(l.memoKey, memo, res)
	if host == "" {
		l.c.store(l.key, &entry{Deps: deps, Config: res.Config, Hosts: res.Hosts, Diagnostics: res.Diagnostics, Files: res.Files, Rules: res.Rules, PolicyDirs: res.PolicyDirs})
	}
	return res, deps, nil
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
// every config file's name and the SHA-256 of its bytes (sums), each
// length-prefixed so that no two inputs run together into the same
// stream.
func Key(build, dir string, opts compiler.Options, files []string, sums map[string][sha256.Size]byte) [sha256.Size]byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	put := func(b []byte) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	put([]byte(magic))
	put([]byte(build))
	put([]byte(dir))
	// opts.CheckPermissions is not part of the key: it gates the compile
	// (Compile checks before a hit as before a compile) and never changes
	// the result, so plan (which does not check) warms the cache for
	// apply (which does).
	put([]byte(fmt.Sprint(len(opts.PolicyDirs))))
	for _, d := range opts.PolicyDirs {
		put([]byte(d))
	}
	put([]byte(fmt.Sprint(len(files))))
	for _, f := range files {
		sum := sums[f]
		put([]byte(f))
		put(sum[:])
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
	e := new(entry)
	if !c.loadInto(key, e) || !depsUnchanged(e.PolicyDirs, e.Deps, read) {
		return nil
	}
	return e
}

// loadInto decodes the entry of key into v (a pointer to an entry type)
// and reports whether there was one to trust; see load.
func (c *Cache) loadInto(key [sha256.Size]byte, v any) bool {
	path := c.path(key)
	b, err := safefile.ReadFile(path, c.MaxBytes)
	if err != nil {
		return false
	}
	if err := decodeEntry(b, key, v); err != nil {
		return false
	}
	// The least recently used go first when the cache is full.
	now := time.Now()
	_ = os.Chtimes(path, now, now)
	return true
}

// encodeEntry lays out an entry: magic, key, the SHA-256 of the payload,
// the payload. The header is written into the buffer's start once the
// payload is encoded after it, so the entry is never copied.
func encodeEntry(key [sha256.Size]byte, v any) ([]byte, error) {
	head := len(magic) + 2*sha256.Size
	enc := encoder{buf: make([]byte, head, head+64<<10)}
	if err := enc.encode(reflect.ValueOf(v).Elem()); err != nil {
		return nil, err
	}
	b := enc.buf
	sum := sha256.Sum256(b[head:])
	copy(b, magic)
	copy(b[len(magic):], key[:])
	copy(b[len(magic)+sha256.Size:], sum[:])
	return b, nil
}

// decodeEntry reads an entry encodeEntry laid out for key into v, a
// pointer to a value of the type encoded.
func decodeEntry(b []byte, key [sha256.Size]byte, v any) error {
	head := len(magic) + 2*sha256.Size
	if len(b) < head || string(b[:len(magic)]) != magic {
		return errors.New("not an entry of this layout")
	}
	if !bytes.Equal(b[len(magic):len(magic)+sha256.Size], key[:]) {
		return errors.New("another key's entry")
	}
	payload := b[head:]
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], b[len(magic)+sha256.Size:head]) {
		return errors.New("checksum mismatch")
	}
	return decodeAll(payload, v)
}

// depsUnchanged reports whether every policy directory of an entry holds
// the .cue files it held (deps), with the same bytes: the files the
// compile read (compiler's loadPacks reads every entry of the directory
// named *.cue that is not a directory).
func depsUnchanged(policyDirs []string, deps []dep, read func(string) ([]byte, error)) bool {
	var now []dep
	for _, d := range policyDirs {
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
	return slices.Equal(now, deps)
}

// store writes e under key — to a temporary file renamed into place, so
// that a reader sees a whole entry or none — and then bounds the cache.
// A failure leaves the cache as it was: it is only a cache.
func (c *Cache) store(key [sha256.Size]byte, e *entry) { c.storeValue(key, e) }

// storeValue is store of any entry type (v a pointer to it).
func (c *Cache) storeValue(key [sha256.Size]byte, v any) {
	b, err := encodeEntry(key, v)
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
