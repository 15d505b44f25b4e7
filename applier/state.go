package applier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lvsgen/lvsgen/plan"
)

// DefaultStateDir is where lvsgen records, per host, what it owns.
const DefaultStateDir = "/var/lib/lvsgen"

// StatePath is the state file of host under dir.
func StatePath(dir, host string) string { return filepath.Join(dir, host+".state.json") }

// LoadState reads the state file of host; a missing file is an empty
// state (the first run on a host).
func LoadState(dir, host string) (*plan.State, error) {
	b, err := os.ReadFile(StatePath(dir, host))
	if errors.Is(err, fs.ErrNotExist) {
		return plan.NewState(host), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	s := plan.NewState(host)
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("reading state %s: %w", StatePath(dir, host), err)
	}
	if s.Version != plan.StateVersion {
		return nil, fmt.Errorf("reading state %s: version %d, this lvsgen reads %d", StatePath(dir, host), s.Version, plan.StateVersion)
	}
	if s.Host != host {
		return nil, fmt.Errorf("reading state %s: it is host %q's, not %q's", StatePath(dir, host), s.Host, host)
	}
	if s.Sysctls == nil {
		s.Sysctls = map[string]string{}
	}
	return s, nil
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	return writeFileAtomic(StatePath(dir, s.Host), append(b, '\n'), 0o644)
}

// writeFileAtomic writes b to path through a temporary file and a rename.
// A file that already holds b is left alone: watch's resync saves the same
// state every period and should not rewrite it.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
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
	return nil
}
