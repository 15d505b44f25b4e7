package watch

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/compiler"
)

func TestHashDirs(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		mustWrite(t, filepath.Join(d, "x.cue"), "x: 1\n")
		mustWrite(t, filepath.Join(d, "sub", "y.cue"), "y: 2\n")
	}
	ha, err := HashDirs(a)
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := HashDirs(b)
	if ha != hb || len(ha) != 64 {
		t.Fatalf("same files, hashes %s and %s", ha, hb)
	}
	// What the compiler does not read does not count.
	mustWrite(t, filepath.Join(b, "README.md"), "hello")
	mustWrite(t, filepath.Join(b, ".hidden.cue"), "z: 1")
	mustWrite(t, filepath.Join(b, ".git", "x.cue"), "z: 1")
	mustWrite(t, filepath.Join(b, "cue.mod", "module.cue"), "module: \"x\"")
	if hb, _ = HashDirs(b); hb != ha {
		t.Errorf("files the compiler skips changed the hash")
	}
	// Contents and names both count.
	mustWrite(t, filepath.Join(b, "x.cue"), "x: 2\n")
	if hb, _ = HashDirs(b); hb == ha {
		t.Errorf("a content change kept the hash")
	}
	mustWrite(t, filepath.Join(b, "x.cue"), "x: 1\n")
	os.Rename(filepath.Join(b, "x.cue"), filepath.Join(b, "w.cue"))
	if hb, _ = HashDirs(b); hb == ha {
		t.Errorf("a rename kept the hash")
	}
	// Moving bytes between a name and a content does not collide.
	c, d := t.TempDir(), t.TempDir()
	mustWrite(t, filepath.Join(c, "ab.cue"), "c")
	mustWrite(t, filepath.Join(d, "a.cue"), "bc")
	hc, _ := HashDirs(c)
	hd, _ := HashDirs(d)
	if hc == hd {
		t.Errorf("ab.cue=c and a.cue=bc hash alike")
	}
	if _, err := HashDirs(filepath.Join(a, "missing")); err == nil {
		t.Errorf("no error for a missing directory")
	}
}

const (
	commitA = "0123456789abcdef0123456789abcdef01234567"
	commitB = "89abcdef0123456789abcdef0123456789abcdef"
)

func TestGitCommitFiles(t *testing.T) {
	t.Run("loose ref", func(t *testing.T) {
		repo := t.TempDir()
		mustWrite(t, filepath.Join(repo, ".git", "HEAD"), "ref: refs/heads/main\n")
		mustWrite(t, filepath.Join(repo, ".git", "refs", "heads", "main"), commitA+"\n")
		mustWrite(t, filepath.Join(repo, "lvs", "a.cue"), "")
		if got, err := GitCommit(filepath.Join(repo, "lvs")); got != commitA || err != nil {
			t.Fatalf("%q, %v", got, err)
		}
	})
	t.Run("packed ref", func(t *testing.T) {
		repo := t.TempDir()
		mustWrite(t, filepath.Join(repo, ".git", "HEAD"), "ref: refs/heads/main\n")
		mustWrite(t, filepath.Join(repo, ".git", "packed-refs"), "# pack-refs with: peeled fully-peeled sorted \n"+
			commitB+" refs/heads/other\n"+commitA+" refs/heads/main\n^"+commitB+"\n")
		if got, err := GitCommit(repo); got != commitA || err != nil {
			t.Fatalf("%q, %v", got, err)
		}
	})
	t.Run("detached", func(t *testing.T) {
		repo := t.TempDir()
		mustWrite(t, filepath.Join(repo, ".git", "HEAD"), commitB+"\n")
		if got, err := GitCommit(repo); got != commitB || err != nil {
			t.Fatalf("%q, %v", got, err)
		}
	})
	t.Run("linked worktree", func(t *testing.T) {
		// git-sync: root/.git is the repository, root/.worktrees/X a
		// worktree whose .git file points into root/.git/worktrees/X.
		root := t.TempDir()
		mustWrite(t, filepath.Join(root, ".git", "refs", "heads", "main"), commitA+"\n")
		mustWrite(t, filepath.Join(root, ".git", "worktrees", "X", "HEAD"), "ref: refs/heads/main\n")
		mustWrite(t, filepath.Join(root, ".git", "worktrees", "X", "commondir"), "../..\n")
		mustWrite(t, filepath.Join(root, ".worktrees", "X", ".git"), "gitdir: "+filepath.Join(root, ".git", "worktrees", "X")+"\n")
		if got, err := GitCommit(filepath.Join(root, ".worktrees", "X")); got != commitA || err != nil {
			t.Fatalf("%q, %v", got, err)
		}
	})
	t.Run("no repository", func(t *testing.T) {
		if got, err := GitCommit(t.TempDir()); got != "" || err != nil {
			t.Fatalf("%q, %v", got, err)
		}
	})
	t.Run("unborn branch", func(t *testing.T) {
		repo := t.TempDir()
		mustWrite(t, filepath.Join(repo, ".git", "HEAD"), "ref: refs/heads/main\n")
		if _, err := GitCommit(repo); err == nil || !strings.Contains(err.Error(), "refs/heads/main not found") {
			t.Fatalf("%v", err)
		}
	})
}

