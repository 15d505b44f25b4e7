package applier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/safefile"
	"github.com/lvsgen/lvsgen/plan"
)

// DefaultStateDir is where lvsgen records, per host, what it owns.
const DefaultStateDir = "/var/lib/lvsgen"

// maxStateFile bounds a state file: one for 10,000 services is a few MiB.
const maxStateFile = 64 << 20

// StatePath is the state file of host under dir.
func StatePath(dir, host string) string { return filepath.Join(dir, host+".state.json") }

// LoadState reads the state file of host; a missing file is an empty
// state (the first run on a host).
func LoadState(dir, host string) (*plan.State, error) {
	// What the state says is restored as root: only a directory no one
	// else can write is trusted to hold it.
	if err := safefile.CheckPrivateDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	b, err := safefile.ReadFileNoFollow(StatePath(dir, host), maxStateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return plan.NewState(host), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	// Into a zero State, not NewState(host): a file of `null` or `{}`
	// must fail the version and host checks below rather than pass as
	// an empty state, which would forget everything lvsgen owns.
	s := &plan.State{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, corrupt(dir, host, "%v", err)
	}
	if s.Version == 0 {
		return nil, corrupt(dir, host, "no version: not an lvsgen state file")
	}
	if s.Version != plan.StateVersion {
		return nil, fmt.Errorf("reading state %s: version %d, this lvsgen reads %d", StatePath(dir, host), s.Version, plan.StateVersion)
	}
	if s.Host != host {
		return nil, corrupt(dir, host, "it is host %q's, not %q's", truncate(s.Host), host)
	}
	if s.Sysctls == nil {
		s.Sysctls = map[string]string{}
	}
	// The values lvsgen found are written back when a setting is no
	// longer needed, as root: only keys lvsgen itself sets, and values
	// that look like what those hold (numbers), are taken from a file.
	for key, v := range s.Sysctls {
		if !hoststate.ManagedSysctl(key) {
			return nil, corrupt(dir, host, "it names sysctl %q, which lvsgen never sets: not a state file lvsgen wrote", truncate(key))
		}
		if len(v) > 64 || strings.Trim(v, "0123456789- \t") != "" {
			return nil, corrupt(dir, host, "sysctl %s holds %q, not a value lvsgen found", key, truncate(v))
		}
	}
	return s, nil
}

// truncate shortens what a hostile file may make long, for a message.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// SaveState writes s, sorted, as the state file of its host under dir,
// atomically (write, fsync, rename): a crash leaves either the old file
// or the new one.
func SaveState(dir string, s *plan.State) error {
	s.Sort()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	return writeFileAtomic(StatePath(dir, s.Host), append(b, '\n'), 0o644)
}

// writeFileAtomic writes b to path through a temporary file and a rename,
// then fsyncs the directory, so that after a crash path holds either the
// old bytes or the new ones, and the rename itself is on disk. A file that
// already holds b is left alone: watch's resync saves the same state every
// period and should not rewrite it.
//
// A path that is a symlink (/etc/ipvsadm.rules pointing into a managed
// tree, as docs/OPERATIONS.md suggests) is written through: the link's
// target is replaced, next to it, and the link stays. Renaming over the
// link itself would turn it into a plain file that the tree no longer
// updates. github.com/google/renameio/v2 was considered: it does the
// temporary file, fsync and rename this does, but neither follows a link
// nor fsyncs the directory.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// syncDir fsyncs a directory, which makes a rename in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
