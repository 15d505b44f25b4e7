package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain points the compile cache of every test at a directory of its
// own, so that the tests neither read nor fill the user's, and the
// commands' tests run through it: a test that runs a command twice sees a
// miss, then a hit.
func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "lvsgen-cmd-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("LVSGEN_CACHE_DIR", filepath.Join(d, "cache"))
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// TestCompileCache: plan and render print the same from a cold cache, a
// warm one and without one; plan stores the whole compile and lb1's part
// of it, render reads the whole and stores nothing new; a cache
// directory others can write is refused with a warning, and the command
// still does its job.
func TestCompileCache(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	t.Setenv("LVSGEN_CACHE_DIR", cache)
	capture := lb1Capture(t)
	for _, args := range [][]string{
		{"plan", "../../examples", "--host", "lb1", "--observed", capture, "--format", "json"},
		{"render", "../../examples", "--host", "lb1", "--format", "json"},
	} {
		_, want, _ := runStdin(t, "", append(args, "--no-cache")...)
		if want == "" {
			t.Fatalf("%v: no output", args)
		}
		for _, run := range []string{"cold", "warm"} {
			code, got, errOut := runStdin(t, "", args...)
			if code != 0 || got != want || errOut != "" {
				t.Errorf("%v, %s cache: exit %d, stderr %q, output equal: %v", args, run, code, errOut, got == want)
			}
		}
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "*"))
	if len(entries) != 2 {
		t.Errorf("%d cache entries after plan and render of one config, want 2 (the whole compile, lb1's part): %v", len(entries), entries)
	}
	t.Setenv("LVSGEN_CACHE", "off")
	if _, _, err := runStdin(t, "", "render", "../../examples", "--host", "lb1"); err != "" {
		t.Errorf("LVSGEN_CACHE=off: stderr %q", err)
	}
	t.Setenv("LVSGEN_CACHE", "")
	if err := os.Chmod(cache, 0o777); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runStdin(t, "", "render", "../../examples", "--host", "lb1", "--format", "ipvsadm-save")
	if code != 0 || !strings.Contains(out, "-A -t 192.0.2.10:80") || !strings.Contains(errOut, "not using the compile cache") || !strings.Contains(errOut, "writable by group or others") {
		t.Errorf("a shared cache directory: exit %d\n%s\n%s", code, out, errOut)
	}
}
