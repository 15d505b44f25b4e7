package applier

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLockNetNS checks that the kernel lock is one per network namespace
// whatever the host or state directory: a second taker in the same
// namespace is refused until the first lets go.
func TestLockNetNS(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	unlock, err := LockNetNS(run)
	if err != nil {
		t.Fatal(err)
	}
	// Two applies for different hosts hold different host locks ...
	u1, err := Lock(t.TempDir(), "lb1")
	if err != nil {
		t.Fatal(err)
	}
	defer u1()
	u2, err := Lock(t.TempDir(), "lb2")
	if err != nil {
		t.Fatal(err)
	}
	defer u2()
	// ... but not the same kernel lock.
	if _, err := LockNetNS(run); err == nil || !strings.Contains(err.Error(), "another lvsgen apply or watch is writing this kernel") {
		t.Fatalf("second LockNetNS in the same namespace: %v, want refused", err)
	}
	unlock()
	again, err := LockNetNS(run)
	if err != nil {
		t.Fatalf("LockNetNS after unlock: %v", err)
	}
	again()
	if fi, err := os.Stat(run); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("run dir made with %v, %v; want 0700", fi.Mode().Perm(), err)
	}
}

// TestLockNetNSRefusesUnsafePaths checks that a run directory others can
// write, or a lock file that is a symlink, is refused with its path.
func TestLockNetNSRefusesUnsafePaths(t *testing.T) {
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	if _, err := LockNetNS(open); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("world-writable run dir: %v, want refused", err)
	}

	run := t.TempDir()
	os.Chmod(run, 0o700)
	unlock, err := LockNetNS(run)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	entries, _ := os.ReadDir(run)
	if len(entries) != 1 {
		t.Fatalf("run dir holds %d entries, want the one lock file", len(entries))
	}
	lock := filepath.Join(run, entries[0].Name())
	os.Remove(lock)
	if err := os.Symlink(filepath.Join(t.TempDir(), "elsewhere"), lock); err != nil {
		t.Fatal(err)
	}
	if _, err := LockNetNS(run); err == nil || !strings.Contains(err.Error(), lock) {
		t.Errorf("symlinked lock file: %v, want refused naming %s", err, lock)
	}
}
