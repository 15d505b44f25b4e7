package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"

	"github.com/lvsgen/lvsgen/compiler"
)

// Event is a change under a watched config directory that the loop should
// look at. Which file changed matters only for the logs: every event leads
// to the same cycle (hash, compile if changed, apply).
type Event struct {
	// Path is the file or directory that changed.
	Path string
	// Op says how: fsnotify's operation names ("CREATE", "WRITE",
	// "REMOVE", "RENAME"), "SWAP" when the directory or a symlink on its
	// path was replaced, "OVERFLOW" when the kernel dropped events.
	Op string
}

// Watcher follows config directories with fsnotify: every directory below
// them (including ones created later; hidden ones and cue.mod excepted, as
// the compiler skips them), and, for each directory, its parent and every
// symlink on its path, so that a directory replaced by a symlink swap
// (git-sync), or deleted and created again, is followed to its new target.
//
// Events are delivered on a buffered channel; when the loop is busy and the
// buffer is full, further events are dropped, which loses nothing: the
// events waiting already lead to a full re-read of the config.
type Watcher struct {
	fsw    *fsnotify.Watcher
	log    *slog.Logger
	roots  []*watchRoot
	events chan Event
	done   chan struct{}
	exited chan struct{}
	// added are the directories given to fsnotify; recursive marks the
	// ones below a root (as opposed to the parents of watch points).
	added     map[string]bool
	recursive map[string]bool
}

// watchRoot is one directory to follow.
type watchRoot struct {
	path     string // absolute, as given
	resolved string // its current target; "" while it does not exist
	// points are the names whose change means the path now leads
	// elsewhere: the path itself and each symlink on it, each in its
	// (resolved) parent directory.
	points []string
}

// NewWatcher starts following dirs. A directory that does not exist yet
// (git-sync has not cloned) is waited for: its nearest existing ancestor is
// watched until it appears.
func NewWatcher(log *slog.Logger, dirs ...string) (*Watcher, error) {
	fsw, err := fsnotify.NewBufferedWatcher(1024)
	if err != nil {
		return nil, fmt.Errorf("starting file watcher: %w", err)
	}
	w := &Watcher{
		fsw:    fsw,
		log:    log,
		events: make(chan Event, 64),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			fsw.Close()
			return nil, fmt.Errorf("starting file watcher: %w", err)
		}
		w.roots = append(w.roots, &watchRoot{path: abs})
	}
	w.rebuild()
	go w.run()
	return w, nil
}

// Events delivers the changes; it is closed by Close.
func (w *Watcher) Events() <-chan Event { return w.events }

// Close stops watching and closes Events.
func (w *Watcher) Close() error {
	select {
	case <-w.done:
		return nil
	default:
	}
	close(w.done)
	err := w.fsw.Close()
	<-w.exited
	return err
}

// Watched returns the directories being watched, for tests and debugging.
func (w *Watcher) Watched() []string { return w.fsw.WatchList() }

func (w *Watcher) run() {
	defer close(w.exited)
	defer close(w.events)
	for {
		select {
		case <-w.done:
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			w.handle(ev)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("file events were dropped by the kernel; re-reading the whole config", "error", err)
				w.rebuild()
				w.send(Event{Op: "OVERFLOW"})
				continue
			}
			w.log.Warn("file watcher error", "error", err)
		}
	}
}

// handle follows one fsnotify event.
func (w *Watcher) handle(ev fsnotify.Event) {
	name := filepath.Clean(ev.Name)
	if ev.Op == fsnotify.Chmod {
		return // metadata only: nothing the compiler reads
	}
	for _, r := range w.roots {
		for _, p := range r.points {
			if name == p {
				w.log.Debug("config path replaced; following it", "path", name, "op", ev.Op.String())
				w.rebuild()
				w.send(Event{Path: name, Op: "SWAP"})
				return
			}
		}
	}
	if !w.inConfig(name) {
		return // a neighbour of a watch point, or inside .git
	}
	if ev.Has(fsnotify.Create) {
		if st, err := os.Lstat(name); err == nil && st.IsDir() {
			w.addTree(name)
		}
	}
	if (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) && w.recursive[name] {
		w.forgetTree(name)
	}
	w.log.Debug("config file event", "path", name, "op", ev.Op.String())
	w.send(Event{Path: name, Op: ev.Op.String()})
}

