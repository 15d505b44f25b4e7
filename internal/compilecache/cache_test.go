package compilecache

import (
	"crypto/sha256"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/gen"
)

// configs are the directories the round trip is tested on: the bundled
// example, one with sync daemons and an active-active cluster, the e2e
// suites' configs (every mode, family and tunnel kind) and a generated
// one.
func configs(t *testing.T) []string {
	dirs := []string{filepath.Join("..", "..", "examples"), filepath.Join("testdata", "failover")}
	for _, pattern := range []string{"../../e2e/compile/testdata/*", "../../e2e/compile/testdata/oracle/*"} {
		m, _ := filepath.Glob(pattern)
		for _, d := range m {
			if files, _ := filepath.Glob(filepath.Join(d, "*.cue")); len(files) > 0 {
				dirs = append(dirs, d)
			}
		}
	}
	generated := t.TempDir()
	if err := gen.Write(generated, 50, 10); err != nil {
		t.Fatal(err)
	}
	return append(dirs, generated)
}

// resultDiff compares two results as a caller sees them: every exported
// field, nil and empty told apart.
func resultDiff(want, got *compiler.Result) string {
	return cmp.Diff(want, got, cmpopts.IgnoreUnexported(compiler.Result{}), cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{}))
}

// keyOf is the key of the compile of dir with no options, from the
// files as they are now.
func keyOf(t *testing.T, dir string) [sha256.Size]byte {
	t.Helper()
	files, err := compiler.ConfigFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string][sha256.Size]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sums[f] = sha256.Sum256(b)
	}
	build, err := BuildID()
	if err != nil {
		t.Fatal(err)
	}
	return Key(build, dir, compiler.Options{}, files, sums)
}

func newCache(t *testing.T) *Cache {
	t.Helper()
	c, err := Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// compileValid compiles dir, skipping the test when the config is
// invalid: only valid configs are cached.
func compileValid(t *testing.T, dir string) *compiler.Result {
	t.Helper()
	want, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !want.Valid() {
		t.Skipf("%s is not valid: not cached", dir)
	}
	return want
}

// TestRoundTrip compiles each config through the cache twice — a miss
// that stores, then a hit that loads — and requires both to equal a fresh
// compile exactly, and the JSON renderings of every host to be the same
// bytes.
func TestRoundTrip(t *testing.T) {
	c := newCache(t)
	for _, dir := range configs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want := compileValid(t, dir)
			for _, got := range missThenHit(t, c, dir, want) {
				for name, h := range want.Hosts {
					var a, b []byte
					a, _ = jsonOf(h)
					b, _ = jsonOf(got.Hosts[name])
					if string(a) != string(b) {
						t.Errorf("host %s: JSON differs after the cache", name)
					}
				}
			}
		})
	}
}

// missThenHit compiles dir through c twice, with no options, and
// requires a miss (which stores), then a hit, each equal to want; it
// returns the two results.
func missThenHit(t *testing.T, c *Cache, dir string, want *compiler.Result) []*compiler.Result {
	t.Helper()
	var out []*compiler.Result
	for i, wantHit := range []bool{false, true} {
		got, hit, err := c.Compile(dir, compiler.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if hit != wantHit {
			t.Fatalf("compile %d: hit %v, want %v", i, hit, wantHit)
		}
		if d := resultDiff(want, got); d != "" {
			t.Fatalf("compile %d (hit %v) (-want +got):\n%s", i, hit, d)
		}
		out = append(out, got)
	}
	return out
}

func jsonOf(h *hoststate.Host) ([]byte, error) {
	f := new(stringsBuilder)
	err := hoststate.WriteJSON(f, h)
	return f.b, err
}

type stringsBuilder struct{ b []byte }

func (s *stringsBuilder) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }

