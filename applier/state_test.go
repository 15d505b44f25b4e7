package applier

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/plan"
)

// TestLoadStateRefusesEmpty checks that a state file that is not one
// lvsgen wrote — `null`, `{}`, another host's, another version — is an
// error naming the file, never an empty state: an empty state would make
// lvsgen forget every VIP, link and sysctl it must clean up.
func TestLoadStateRefusesEmpty(t *testing.T) {
	for _, tt := range []struct{ name, body, want string }{
		{"null", "null", "no version"},
		{"empty object", "{}", "no version"},
		{"no host", `{"version": 1}`, `host ""`},
		{"other host", `{"version": 1, "host": "lb2"}`, `host "lb2"`},
		{"other version", `{"version": 7, "host": "lb1"}`, "version 7"},
		{"not json", "\x00\x01", "invalid character"},
		{"foreign sysctl", `{"version": 1, "host": "lb1", "sysctls": {"kernel.core_pattern": "|/tmp/x"}}`, `sysctl "kernel.core_pattern", which lvsgen never sets`},
		{"odd value", `{"version": 1, "host": "lb1", "sysctls": {"net.ipv4.ip_forward": "1; reboot"}}`, "not a value lvsgen found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(StatePath(dir, "lb1"), []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			st, err := LoadState(dir, "lb1")
			if err == nil {
				t.Fatalf("LoadState of %q = %+v, want an error", tt.body, st)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), StatePath(dir, "lb1")) {
				t.Errorf("error %q, want it to name the file and say %q", err, tt.want)
			}
		})
	}
	// A state lvsgen wrote still loads.
	dir := t.TempDir()
	s := plan.NewState("lb1")
	s.Links = []string{"lvs0"}
	if err := SaveState(dir, s); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(dir, "lb1")
	if err != nil || len(got.Links) != 1 {
		t.Errorf("LoadState of a saved state = %+v, %v", got, err)
	}
}

// TestPersistThroughSymlink checks that the rules file written through a
// symlink (the layout docs/OPERATIONS.md recommends) replaces the link's
// target and leaves the link in place.
func TestPersistThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "tree", "ipvsadm.rules")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "etc-ipvsadm.rules")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	want := &hoststate.Host{Name: "lb1"}
	if err := Persist(want, link, "", ""); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is no longer a symlink (mode %v): boot would restore a stale copy", link, fi.Mode())
	}
	b, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) == "old\n" {
		t.Errorf("the link's target was not rewritten")
	}
	// No temporary file is left next to the target or the link.
	for _, d := range []string{dir, filepath.Dir(target)} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				t.Errorf("temporary file %s left in %s", e.Name(), d)
			}
		}
	}
}

// TestLoadStateRefusesSharedDir: a state directory others can write is
// refused (its file's sysctl values are written back as root), and one
// that SaveState makes is private.
func TestLoadStateRefusesSharedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := SaveState(dir, plan.NewState("lb1")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("SaveState made %s with mode %v (%v), want 0700", dir, fi.Mode().Perm(), err)
	}
	if _, err := LoadState(dir, "lb1"); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	if _, err := LoadState(dir, "lb1"); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Fatalf("LoadState from a world-writable directory: %v, want refused", err)
	}
}
