//go:build unix

package health

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWriteSnapshotMode(t *testing.T) {
	dir := t.TempDir()
	path := SnapshotPath(dir, "lb1")
	if want := filepath.Join(dir, "lb1.health.json"); path != want {
		t.Errorf("SnapshotPath = %s, want %s", path, want)
	}
	s := Snapshot{Version: SnapshotVersion, Saved: epoch, Targets: []SnapshotTarget{{Service: "web", Real: "r1", Since: epoch}}}
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for range 2 { // the second write replaces the first
		if err := WriteSnapshot(path, s); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d files in the directory, want 1 (no temporary left)", len(ents))
	}
	got, err := ReadSnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
}

func TestReadSnapshotRefuses(t *testing.T) {
	const good = `{"version": 1, "saved": "2026-12-07T12:00:00Z", "targets": [
		{"service": "web", "real": "r1", "up": false, "since": "2026-12-07T11:00:00Z"}]}`
	tests := []struct {
		name  string
		setup func(t *testing.T, path string) // creates path
		want  string                          // in the error; "" for success
	}{
		{"good", write(good), ""},
		{"missing", func(*testing.T, string) {}, "no health snapshot"},
		{"not json", write("{"), "unexpected EOF"},
		{"trailing data", write(good + "{}"), "data after the JSON object"},
		{"unknown field", write(`{"version": 1, "saved": "2026-12-07T12:00:00Z", "extra": 1}`), `unknown field "extra"`},
		{"version", write(`{"version": 2, "saved": "2026-12-07T12:00:00Z"}`), "version 2, want 1"},
		{"no saved time", write(`{"version": 1}`), "no saved time"},
		{"empty name", write(`{"version": 1, "saved": "2026-12-07T12:00:00Z", "targets": [
			{"service": "", "real": "r1", "since": "2026-12-07T11:00:00Z"}]}`), `invalid name ""`},
		{"control character", write(`{"version": 1, "saved": "2026-12-07T12:00:00Z", "targets": [
			{"service": "web\u001b[2J", "real": "r1", "since": "2026-12-07T11:00:00Z"}]}`), "invalid name"},
		{"duplicate", write(`{"version": 1, "saved": "2026-12-07T12:00:00Z", "targets": [
			{"service": "web", "real": "r1", "since": "2026-12-07T11:00:00Z"},
			{"service": "web", "real": "r1", "since": "2026-12-07T11:00:00Z"}]}`), "web/r1 listed twice"},
		{"since after saved", write(`{"version": 1, "saved": "2026-12-07T12:00:00Z", "targets": [
			{"service": "web", "real": "r1", "since": "2026-12-08T11:00:00Z"}]}`), "after the snapshot"},
		{"no since", write(`{"version": 1, "saved": "2026-12-07T12:00:00Z", "targets": [
			{"service": "web", "real": "r1"}]}`), "since 0001-01-01"},
		{"oversized", func(t *testing.T, path string) {
			write(good)(t, path)
			if err := os.Truncate(path, MaxSnapshotSize+1); err != nil { // sparse: cheap
				t.Fatal(err)
			}
		}, "more than the 33554432 allowed"},
		{"symlink", func(t *testing.T, path string) {
			other := filepath.Join(filepath.Dir(path), "elsewhere.json")
			write(good)(t, other)
			if err := os.Symlink(other, path); err != nil {
				t.Fatal(err)
			}
		}, "too many levels of symbolic links"},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		{"fifo", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lb1.health.json")
			tt.setup(t, path)
			done := make(chan struct{})
			var err error
			go func() {
				defer close(done)
				_, err = ReadSnapshot(path)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("ReadSnapshot blocked")
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ReadSnapshot: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("ReadSnapshot: %v, want an error naming the file and containing %q", err, tt.want)
			}
			if tt.name == "missing" && !errors.Is(err, ErrNoSnapshot) {
				t.Errorf("missing file: %v is not ErrNoSnapshot", err)
			}
		})
	}
}

func write(content string) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	h := newHarness(t, Options{})
	h.prober.set(addr(1), fail503)
	h.set(Target{key(1), spec(1)}, Target{key(2), spec(2)})
	h.start()
	for i := range 3 {
		h.clock.Advance(time.Second)
		h.waitChecks(key(1), uint64(i+1))
	}
	snap := h.c.Snapshot()
	want := Snapshot{Version: 1, Saved: epoch.Add(3 * time.Second), Targets: []SnapshotTarget{
		{Service: "web", Real: "r1", Up: false, Since: epoch.Add(3 * time.Second), At: epoch.Add(3 * time.Second), Detail: "503",
			Type: TCP, Addr: addr(1).String(), Fails: 3, Checks: 3},
		{Service: "web", Real: "r2", Up: true, Since: epoch, At: epoch.Add(3 * time.Second), Detail: "ok",
			Type: TCP, Addr: addr(2).String(), OK: true, Passes: 3, Checks: 3},
	}}
	if diff := cmp.Diff(want, snap); diff != "" {
		t.Fatalf("Snapshot (-want +got):\n%s", diff)
	}
	path := SnapshotPath(t.TempDir(), "lb1")
	if err := WriteSnapshot(path, snap); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(snap, got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}

	// A new Checker restored from it starts where this one stopped.
	h2 := newHarness(t, Options{})
	h2.c.Restore(got)
	h2.set(Target{key(1), spec(1)}, Target{key(2), spec(2)})
	if s, _ := h2.c.Lookup(key(1)); s.Up || !s.Since.Equal(epoch.Add(3*time.Second)) {
		t.Errorf("restored r1: %+v, want down since %s", s, epoch.Add(3*time.Second))
	}
}
