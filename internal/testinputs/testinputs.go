// Package testinputs makes go test's result cache see files a test reads
// only through a subprocess.
package testinputs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Consult stats every file below root (but .git), so that go test's
// result cache counts them as the test's inputs. A test that builds from
// the checkout in a subprocess (the e2e VM's guest binaries, the
// packages) reads them where the cache does not watch; without this a
// changed file could be answered with a stale "(cached)" pass.
func Consult(t testing.TB, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while we walk
		}
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			if _, err := os.Stat(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s for the test cache: %v", root, err)
	}
}
