package compilecache

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/internal/gen"
)

// useMemo makes every config keep a memo, and records the hits of each
// compile's, for the length of the test.
func useMemo(t *testing.T) *int64 {
	hits, _ := useMemoWorlds(t)
	return hits
}

// useMemoWorlds is useMemo that also records how many worlds each
// compile's memo gave.
func useMemoWorlds(t *testing.T) (hits, worlds *int64) {
	hits, worlds = new(int64), new(int64)
	oldMin, oldUsed := memoMinServices, memoUsed
	memoMinServices = 0
	memoUsed = func(m *serviceMemo) { *hits, *worlds = m.hits.Load(), m.worlds.Load() }
	t.Cleanup(func() { memoMinServices, memoUsed = oldMin, oldUsed })
	return hits, worlds
}

// TestMemoConfigs compiles each test config through the cache, then
// again after a change that leaves every service as it was (a comment),
// which misses the entries but takes every service from the memo; the
// result must be the fresh compile's, for every host.
func TestMemoConfigs(t *testing.T) {
	hits := useMemo(t)
	for _, src := range configs(t) {
		t.Run(filepath.Base(src), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			want := compileValid(t, dir)
			// Services read as plain data without a diagnostic have a
			// key; a config beyond plain data has none, and no memo.
			keyed, err := compiler.CompileWith(dir, compiler.Options{Memo: &serviceMemo{}})
			if err != nil {
				t.Fatal(err)
			}
			wantHits := int64(len(keyed.ServiceKeys()))
			c := newCache(t)
			if _, hit, err := c.Compile(dir, compiler.Options{}); err != nil || hit || *hits != 0 {
				t.Fatalf("first compile: hit %v, %d from the memo, %v", hit, *hits, err)
			}
			files, _ := compiler.ConfigFiles(dir)
			b, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(files[0], append(b, "\n// edited\n"...), 0o644); err != nil {
				t.Fatal(err)
			}
			for name := range want.Config.Hosts {
				got, hit, err := c.CompileHost(dir, compiler.Options{}, name)
				if err != nil || hit {
					t.Fatalf("host %s: hit %v, %v", name, hit, err)
				}
				if *hits != wantHits {
					t.Errorf("host %s: %d services from the memo, want %d (of %d)", name, *hits, wantHits, len(want.Config.Services))
				}
				if d := cmp.Diff(HostOf(want, name), got, cmp.AllowUnexported(HostResult{}), cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{})); d != "" {
					t.Fatalf("host %s (-want +got):\n%s", name, d)
				}
				// The next host's compile must miss again.
				if err := os.WriteFile(files[0], append(b, "\n// edited for "+name+"\n"...), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestMemoEdit: after one weight changes, a compile through the cache
// takes every other service from the memo, and its result is the fresh
// compile's; a memo that is spoiled, truncated or another directory's is
// not used, and the compile is right all the same.
func TestMemoEdit(t *testing.T) {
	hits, worlds := useMemoWorlds(t)
	dir := t.TempDir()
	if err := gen.Write(dir, 120, 4); err != nil {
		t.Fatal(err)
	}
	file, orig, edited, err := gen.WeightEdit(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(t)
	build, err := BuildID()
	if err != nil {
		t.Fatal(err)
	}
	mpath := c.path(memoKey(build, dir))
	check := func(step string, content []byte, wantHits int64) {
		t.Helper()
		// A comment of the step's own: the entries miss.
		content = append(slices.Clone(content), "\n// "+step+"\n"...)
		if err := os.WriteFile(file, content, 0o644); err != nil {
			t.Fatal(err)
		}
		want := compileValid(t, dir)
		got, hit, err := c.Compile(dir, compiler.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if hit {
			t.Fatalf("%s: hit the whole entry", step)
		}
		if *hits != wantHits {
			t.Errorf("%s: %d services from the memo, want %d", step, *hits, wantHits)
		}
		if d := resultDiff(want, got); d != "" {
			t.Fatalf("%s (-want +got):\n%s", step, d)
		}
	}
	check("cold", orig, 0)
	if _, err := os.Stat(mpath); err != nil {
		t.Fatalf("no memo after a compile: %v", err)
	}
	check("one weight changed", edited, 119)
	// The hosts and clusters, unchanged, came from the memo too.
	if *worlds != 1 {
		t.Errorf("one weight changed: %d worlds from the memo, want 1", *worlds)
	}
	check("changed back", orig, 119)
	for _, tt := range []struct {
		name  string
		spoil func([]byte) []byte
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)-3] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
		{"empty", func([]byte) []byte { return nil }},
	} {
		b, err := os.ReadFile(mpath)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(mpath, tt.spoil(b), 0o600); err != nil {
			t.Fatal(err)
		}
		// Ignored, compiled, and stored again whole.
		check(tt.name, edited, 0)
		check(tt.name+", then stored again", edited, 120)
	}
	// Another directory's memo, under this one's name: its entry
	// carries the other key, and nothing is taken from it (gen writes
	// the same services there, so its service keys are this one's).
	other := t.TempDir()
	if err := gen.Write(other, 120, 4); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Compile(other, compiler.Options{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(c.path(memoKey(build, other)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mpath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	check("another directory's memo", edited, 0)
}
