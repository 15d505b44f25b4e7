package gittree

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// repo makes a git repository in a temporary directory; run runs git
// in it.
func repo(t *testing.T) (dir string, run func(args ...string)) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir = t.TempDir()
	run = func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("init", "-q", "-b", "main")
	return dir, run
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// files lists dir's files and their contents, and fails on anything
// but a regular file or a directory.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			t.Errorf("%s: not a regular file (%s)", p, d.Type())
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestRead: the directory as it was at the revision, not as it is now;
// a link inside it is a copy of its target, links out of it and to
// nothing are left out.
func TestRead(t *testing.T) {
	dir, run := repo(t)
	cfg := filepath.Join(dir, "config")
	write(t, filepath.Join(dir, "secret.txt"), "outside")
	write(t, filepath.Join(cfg, "hosts.cue"), "package lvs\n// one\n")
	write(t, filepath.Join(cfg, "sub", "svc.cue"), "package lvs\n")
	for link, target := range map[string]string{"alias.cue": "sub/svc.cue", "out.cue": "../secret.txt", "abs.cue": "/etc/passwd", "none.cue": "missing.cue", "loop.cue": "loop.cue"} {
		if err := os.Symlink(target, filepath.Join(cfg, link)); err != nil {
			t.Fatal(err)
		}
	}
	run("add", "-A")
	run("commit", "-q", "-m", "one")
	write(t, filepath.Join(cfg, "hosts.cue"), "package lvs\n// two\n")
	write(t, filepath.Join(cfg, "new.cue"), "package lvs\n")
	run("add", "-A")
	run("commit", "-q", "-m", "two")

	tree, err := Read(context.Background(), cfg, "HEAD~1")
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Remove()
	want := map[string]string{"hosts.cue": "package lvs\n// one\n", "sub/svc.cue": "package lvs\n", "alias.cue": "package lvs\n"}
	if diff := cmp.Diff(want, files(t, tree.Dir)); diff != "" {
		t.Errorf("files at HEAD~1 (-want +got):\n%s", diff)
	}
	if tree.Prefix != "config/" || len(tree.Commit) != 40 {
		t.Errorf("prefix %q, commit %q", tree.Prefix, tree.Commit)
	}
	// The repository's top, at the first commit: everything but links
	// that lead nowhere or out.
	top, err := Read(context.Background(), dir, "HEAD~1")
	if err != nil {
		t.Fatal(err)
	}
	defer top.Remove()
	want = map[string]string{"secret.txt": "outside", "config/hosts.cue": "package lvs\n// one\n", "config/sub/svc.cue": "package lvs\n",
		"config/alias.cue": "package lvs\n", "config/out.cue": "outside"}
	if diff := cmp.Diff(want, files(t, top.Dir)); diff != "" {
		t.Errorf("files of the top at HEAD~1 (-want +got):\n%s", diff)
	}
	if err := tree.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tree.Dir); !os.IsNotExist(err) {
		t.Errorf("Remove left %s: %v", tree.Dir, err)
	}
}

// TestReadRefuses: a revision that is no commit, or that reads as an
// option, is an error naming it.
func TestReadRefuses(t *testing.T) {
	dir, run := repo(t)
	write(t, filepath.Join(dir, "a.cue"), "package lvs\n")
	run("add", "-A")
	run("commit", "-q", "-m", "one")
	for _, rev := range []string{"nope", "--output=/tmp/x", "", "HEAD~5"} {
		if tree, err := Read(context.Background(), dir, rev); err == nil || !strings.Contains(err.Error(), rev) {
			if tree != nil {
				tree.Remove()
			}
			t.Errorf("Read(%q): error %v, want one naming the revision", rev, err)
		}
	}
	if _, err := Read(context.Background(), t.TempDir(), "HEAD"); err == nil {
		t.Error("Read outside a repository: no error")
	}
}