// TestCodecNilAndEmpty: what gob would lose.
func TestCodecNilAndEmpty(t *testing.T) {
	type inner struct {
		S  []string
		M  map[string]int
		P  *int
		A  netip.Addr
		AP netip.AddrPort
		X  any
		D  time.Duration
	}
	zero := 0
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	for _, in := range []inner{
		{},
		{S: []string{}, M: map[string]int{}, P: &zero, X: map[string]any{}},
		{S: []string{"a", ""}, M: map[string]int{"x": -1}, A: netip.MustParseAddr("2001:db8::1"), AP: netip.MustParseAddrPort("10.0.0.1:80"),
			X: map[string]any{"n": nil, "i": int64(-3), "f": 1.5, "b": true, "s": "x", "l": []any{}, "big": big1, "bytes": []byte{}}, D: time.Second},
	} {
		var e encoder
		if err := e.encode(reflect.ValueOf(in)); err != nil {
			t.Fatal(err)
		}
		var out inner
		d := decoder{buf: e.buf}
		if err := d.decode(reflect.ValueOf(&out).Elem()); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(in, out, cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{}), cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if d.off != len(e.buf) {
			t.Errorf("decoded %d of %d bytes", d.off, len(e.buf))
		}
	}
	var e encoder
	if err := e.encode(reflect.ValueOf(struct{ x int }{})); err == nil {
		t.Error("an unexported field was encoded")
	}
	if err := e.encode(reflect.ValueOf(struct{ X any }{X: struct{}{}})); err == nil {
		t.Error("an unknown type in an any was encoded")
	}
}

// list refers to itself: a codec is made once per type, so a type that
// holds a pointer to itself must find its own codec while it is made.
type list struct {
	V    int
	Next *list
}