// inConfig reports whether path is a configuration path: under a root's
// target, with no hidden (or cue.mod) component.
func (w *Watcher) inConfig(path string) bool {
	for _, r := range w.roots {
		if r.resolved == "" {
			continue
		}
		rel, err := filepath.Rel(r.resolved, path)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		hidden := false
		for _, p := range parts {
			if compiler.IgnoredDir(p) {
				hidden = true
				break
			}
		}
		if !hidden {
			return true
		}
	}
	return false
}

func (w *Watcher) send(ev Event) {
	select {
	case w.events <- ev:
	default: // events already waiting lead to a full re-read
	}
}

// rebuild drops every watch and follows each root from scratch: resolve
// its path, watch its points' directories, and its target recursively.
func (w *Watcher) rebuild() {
	for d := range w.added {
		_ = w.fsw.Remove(d) // the kernel may have dropped it already
	}
	w.added, w.recursive = map[string]bool{}, map[string]bool{}
	for _, r := range w.roots {
		r.points, r.resolved = nil, ""
		var dirs []string
		dirs, r.points, r.resolved = resolvePoints(r.path)
		for _, d := range dirs {
			w.add(d, false)
		}
	}
	for _, r := range w.roots {
		if r.resolved != "" {
			w.addTree(r.resolved)
		}
	}
}

// resolvePoints walks path component by component and returns the
// directories to watch and the watch points in them (the path's last
// component, each symlink, and the first component that does not exist),
// and the resolved path when it exists and is a directory.
func resolvePoints(path string) (dirs, points []string, resolved string) {
	cur := string(filepath.Separator)
	comps := strings.Split(strings.TrimPrefix(filepath.Clean(path), string(filepath.Separator)), string(filepath.Separator))
	for i, c := range comps {
		next := filepath.Join(cur, c)
		st, err := os.Lstat(next)
		last := i == len(comps)-1
		if err != nil {
			dirs, points = append(dirs, cur), append(points, next)
			return dirs, points, ""
		}
		if st.Mode()&fs.ModeSymlink != 0 || last {
			dirs, points = append(dirs, cur), append(points, next)
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			if next, err = filepath.EvalSymlinks(next); err != nil {
				return dirs, points, "" // a dangling link: wait for it to be replaced
			}
		}
		cur = next
	}
	if st, err := os.Stat(cur); err != nil || !st.IsDir() {
		return dirs, points, ""
	}
	return dirs, points, cur
}

// addTree watches dir and every configuration directory below it.
func (w *Watcher) addTree(dir string) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // gone already, or unreadable: the compile will say
		}
		if !d.IsDir() {
			return nil
		}
		if path != dir && compiler.IgnoredDir(d.Name()) {
			return filepath.SkipDir
		}
		w.add(path, true)
		return nil
	})
}

func (w *Watcher) add(dir string, recursive bool) {
	if recursive {
		w.recursive[dir] = true
	}
	if w.added[dir] {
		return
	}
	if err := w.fsw.Add(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		w.log.Error("cannot watch a config directory: its changes are seen only at the next resync (is fs.inotify.max_user_watches too low?)", "dir", dir, "error", err)
		return
	}
	w.added[dir] = true
}

// forgetTree drops the watches of a directory that was removed or moved
// away, and of those below it.
func (w *Watcher) forgetTree(dir string) {
	prefix := dir + string(filepath.Separator)
	for d := range w.recursive {
		if d == dir || strings.HasPrefix(d, prefix) {
			delete(w.recursive, d)
			if w.added[d] {
				_ = w.fsw.Remove(d)
				delete(w.added, d)
			}
		}
	}
}