// TestGitCommitMatchesGit holds GitCommit to git rev-parse HEAD on real
// repositories: loose refs, packed refs, and a linked worktree.
func TestGitCommitMatchesGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	check := func(what, dir string) {
		t.Helper()
		want := git(dir, "rev-parse", "HEAD")
		if got, err := GitCommit(dir); got != want || err != nil {
			t.Errorf("%s: GitCommit %q, %v; git rev-parse HEAD %s", what, got, err, want)
		}
	}
	git(repo, "init", "-q", "-b", "main")
	mustWrite(t, filepath.Join(repo, "lvs", "a.cue"), "a: 1\n")
	git(repo, "add", ".")
	git(repo, "commit", "-q", "-m", "one")
	check("loose", filepath.Join(repo, "lvs"))
	git(repo, "pack-refs", "--all")
	check("packed", repo)
	mustWrite(t, filepath.Join(repo, "lvs", "a.cue"), "a: 2\n")
	git(repo, "commit", "-q", "-am", "two")
	check("loose over packed", repo)
	wt := filepath.Join(repo, ".worktrees", "w")
	git(repo, "worktree", "add", "-q", "--detach", wt, "HEAD~1")
	check("worktree", wt)
}

// TestHashedFilesAreCompiled: lvsgen watch hashes exactly the files the
// compiler reads, whatever the config directory holds — symlinks to a
// file and to a directory, hidden directories, other files — and through a
// symlinked config directory (git-sync's "current"). A change to a file
// the compiler reads changes the hash; a change to any other does not.
func TestHashedFilesAreCompiled(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "config")
	mustWrite(t, filepath.Join(dir, "a.cue"), "package c\n")
	mustWrite(t, filepath.Join(dir, "sub", "b.cue"), "package c\n")
	mustWrite(t, filepath.Join(dir, "README.md"), "not config\n")
	mustWrite(t, filepath.Join(dir, ".git", "x.cue"), "package c\n")
	mustWrite(t, filepath.Join(dir, "sub", ".cache", "y.cue"), "package c\n")
	mustWrite(t, filepath.Join(dir, "cue.mod", "module.cue"), "module: \"x\"\n")
	// A link inside the directory is followed; one out of it is refused
	// (compiler's TestConfigFilesRefusesHostile).
	mustWrite(t, filepath.Join(dir, ".store", "shared.cue"), "package c\n")
	mustWrite(t, filepath.Join(root, "elsewhere", "dir", "z.cue"), "package c\n")
	for _, l := range [][2]string{
		{filepath.Join(dir, ".store", "shared.cue"), filepath.Join(dir, "linked.cue")},
		{filepath.Join(root, "elsewhere", "dir"), filepath.Join(dir, "linkeddir")},
		{dir, filepath.Join(root, "current")},
	} {
		if err := os.Symlink(l[0], l[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{dir, filepath.Join(root, "current")} {
		res, err := compiler.Compile(d)
		if err != nil {
			t.Fatal(err)
		}
		var compiled []string
		for _, f := range res.Files {
			rel, err := filepath.Rel(d, f)
			if err != nil {
				t.Fatal(err)
			}
			compiled = append(compiled, filepath.ToSlash(rel))
		}
		hashed, err := hashedFiles(d)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(compiled, hashed); diff != "" {
			t.Errorf("%s: files (-compiled +hashed):\n%s", d, diff)
		}
	}
	tests := []struct {
		file    string
		changes bool
	}{
		{filepath.Join(dir, "a.cue"), true},
		{filepath.Join(dir, "sub", "b.cue"), true},
		{filepath.Join(dir, ".store", "shared.cue"), true},
		{filepath.Join(dir, "README.md"), false},
		{filepath.Join(dir, ".git", "x.cue"), false},
		{filepath.Join(dir, "sub", ".cache", "y.cue"), false},
		{filepath.Join(dir, "cue.mod", "module.cue"), false},
		{filepath.Join(root, "elsewhere", "dir", "z.cue"), false},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.file, root), func(t *testing.T) {
			before, err := HashDirs(filepath.Join(root, "current"))
			if err != nil {
				t.Fatal(err)
			}
			mustWrite(t, tt.file, "package c\n// edited\n")
			after, err := HashDirs(filepath.Join(root, "current"))
			if err != nil {
				t.Fatal(err)
			}
			if changed := after != before; changed != tt.changes {
				t.Errorf("hash changed: %v, want %v", changed, tt.changes)
			}
		})
	}
}