// TestCodecKinds: every kind the codec writes, at its bounds, through
// named types, maps of structs and a type that refers to itself, reads
// back the same; a number too large for the type read into is refused;
// and a type the codec refuses is refused only when a value of it is
// met.
func TestCodecKinds(t *testing.T) {
	type small uint8
	type named string
	type point struct {
		X int16
		Y small
	}
	type kinds struct {
		B    bool
		I8   int8
		I16  int16
		I32  int32
		I64  int64
		I    int
		U8   uint8
		U16  uint16
		U32  uint32
		U64  uint64
		UP   uintptr
		F32  float32
		F64  float64
		N    named
		L    *list
		M    map[point]point
		MA   map[netip.Addr][]string
		AP   [2]point
		PP   **int
		Pre  netip.Prefix
		Skip *struct{ x int }
	}
	seven := 7
	pseven := &seven
	for _, in := range []kinds{
		{},
		{B: true, I8: -128, I16: -32768, I32: -1 << 31, I64: -1 << 63, I: -1, U8: 255, U16: 65535, U32: 1<<32 - 1, U64: 1<<64 - 1, UP: 42,
			F32: -1.5, F64: 1e300, N: "x", L: &list{V: 1, Next: &list{V: 2}}, M: map[point]point{{1, 2}: {-3, 4}},
			MA: map[netip.Addr][]string{netip.MustParseAddr("10.0.0.1"): {"a"}, netip.MustParseAddr("::1"): nil}, AP: [2]point{{5, 6}, {-7, 8}},
			PP: &pseven, Pre: netip.MustParsePrefix("10.1.0.0/16")},
		{I8: 127, I16: 32767, I32: 1<<31 - 1, I64: 1<<63 - 1, M: map[point]point{}, MA: map[netip.Addr][]string{}},
	} {
		var e encoder
		if err := e.encode(reflect.ValueOf(&in).Elem()); err != nil {
			t.Fatal(err)
		}
		var out kinds
		if err := decodeAll(e.buf, &out); err != nil {
			t.Fatalf("%+v: %v", in, err)
		}
		if diff := cmp.Diff(in, out, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}
	for _, c := range []struct {
		in  any
		out any
	}{
		{int64(128), new(int8)},
		{int64(-129), new(int8)},
		{int64(1 << 40), new(int32)},
		{uint64(256), new(uint8)},
		{uint64(1 << 16), new(small)},
		{uint64(1 << 32), new(uint32)},
	} {
		var e encoder
		if err := e.encode(reflect.ValueOf(c.in)); err != nil {
			t.Fatal(err)
		}
		if err := decodeAll(e.buf, c.out); err == nil {
			t.Errorf("%v read into %T as %v", c.in, c.out, reflect.ValueOf(c.out).Elem())
		}
	}
	var e encoder
	if err := e.encode(reflect.ValueOf(kinds{Skip: &struct{ x int }{}})); err == nil {
		t.Error("a struct with an unexported field was encoded")
	}
}

// TestCodecEndsWithBytes: a value whose encoding ends with the bytes of
// a []byte (a service memo's last service) decodes; the length check
// once counted the slice's length marker as a byte it must be followed
// by, and refused it.
func TestCodecEndsWithBytes(t *testing.T) {
	type last struct {
		N int
		B []byte
	}
	type nested struct {
		L [][]byte
	}
	type arrays struct {
		I [2]int16
		K [][3]byte
		A [3]byte
	}
	for _, in := range []any{
		&last{N: 1, B: []byte("abc")},
		&last{B: []byte{}},
		&nested{L: [][]byte{[]byte("x"), []byte("yz")}},
		&nested{L: [][]byte{{}}},
		&arrays{I: [2]int16{-1, 300}, K: [][3]byte{{1, 2, 3}, {255, 0, 128}}, A: [3]byte{9, 8, 7}},
	} {
		var e encoder
		if err := e.encode(reflect.ValueOf(in).Elem()); err != nil {
			t.Fatal(err)
		}
		out := reflect.New(reflect.TypeOf(in).Elem())
		d := decoder{buf: e.buf}
		if err := d.decode(out.Elem()); err != nil {
			t.Fatalf("%+v: %v", in, err)
		}
		if diff := cmp.Diff(in, out.Interface()); diff != "" || d.off != len(e.buf) {
			t.Errorf("%+v: decoded %d of %d bytes (-want +got):\n%s", in, d.off, len(e.buf), diff)
		}
	}
	// A count past the bytes left is still refused.
	d := decoder{buf: []byte{5, 'a', 'b'}}
	var b []byte
	if err := d.decode(reflect.ValueOf(&b).Elem()); err == nil {
		t.Errorf("a slice of 4 bytes read from 2: %q", b)
	}
}

// TestBadEntries: an entry that is truncated, flipped, another key's or
// of another layout is ignored — the compile runs and its result
// overwrites the entry, which then hits.
func TestBadEntries(t *testing.T) {
	dir := filepath.Join("..", "..", "examples")
	want, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		spoil func(b []byte, other []byte) []byte
	}{
		{"truncated", func(b, _ []byte) []byte { return b[:len(b)/2] }},
		{"empty", func(b, _ []byte) []byte { return nil }},
		{"flipped byte in the payload", func(b, _ []byte) []byte { b[len(b)-10] ^= 1; return b }},
		{"flipped byte in the checksum", func(b, _ []byte) []byte { b[len(magic)+sha256.Size] ^= 1; return b }},
		{"another layout", func(b, _ []byte) []byte { b[len(magic)-2]++; return b }},
		{"another key's entry", func(_, other []byte) []byte { return other }},
		{"payload with the checksum recomputed but cut short", func(b, _ []byte) []byte {
			p := b[len(magic)+2*sha256.Size : len(b)-1]
			s := sha256.Sum256(p)
			copy(b[len(magic)+sha256.Size:], s[:])
			return b[:len(b)-1]
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t)
			other := t.TempDir()
			if err := gen.Write(other, 2, 2); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Compile(other, compiler.Options{}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Compile(dir, compiler.Options{}); err != nil {
				t.Fatal(err)
			}
			paths, _ := filepath.Glob(filepath.Join(c.dir, "*"))
			if len(paths) != 2 {
				t.Fatalf("%d entries, want 2", len(paths))
			}
			path := c.path(keyOf(t, dir))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var ob []byte
			for _, p := range paths {
				if p != path {
					ob, _ = os.ReadFile(p)
				}
			}
			if err := os.WriteFile(path, tt.spoil(b, ob), 0o600); err != nil {
				t.Fatal(err)
			}
			missThenHit(t, c, dir, want)
		})
	}
}

