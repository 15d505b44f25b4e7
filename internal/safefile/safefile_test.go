package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHostileFiles checks each kind of file a committed tree can hold
// under a config file's name: read when it is a regular file (directly or
// through a link inside the root), refused — at once, never blocking —
// when it is a FIFO, a device, a link out of the root, or too large.
func TestHostileFiles(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write := func(dir, name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(root, "ok.cue", "package lvs\n")
	write(root, "big.cue", strings.Repeat("x", 101))
	secret := write(outside, "secret", "root-only\n")
	os.MkdirAll(filepath.Join(root, "sub"), 0o755)
	os.Symlink("../ok.cue", filepath.Join(root, "sub", "inside.cue"))
	os.Symlink(secret, filepath.Join(root, "abs-out.cue"))
	os.Symlink("../"+filepath.Base(outside)+"/secret", filepath.Join(root, "rel-out.cue"))
	os.Symlink("/dev/zero", filepath.Join(root, "zero.cue"))
	if err := syscall.Mkfifo(filepath.Join(root, "fifo.cue"), 0o644); err != nil {
		t.Fatal(err)
	}

	r, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tests := []struct {
		name string
		want string // "" reads "package lvs\n"
	}{
		{"ok.cue", ""},
		{"sub/inside.cue", ""},
		{"abs-out.cue", "outside the config directory"},
		{"rel-out.cue", "outside the config directory"},
		{"zero.cue", "outside the config directory"},
		{"fifo.cue", "named pipe (FIFO), not a regular file"},
		{"big.cue", "101 bytes, more than the 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			var b []byte
			var err error
			go func() {
				defer close(done)
				b, err = r.ReadFile(filepath.Join(root, tt.name), 100)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the read blocked")
			}
			if tt.want == "" {
				if err != nil || string(b) != "package lvs\n" {
					t.Fatalf("ReadFile = %q, %v", b, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.name) {
				t.Fatalf("ReadFile = %q, %v; want an error naming the file and saying %q", b, err, tt.want)
			}
		})
	}

	// Outside a root: the same checks on the open file.
	if _, err := ReadFile("/dev/zero", 100); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile(/dev/zero) = %v, want ErrNotRegular", err)
	}
	if _, err := ReadFile(filepath.Join(root, "fifo.cue"), 100); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile(fifo) = %v, want ErrNotRegular", err)
	}
	if _, err := ReadFileNoFollow(filepath.Join(root, "sub", "inside.cue"), 100); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("ReadFileNoFollow(symlink) = %v, want refused", err)
	}
	if b, err := ReadFileNoFollow(filepath.Join(root, "ok.cue"), 100); err != nil || string(b) != "package lvs\n" {
		t.Errorf("ReadFileNoFollow(regular) = %q, %v", b, err)
	}
}

func TestReadAll(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		max      int64
		tooLarge bool
	}{
		{"under the limit", "abc", 4, false},
		{"at the limit", "abcd", 4, false},
		{"over the limit", "abcde", 4, true},
		{"empty", "", 4, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ReadAll(strings.NewReader(tt.in), "standard input", tt.max)
			if tt.tooLarge {
				if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "standard input is more than the 4 bytes") {
					t.Fatalf("got %q, %v; want ErrTooLarge naming the stream", b, err)
				}
				return
			}
			if err != nil || string(b) != tt.in {
				t.Fatalf("got %q, %v; want %q", b, err, tt.in)
			}
		})
	}
}
