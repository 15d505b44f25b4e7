package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenMan(t *testing.T) {
	dir := t.TempDir()
	// 2021-01-01 UTC: the page's date comes from here, not the clock.
	t.Setenv("SOURCE_DATE_EPOCH", "1609459200")
	if code, out := runCapture(t, "gen-man", dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "lvsgen-watch.1"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{
		`.TH "LVSGEN" "1" "Jan 2021" "lvsgen `,
		"lvsgen-watch - Keep a host's kernel equal to a config directory as it changes",
		`\fB--max-deletes\fP=-1`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("lvsgen-watch.1 lacks %q:\n%s", want, page)
		}
	}
	for _, name := range []string{"lvsgen.1", "lvsgen-apply.1", "lvsgen-import-keepalived.1"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("no %s: %v", name, err)
		}
	}
	// The hidden command documents nobody.
	if _, err := os.Stat(filepath.Join(dir, "lvsgen-gen-man.1")); err == nil {
		t.Errorf("gen-man has a man page of its own")
	}
}