// TestInputsChange: a change to any input — a config file's bytes, a new
// config file, a policy file of a --policy directory, a new policy file —
// misses, and the result is the fresh compile's.
func TestInputsChange(t *testing.T) {
	c := newCache(t)
	cfg := t.TempDir()
	if err := gen.Write(cfg, 3, 2); err != nil {
		t.Fatal(err)
	}
	pol := t.TempDir()
	if err := os.WriteFile(filepath.Join(pol, "org.cue"), []byte(`package org

rules: "org-persistence-max": {
	severity: "warn"
	message:  "persistence timeouts are at most one hour"
	violations: [
		for s in model.services if s.persistence != _|_ if s.persistence.timeout > 3600 {
			service: s.name
		},
	]
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := compiler.Options{PolicyDirs: []string{pol}}
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfgFiles, _ := filepath.Glob(filepath.Join(cfg, "*.cue"))
	polFiles, _ := filepath.Glob(filepath.Join(pol, "*.cue"))
	if len(cfgFiles) == 0 || len(polFiles) == 0 {
		t.Fatal("no files to change")
	}
	appendTo := func(path, text string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		write(path, string(b)+text)
	}
	for _, step := range []struct {
		name   string
		change func()
		hit    bool
	}{
		{"first", func() {}, false},
		{"unchanged", func() {}, true},
		{"a config file's bytes", func() { appendTo(cfgFiles[0], "\n// a comment\n") }, false},
		{"unchanged again", func() {}, true},
		{"a new config file", func() { write(filepath.Join(cfg, "zz.cue"), "package lvs\n") }, false},
		{"a policy file's bytes", func() { appendTo(polFiles[0], "\n// a comment\n") }, false},
		{"a new policy file", func() { write(filepath.Join(pol, "zz.cue"), "package org\n") }, false},
		// The entry of the same config files holds the compile with zz.cue.
		{"a removed policy file", func() { _ = os.Remove(filepath.Join(pol, "zz.cue")) }, false},
		{"unchanged at last", func() {}, true},
	} {
		step.change()
		want, err := compiler.CompileWith(cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		got, hit, err := c.Compile(cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !want.Valid() {
			t.Fatalf("%s: the config is not valid: %v", step.name, want.Diagnostics)
		}
		if hit != step.hit {
			t.Errorf("%s: hit %v, want %v", step.name, hit, step.hit)
		}
		if d := resultDiff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", step.name, d)
		}
	}
}

// TestOpenRefusesShared: a cache directory others can write is refused,
// as is a symlink to one.
func TestOpenRefusesShared(t *testing.T) {
	d := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(d); err == nil {
		t.Error("a world-writable cache directory was accepted")
	}
	link := filepath.Join(t.TempDir(), "link")
	private := t.TempDir()
	if err := os.Symlink(private, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(link); err == nil {
		t.Error("a symlink was accepted as the cache directory")
	}
	fresh := filepath.Join(t.TempDir(), "new", "cache")
	if _, err := Open(fresh); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("made %s with %v (%v), want 0700", fresh, fi.Mode().Perm(), err)
	}
}

// TestEvict: past MaxEntries the least recently used entries go, and a
// hit counts as a use.
func TestEvict(t *testing.T) {
	c := newCache(t)
	c.MaxEntries = 2
	dirs := make([]string, 3)
	for i := range dirs {
		dirs[i] = t.TempDir()
		if err := gen.Write(dirs[i], i+1, 1); err != nil {
			t.Fatal(err)
		}
	}
	compile := func(dir string) bool {
		t.Helper()
		_, hit, err := c.Compile(dir, compiler.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return hit
	}
	compile(dirs[0])
	time.Sleep(20 * time.Millisecond)
	compile(dirs[1])
	time.Sleep(20 * time.Millisecond)
	if !compile(dirs[0]) { // a use: dirs[1] is now the oldest
		t.Fatal("no hit")
	}
	time.Sleep(20 * time.Millisecond)
	compile(dirs[2])
	if n, _ := filepath.Glob(filepath.Join(c.dir, "*")); len(n) != 2 {
		t.Errorf("%d entries, want 2", len(n))
	}
	if !compile(dirs[0]) || compile(dirs[1]) {
		t.Error("evicted the most recently used entry instead of the least")
	}
	// Room for the largest entry but not two: a store leaves one.
	paths, _ := filepath.Glob(filepath.Join(c.dir, "*"))
	var small, large int64 = 1 << 62, 0
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		small, large = min(small, fi.Size()), max(large, fi.Size())
	}
	c.MaxBytes = small + large - 1
	if compile(dirs[2]) {
		t.Fatal("an evicted entry hit")
	}
	if n, _ := filepath.Glob(filepath.Join(c.dir, "*")); len(n) != 1 {
		t.Errorf("%d entries in a cache with room for one", len(n))
	}
}

// TestCompileHost: one host's part of a compile through the cache equals
// the fresh compile's (compiled, then from the whole entry, then from the
// host's own entry, which is smaller than the whole); a spoiled host entry
// is ignored; and plan's compile (no permission check) serves apply's
// (with it), since the check gates a compile and never changes it.
func TestCompileHost(t *testing.T) {
	for _, dir := range configs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want := compileValid(t, dir)
			hosts := []string{"not-a-host"}
			for name := range want.Config.Hosts {
				hosts = append(hosts, name)
			}
			c := newCache(t)
			check := func(step, host string, wantHit bool, opts compiler.Options) {
				t.Helper()
				got, hit, err := c.CompileHost(dir, opts, host)
				if err != nil {
					t.Fatal(err)
				}
				if hit != wantHit {
					t.Fatalf("%s, host %s: hit %v, want %v", step, host, hit, wantHit)
				}
				if d := cmp.Diff(HostOf(want, host), got, cmp.AllowUnexported(HostResult{}), cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{})); d != "" {
					t.Fatalf("%s, host %s (-want +got):\n%s", step, host, d)
				}
			}
			check("cold", hosts[1], false, compiler.Options{})
			// A compile for one host stores that host's part alone.
			if _, err := os.Stat(c.path(keyOf(t, dir))); !os.IsNotExist(err) {
				t.Errorf("a compile for host %s stored the whole entry (stat: %v)", hosts[1], err)
			}
			check("from the host's entry, after its compile", hosts[1], true, compiler.Options{})
			// A compile of the whole config (render) stores the whole
			// entry, which then serves every host.
			if _, hit, err := c.Compile(dir, compiler.Options{}); err != nil || hit {
				t.Fatalf("whole compile: hit %v, err %v; want a compile", hit, err)
			}
			for _, h := range hosts {
				check("from the whole entry", h, true, compiler.Options{})
				check("from the host's entry", h, true, compiler.Options{CheckPermissions: true})
			}
			whole := c.path(keyOf(t, dir))
			wfi, err := os.Stat(whole)
			if err != nil {
				t.Fatal(err)
			}
			// The last host's entry: the most recently used.
			last := hosts[len(hosts)-1]
			hpath := c.path(hostKey(keyOf(t, dir), last))
			b, err := os.ReadFile(hpath)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(b)) >= wfi.Size() {
				t.Errorf("host %s's entry is %d bytes, the whole one %d", last, len(b), wfi.Size())
			}
			b[len(b)-1] ^= 1
			if err := os.WriteFile(hpath, b, 0o600); err != nil {
				t.Fatal(err)
			}
			// Spoiled: served from the whole entry, and stored again.
			check("spoiled host entry", last, true, compiler.Options{})
			if nb, _ := os.ReadFile(hpath); string(nb) == string(b) {
				t.Error("the spoiled host entry was not overwritten")
			}
		})
	}
}

// BenchmarkCodecHost encodes and decodes the host part of an entry as
// plan and apply store and load it: director lb1 of internal/gen's config
// at 1,000 services x 10 real servers.
func BenchmarkCodecHost(b *testing.B) {
	e := &hostEntry{Host: gen.Director(1000, 10)}
	var buf []byte
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			var err error
			if buf, err = encodeAll(e); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			var out hostEntry
			if err := decodeAll(buf, &out); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
}
