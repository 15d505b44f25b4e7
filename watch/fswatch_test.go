package watch

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/applier"
	"github.com/lvsgen/lvsgen/applier/kernel/memory"
	"github.com/lvsgen/lvsgen/compiler"
)

// fsTimeout bounds the wait for an fsnotify event; events normally arrive
// within milliseconds.
const fsTimeout = 10 * time.Second

func newTestWatcher(t *testing.T, dirs ...string) *Watcher {
	t.Helper()
	w, err := NewWatcher(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})), dirs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// waitEvent waits for an event for which ok is true, skipping others.
func waitEvent(t *testing.T, w *Watcher, what string, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.After(fsTimeout)
	for {
		select {
		case ev, open := <-w.Events():
			if !open {
				t.Fatalf("events closed while waiting for %s", what)
			}
			if ok(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event for %s", what)
		}
	}
}

// waitWatched waits until the watcher watches dir, which it adds by itself
// once it sees dir appear. On timeout the test fails with failure and
// the directories it does watch.
func waitWatched(t *testing.T, w *Watcher, dir, failure string) {
	t.Helper()
	deadline := time.Now().Add(fsTimeout)
	for !slices.Contains(w.Watched(), dir) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", failure, w.Watched())
		}
		time.Sleep(time.Millisecond)
	}
}

// drain discards the events already delivered.
func drain(w *Watcher) {
	for {
		select {
		case <-w.Events():
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func isPath(p string) func(Event) bool { return func(ev Event) bool { return ev.Path == p } }

func TestWatcherRenameSave(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "a.cue"), "a: 1\n")
	w := newTestWatcher(t, dir)
	// An editor's save: write a temporary file, rename it over the file.
	tmp := filepath.Join(dir, ".a.cue.swp")
	mustWrite(t, tmp, "a: 2\n")
	if err := os.Rename(tmp, filepath.Join(dir, "a.cue")); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, w, "a.cue", isPath(filepath.Join(dir, "a.cue")))
	if !strings.Contains(ev.Op, "CREATE") {
		t.Errorf("rename over a.cue: %+v", ev)
	}
}

func TestWatcherIgnoresHidden(t *testing.T) {
	dir := t.TempDir()
	w := newTestWatcher(t, dir)
	// .git and hidden files are not config; the first event must be a.cue's.
	mustWrite(t, filepath.Join(dir, ".git", "HEAD"), "ref: refs/heads/main\n")
	mustWrite(t, filepath.Join(dir, ".a.cue.swp"), "x")
	mustWrite(t, filepath.Join(dir, "a.cue"), "a: 1\n")
	ev := waitEvent(t, w, "any event", func(Event) bool { return true })
	if ev.Path != filepath.Join(dir, "a.cue") {
		t.Fatalf("first event %+v, want a.cue's", ev)
	}
	if slices.Contains(w.Watched(), filepath.Join(dir, ".git")) {
		t.Errorf(".git is watched: %v", w.Watched())
	}
}

func TestWatcherFollowsNewDirectories(t *testing.T) {
	dir := t.TempDir()
	w := newTestWatcher(t, dir)
	sub := filepath.Join(dir, "site", "edge")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, w, "site", isPath(filepath.Join(dir, "site")))
	// The watcher adds site and site/edge when it sees site created;
	// wait for that before writing into them.
	waitWatched(t, w, sub, sub+" never watched")
	mustWrite(t, filepath.Join(sub, "b.cue"), "b: 1\n")
	waitEvent(t, w, "site/edge/b.cue", isPath(filepath.Join(sub, "b.cue")))
}

