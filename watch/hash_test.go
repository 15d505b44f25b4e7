package watch

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
