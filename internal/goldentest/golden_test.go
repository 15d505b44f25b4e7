package goldentest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCheckUpdateThenCompare: update writes the file, in a directory it
// makes; a check of the same bytes then passes.
func TestCheckUpdateThenCompare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "golden", "out.txt")
	Check(t, path, []byte("a\n"), true)
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "a\n" {
		t.Fatalf("after update: %q, %v", b, err)
	}
	Check(t, path, []byte("a\n"), false)
}
