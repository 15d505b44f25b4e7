package compiler

import (
	"os"
	"path/filepath"
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
	write("README.md", "not config\n")              // not .cue
	write("sub/notes.txt", "not config\n")          // not .cue
	write(".hidden.cue", "package c\n")             // hidden file
	write(".git/x.cue", "package c\n")              // hidden dir
	write("sub/.cache/y.cue", "package c\n")        // hidden dir below
	write("cue.mod/module.cue", "module: \"x\"\n")  // CUE module metadata
	write("../elsewhere/shared.cue", "package c\n") // outside, linked in
	write("../elsewhere/dir/z.cue", "package c\n")  // outside, its dir linked in
	link(filepath.Join(root, "elsewhere", "shared.cue"), "linked.cue")
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
