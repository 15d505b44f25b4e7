package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// configTree makes a config directory with one of each kind of entry
// ConfigFiles decides on, and returns it with the names of the files it
// must list, relative to it.
func configTree(t *testing.T) (dir string, want []string) {
	t.Helper()
	root := t.TempDir()
	dir = filepath.Join(root, "config")
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	write("a.cue", "package c\n")
	write("sub/b.cue", "package c\n")
	write("README.md", "not config\n")             // not .cue
	write("sub/notes.txt", "not config\n")         // not .cue
	write(".hidden.cue", "package c\n")            // hidden file
	write(".git/x.cue", "package c\n")             // hidden dir
	write("sub/.cache/y.cue", "package c\n")       // hidden dir below
	write("cue.mod/module.cue", "module: \"x\"\n") // CUE module metadata
	write(".store/shared.cue", "package c\n")      // hidden, linked in from inside
	write("../elsewhere/dir/z.cue", "package c\n") // outside, its dir linked in
	link(filepath.Join(dir, ".store", "shared.cue"), "linked.cue")
	link(filepath.Join(root, "elsewhere", "dir"), "linkeddir")
	return dir, []string{"a.cue", "linked.cue", "sub/b.cue"}
}

// TestConfigFiles: every kind of entry a config directory can hold is in
// or out as ConfigFiles' comment says, through a symlinked config
// directory too; a .cue file is a config by itself.
func TestConfigFiles(t *testing.T) {
	dir, rel := configTree(t)
	current := filepath.Join(filepath.Dir(dir), "current")
	if err := os.Symlink(dir, current); err != nil {
		t.Fatal(err)
	}
	join := func(d string) []string {
		var out []string
		for _, r := range rel {
			out = append(out, filepath.Join(d, filepath.FromSlash(r)))
		}
		return out
	}
	tests := []struct {
		name, dir string
		want      []string
	}{
		{"directory", dir, join(dir)},
		{"trailing separator", dir + string(filepath.Separator), join(dir)},
		{"symlinked directory", current, join(current)},
		{"one file", filepath.Join(dir, "a.cue"), []string{filepath.Join(dir, "a.cue")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFiles(tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{filepath.Join(dir, "missing"), filepath.Join(dir, "README.md")} {
		if _, err := ConfigFiles(bad); err == nil {
			t.Errorf("ConfigFiles(%s): no error", bad)
		}
	}
}

// TestConfigFilesRefusesHostile: a *.cue that is a symlink out of the
// directory (to a secret, to /dev/zero), a FIFO, or a link to a FIFO is an
// error naming it, and nothing is listed — validate and apply stop there,
// before reading anything.
func TestConfigFilesRefusesHostile(t *testing.T) {
	for _, tt := range []struct {
		name string
		make func(dir string) error
		want string
	}{
		{"link to a file outside", func(dir string) error {
			return os.Symlink("/etc/hostname", filepath.Join(dir, "x.cue"))
		}, "outside the config directory"},
		{"link to /dev/zero", func(dir string) error {
			return os.Symlink("/dev/zero", filepath.Join(dir, "x.cue"))
		}, "outside the config directory"},
		{"fifo", func(dir string) error {
			return syscall.Mkfifo(filepath.Join(dir, "x.cue"), 0o644)
		}, "not a regular file"},
		{"link to a fifo inside", func(dir string) error {
			if err := syscall.Mkfifo(filepath.Join(dir, ".p"), 0o644); err != nil {
				return err
			}
			return os.Symlink(".p", filepath.Join(dir, "x.cue"))
		}, "not a regular file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "a.cue"), []byte("package c\n"), 0o644)
			if err := tt.make(dir); err != nil {
				t.Fatal(err)
			}
			files, err := ConfigFiles(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "x.cue") {
				t.Fatalf("ConfigFiles = %v, %v; want an error naming x.cue and saying %q", files, err, tt.want)
			}
			if _, err := Compile(dir); err == nil {
				t.Errorf("Compile: no error")
			}
		})
	}
}
