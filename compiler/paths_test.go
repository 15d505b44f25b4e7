package compiler

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsgen/lvsgen/internal/gen"
)

// TestPathsAgree compiles valid configs both ways — as plain data, service
// by service on every core, and as one CUE instance — and requires the
// same model, host states and diagnostics. TestInvalidConfigs does the
// same for invalid ones.
func TestPathsAgree(t *testing.T) {
	dirs := []string{filepath.Join("..", "examples")}
	// The e2e suites' configs: every mode, family and tunnel kind.
	for _, pattern := range []string{"../e2e/compile/testdata/*", "../e2e/compile/testdata/oracle/*"} {
		m, _ := filepath.Glob(pattern)
		for _, d := range m {
			if files, _ := filepath.Glob(filepath.Join(d, "*.cue")); len(files) > 0 {
				dirs = append(dirs, d)
			}
		}
	}
	generated := t.TempDir()
	if err := gen.Write(generated, 300, 10); err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, generated)
	if len(dirs) < 10 {
		t.Fatalf("only %d configs found: %v", len(dirs), dirs)
	}
	addrs := cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tree, whole := compileBothWays(t, dir)
			if !tree.viaTree {
				t.Skip("not plain data")
			}
			if diff := cmp.Diff(whole.Diagnostics, tree.Diagnostics); diff != "" {
				t.Errorf("diagnostics (-whole +tree):\n%s", diff)
			}
			if diff := cmp.Diff(whole.Config, tree.Config, addrs); diff != "" {
				t.Errorf("model (-whole +tree):\n%s", diff)
			}
			if diff := cmp.Diff(whole.Hosts, tree.Hosts, addrs); diff != "" {
				t.Errorf("host states (-whole +tree):\n%s", diff)
			}
		})
	}
}

// compileBothWays compiles dir as Compile does (as plain data when it
// is) and, the reference, as one CUE instance.
func compileBothWays(t *testing.T, dir string) (tree, whole *Result) {
	t.Helper()
	tree, err := Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	whole, err = CompileWith(dir, Options{wholeCUE: true})
	if err != nil {
		t.Fatal(err)
	}
	if whole.viaTree {
		t.Fatal("wholeCUE compile read a tree")
	}
	return tree, whole
}

// TestPathsAgreeParallel breaks services in several files of a config
// large enough to be compiled on several goroutines, and requires the
// same diagnostics, in the same order, as the whole-CUE evaluation. (A
// misspelt field and an out-of-range port in one service are left out:
// CUE reports the port only, the tree both.)
func TestPathsAgreeParallel(t *testing.T) {
	dir := t.TempDir()
	if err := gen.Write(dir, 300, 10); err != nil {
		t.Fatal(err)
	}
	edit := func(name, old, new string) {
		t.Helper()
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s has no %q", name, old)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("services-0000.cue", "weight: 1}", "weight: -1}")
	edit("services-0001.cue", `host: "rs1"`, `host: "rs-none"`)
	edit("services-0002.cue", "scheduler:", "schedular:")
	edit("services-0001.cue", "port: 8", "port: 7000008")
	tree, whole := compileBothWays(t, dir)
	if tree.Valid() || !tree.viaTree {
		t.Fatalf("valid %v, via tree %v", tree.Valid(), tree.viaTree)
	}
	if len(tree.Diagnostics) < 4 {
		t.Errorf("only %d diagnostics: %v", len(tree.Diagnostics), tree.Diagnostics)
	}
	if diff := cmp.Diff(whole.Diagnostics, tree.Diagnostics); diff != "" {
		t.Errorf("diagnostics (-whole +tree):\n%s", diff)
	}
}
