package compiler

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsgen/lvsgen/internal/gen"
)

// sameResult reports, as errors of step, how got (compiled by how) differs
// from want, a fresh compile of the same files: its diagnostics, model,
// host states and policy rules.
func sameResult(t *testing.T, step, how string, want, got *Result) {
	t.Helper()
	addrs := cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{})
	for _, part := range []struct {
		name      string
		want, got any
	}{
		{"diagnostics", want.Diagnostics, got.Diagnostics},
		{"model", want.Config, got.Config},
		{"host states", want.Hosts, got.Hosts},
		{"rules", want.Rules, got.Rules},
	} {
		if diff := cmp.Diff(part.want, part.got, addrs); diff != "" {
			t.Errorf("%s: %s (-fresh +%s):\n%s", step, part.name, how, diff)
		}
	}
}

// againstFresh compiles dir afresh (no history, no memo) and requires
// got, the result of the compile under test (how), to be the same, and
// both to be valid exactly when valid says; it returns the fresh result.
func againstFresh(t *testing.T, step, how, dir string, got *Result, valid bool) *Result {
	t.Helper()
	want, err := Compile(dir)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	if got.Valid() != valid || want.Valid() != valid {
		t.Errorf("%s: valid %v (fresh %v), want %v: %v", step, got.Valid(), want.Valid(), valid, got.Diagnostics)
	}
	sameResult(t, step, how, want, got)
	return want
}

// TestIncremental edits a config between compiles of one Compiler and
// requires, after each edit, exactly what a fresh compile of the same
// files gives — and that only what changed was compiled again.
func TestIncremental(t *testing.T) {
	dir := t.TempDir()
	if err := gen.Write(dir, 300, 10); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "services-0001.cue")
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := os.ReadFile(filepath.Join(dir, "hosts.cue"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// replaceOnce changes the first match only: one service.
	replaceOnce := func(b []byte, old, new string) []byte {
		t.Helper()
		if !strings.Contains(string(b), old) {
			t.Fatalf("no %q to replace", old)
		}
		return []byte(strings.Replace(string(b), old, new, 1))
	}
	cc := NewCompiler(Options{})
	steps := []struct {
		name string
		edit func()
		// compiled is how many services must be compiled, -1 for all.
		compiled int
		valid    bool
	}{
		{"first", func() {}, -1, true},
		{"unchanged", func() {}, 0, true},
		// A file's services are its tree: editing one recompiles the
		// file's (gen writes 100 per file).
		{"one weight", func() { write("services-0001.cue", replaceOnce(orig, "weight: 1}", "weight: 9}")) }, 100, true},
		{"an error", func() { write("services-0001.cue", replaceOnce(orig, "weight: 1}", "weight: -9}")) }, 100, false},
		{"fixed", func() { write("services-0001.cue", orig) }, 100, true},
		{"a new file", func() {
			write("extra.cue", []byte("package lvs\n\nservices: extra: {cluster: \"big\", vip: \"172.31.0.1\", port: 80, reals: [{host: \"rs1\"}]}\n"))
		}, 1, true},
		{"duplicate VIP", func() {
			write("extra.cue", []byte("package lvs\n\nservices: extra: {cluster: \"big\", vip: \"172.16.0.0\", port: 80, reals: [{host: \"rs1\"}]}\n"))
		}, 1, false},
		{"file removed", func() { os.Remove(filepath.Join(dir, "extra.cue")) }, 0, true},
		// Hosts are every service's world.
		{"hosts changed", func() {
			write("hosts.cue", append(hosts, []byte("\nhosts: spare: {managed: false, interfaces: eth0: addresses: [\"10.250.0.1/24\"]}\n")...))
		}, -1, true},
		{"hosts back", func() { write("hosts.cue", hosts) }, -1, true},
		{"a syntax error", func() { write("extra.cue", []byte("package lvs\n\nservices: extra: {\n")) }, 0, false},
		// Beyond plain data the config is evaluated by CUE as a whole
		// (nothing is counted as compiled there), and back again.
		{"not plain data", func() {
			write("extra.cue", []byte("package lvs\n\n_port: 80\nservices: extra: {cluster: \"big\", vip: \"172.31.0.1\", port: _port, reals: [{host: \"rs1\"}]}\n"))
		}, 0, true},
		{"plain again", func() { os.Remove(filepath.Join(dir, "extra.cue")) }, 0, true},
	}
	for _, st := range steps {
		st.edit()
		got, err := cc.Compile(dir)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want := againstFresh(t, st.name, "incremental", dir, got, st.valid)
		n := st.compiled
		if n < 0 {
			n = want.compiled
		}
		if got.compiled != n {
			t.Errorf("%s: compiled %d services, want %d", st.name, got.compiled, n)
		}
	}
}

// TestIncrementalExamples edits the bundled example, which enables policy
// packs, between compiles of one Compiler, and requires what a fresh
// compile gives.
func TestIncrementalExamples(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "examples"))); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "services-edge.cue")
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cc := NewCompiler(Options{})
	for i, content := range [][]byte{orig, orig, []byte(strings.Replace(string(orig), "weight:", "weight: 7 | *", 1)), append(slices.Clone(orig), "\n// a comment\n"...), orig} {
		if err := os.WriteFile(file, content, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := cc.Compile(dir)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Compile(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !want.Valid() || len(want.Rules) == 0 {
			t.Fatalf("step %d: the example should be valid with policy rules: %v", i, want.Diagnostics)
		}
		sameResult(t, fmt.Sprintf("step %d", i), "incremental", want, got)
	}
}

// BenchmarkIncremental measures what watch does after an edit: compile a
// large config again after one weight changed in one file, with the same
// Compiler.
//
//	go test ./compiler -run - -bench Incremental -benchmem -count 6
func BenchmarkIncremental(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			if err := gen.Write(dir, n, 10); err != nil {
				b.Fatal(err)
			}
			file, orig, edited, err := gen.WeightEdit(dir)
			if err != nil {
				b.Fatal(err)
			}
			cc := NewCompiler(Options{})
			if res, err := cc.Compile(dir); err != nil || !res.Valid() {
				b.Fatalf("%v %v", err, res.Diagnostics)
			}
			i := 0
			for b.Loop() {
				content := orig
				if i%2 == 0 {
					content = edited
				}
				i++
				if err := os.WriteFile(file, content, 0o644); err != nil {
					b.Fatal(err)
				}
				res, err := cc.Compile(dir)
				if err != nil || !res.Valid() {
					b.Fatalf("%v %v", err, res.Diagnostics)
				}
			}
		})
	}
}