func TestWatcherCheckoutReplacingManyFiles(t *testing.T) {
	dir := t.TempDir()
	for i := range 300 {
		mustWrite(t, filepath.Join(dir, "svc", "f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+".cue"), "x: 1\n")
	}
	w := newTestWatcher(t, dir)
	// git checkout: every file replaced, a directory removed and another
	// made. Events past the buffer are dropped, never blocking.
	if err := os.RemoveAll(filepath.Join(dir, "svc")); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		mustWrite(t, filepath.Join(dir, "svc2", "g"+string(rune('a'+i%26))+strings.Repeat("y", i%11)+".cue"), "y: 1\n")
	}
	waitEvent(t, w, "any event", func(Event) bool { return true })
	drain(w)
	// Still following the new tree afterwards.
	waitWatched(t, w, filepath.Join(dir, "svc2"), "svc2 never watched")
	mustWrite(t, filepath.Join(dir, "svc2", "last.cue"), "z: 1\n")
	waitEvent(t, w, "svc2/last.cue", isPath(filepath.Join(dir, "svc2", "last.cue")))
	if slices.Contains(w.Watched(), filepath.Join(dir, "svc")) {
		t.Errorf("the removed directory is still watched")
	}
}

// swapLink points link at target atomically, as git-sync does: a new
// symlink renamed over the old one.
func swapLink(t *testing.T, target, link string) {
	t.Helper()
	tmp := link + ".tmp"
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

func TestWatcherSymlinkSwap(t *testing.T) {
	root := t.TempDir()
	v1, v2 := filepath.Join(root, ".worktrees", "v1"), filepath.Join(root, ".worktrees", "v2")
	mustWrite(t, filepath.Join(v1, "a.cue"), "a: 1\n")
	mustWrite(t, filepath.Join(v2, "a.cue"), "a: 2\n")
	link := filepath.Join(root, "current")
	if err := os.Symlink(".worktrees/v1", link); err != nil {
		t.Fatal(err)
	}
	w := newTestWatcher(t, link)
	swapLink(t, ".worktrees/v2", link)
	ev := waitEvent(t, w, "the swap", isPath(link))
	if ev.Op != "SWAP" {
		t.Errorf("swap event %+v", ev)
	}
	// Now the new target is followed and the old one is not: of a write
	// to v1 then one to v2, the first event is v2's.
	mustWrite(t, filepath.Join(v1, "a.cue"), "a: 3\n")
	mustWrite(t, filepath.Join(v2, "a.cue"), "a: 4\n")
	ev = waitEvent(t, w, "a write", func(Event) bool { return true })
	if ev.Path != filepath.Join(v2, "a.cue") {
		t.Fatalf("first event after the swap %+v, want v2/a.cue's", ev)
	}
}

func TestWatcherSymlinkOnThePath(t *testing.T) {
	// DIR is a directory inside the swapped link: current/lvs.
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "r1", "lvs", "a.cue"), "a: 1\n")
	mustWrite(t, filepath.Join(root, "r2", "lvs", "a.cue"), "a: 2\n")
	if err := os.Symlink("r1", filepath.Join(root, "current")); err != nil {
		t.Fatal(err)
	}
	w := newTestWatcher(t, filepath.Join(root, "current", "lvs"))
	swapLink(t, "r2", filepath.Join(root, "current"))
	waitEvent(t, w, "the swap", func(ev Event) bool { return ev.Op == "SWAP" })
	mustWrite(t, filepath.Join(root, "r2", "lvs", "a.cue"), "a: 4\n")
	waitEvent(t, w, "r2/lvs/a.cue", isPath(filepath.Join(root, "r2", "lvs", "a.cue")))
}

func TestWatcherDirectoryDeletedAndRecreated(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "config")
	mustWrite(t, filepath.Join(dir, "a.cue"), "a: 1\n")
	w := newTestWatcher(t, dir)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, w, "the removal", isPath(dir))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, w, "the new directory", isPath(dir))
	waitWatched(t, w, dir, dir+" never watched again")
	mustWrite(t, filepath.Join(dir, "b.cue"), "b: 1\n")
	waitEvent(t, w, "b.cue", isPath(filepath.Join(dir, "b.cue")))
}

func TestWatcherDirectoryNotThereYet(t *testing.T) {
	parent := t.TempDir()
	link := filepath.Join(parent, "current")
	w := newTestWatcher(t, link) // git-sync has not cloned yet
	mustWrite(t, filepath.Join(parent, "wt1", "a.cue"), "a: 1\n")
	swapLink(t, "wt1", link)
	waitEvent(t, w, "the link", isPath(link))
	if _, err := NewWatcher(slog.New(slog.DiscardHandler), filepath.Join(parent, "no", "such", "dir")); err != nil {
		t.Errorf("a missing parent of the parent is waited for too: %v", err)
	}
}

// TestLoopFollowsRealFiles runs the whole loop on the real clock and real
// fsnotify: a rename-based save and a git-sync symlink swap each reach the
// kernel. The waits end as soon as the apply is done.
func TestLoopFollowsRealFiles(t *testing.T) {
	root := t.TempDir()
	v1, v2 := filepath.Join(root, ".worktrees", "v1"), filepath.Join(root, ".worktrees", "v2")
	mustWrite(t, filepath.Join(v1, "hosts.cue"), hostsCUE)
	mustWrite(t, filepath.Join(v1, "services.cue"), servicesCUE(1, true))
	mustWrite(t, filepath.Join(v2, "hosts.cue"), hostsCUE)
	mustWrite(t, filepath.Join(v2, "services.cue"), servicesCUE(9, false))
	link := filepath.Join(root, "current")
	if err := os.Symlink(".worktrees/v1", link); err != nil {
		t.Fatal(err)
	}
	k := memory.New()
	k.AddDevice("eth0")
	k.AddDevice("eth1")
	w := newTestWatcher(t, link)
	steps := make(chan Step, 100)
	l := &Loop{
		Dir:      link,
		Host:     "lb",
		Compile:  compiler.Compile,
		Applier:  &applier.Runner{Kernel: k, StateDir: t.TempDir(), MaxDeletes: -1},
		Events:   w.Events(),
		Log:      slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		Debounce: 10 * time.Millisecond,
		step:     func(s Step) { steps <- s },
	}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan error, 1)
	go func() { exited <- l.Run(ctx) }()
	defer func() {
		cancel()
		<-exited
	}()
	// waitApplied waits for a cycle that changed the kernel.
	waitApplied := func(what string) {
		t.Helper()
		deadline := time.After(fsTimeout)
		for {
			select {
			case s := <-steps:
				if s.Outcome == Applied && s.Changes > 0 {
					return
				}
				if s.Outcome == Invalid || s.Outcome == Failed || s.Outcome == Refused {
					t.Fatalf("%s: %+v", what, s)
				}
			case <-deadline:
				t.Fatalf("%s never applied; kernel:\n%s", what, k)
			}
		}
	}
	waitApplied("start")
	weight := func() int {
		svcs, _ := k.Services(context.Background())
		for _, s := range svcs {
			if s.ServiceKey == apiKey {
				for _, d := range s.Destinations {
					if d.Addr.String() == "10.1.0.12" {
						return int(d.Weight)
					}
				}
			}
		}
		return -1
	}

	tmp := filepath.Join(v1, ".services.cue.tmp")
	mustWrite(t, tmp, servicesCUE(4, true))
	if err := os.Rename(tmp, filepath.Join(v1, "services.cue")); err != nil {
		t.Fatal(err)
	}
	waitApplied("the rename-based save")
	if weight() != 4 {
		t.Fatalf("weight %d after the save, want 4", weight())
	}

	swapLink(t, ".worktrees/v2", link)
	os.RemoveAll(v1) // git-sync removes the old worktree
	waitApplied("the symlink swap")
	if weight() != 9 {
		t.Fatalf("weight %d after the swap, want 9", weight())
	}
	svcs, _ := k.Services(context.Background())
	if len(svcs) != 1 {
		t.Fatalf("the swap's config has one service; kernel:\n%s", k)
	}
}
