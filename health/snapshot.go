package health

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// SnapshotVersion is the format version of the snapshot file.
const SnapshotVersion = 1

// MaxSnapshotSize caps the snapshot file read: 10,000 targets take about
// 2 MB.
const MaxSnapshotSize = 32 << 20

// maxName bounds a service or real server name in a snapshot.
const maxName = 256

// Snapshot is the Checker's states, saved so that a restart reuses them
// instead of flapping every real server back to its initial state.
type Snapshot struct {
	Version int              `json:"version"`
	Saved   time.Time        `json:"saved"`
	Targets []SnapshotTarget `json:"targets"`
}

// SnapshotTarget is one target's saved state.
type SnapshotTarget struct {
	Service string    `json:"service"`
	Real    string    `json:"real"`
	Up      bool      `json:"up"`
	Since   time.Time `json:"since"`
	// At and Detail are the last result's time and detail, for status
	// displays after a restart; zero when there was none.
	At     time.Time `json:"at,omitzero"`
	Detail string    `json:"detail,omitempty"`
	// Type, Addr, OK, Passes, Fails and Checks are for `lvsgen status`
	// only, which reads the file watch keeps: the check, whether the
	// last result passed, the consecutive passes and failures, and the
	// results since the target was added. Restore ignores them: fresh
	// results count afresh.
	Type   Type   `json:"type,omitempty"`
	Addr   string `json:"addr,omitempty"` // address:port, as text for cmp-friendly values
	OK     bool   `json:"ok,omitempty"`
	Passes int    `json:"passes,omitempty"`
	Fails  int    `json:"fails,omitempty"`
	Checks uint64 `json:"checks,omitempty"`
}

// SnapshotPath is where watch keeps host's snapshot in dir:
// DIR/HOST.health.json, next to the state file (HOST.state.json).
func SnapshotPath(dir, host string) string { return filepath.Join(dir, host+".health.json") }

// WriteSnapshot writes s to path atomically, mode 0600: a temporary file
// in the same directory, fsynced, renamed over path, then the directory
// fsynced, so that a crash leaves the old file or the new one, never a
// mix, and the rename itself survives a power loss.
func WriteSnapshot(path string, s Snapshot) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("writing health snapshot %s: %w", path, err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing health snapshot %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // after the rename, removes nothing
	// CreateTemp already makes 0600; Chmod states it and holds under
	// any umask.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("writing health snapshot %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing health snapshot %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing health snapshot %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing health snapshot %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing health snapshot %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("writing health snapshot %s: syncing directory: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("writing health snapshot %s: syncing directory: %w", path, err)
	}
	return nil
}

// ErrNoSnapshot is returned, wrapped, by ReadSnapshot when the file does
// not exist: the first start on a host, where Spec.InitialUp applies.
var ErrNoSnapshot = errors.New("no health snapshot")

// ReadSnapshot reads and validates the snapshot at path. The file is
// untrusted input: it must be a regular file reached without following a
// symlink at its last component, at most MaxSnapshotSize bytes, of
// SnapshotVersion, with every target named, no target twice, and no time
// after the snapshot's own. Errors name the file.
func ReadSnapshot(path string) (Snapshot, error) {
	f, err := openNoFollow(path)
	if errors.Is(err, os.ErrNotExist) {
		return Snapshot{}, fmt.Errorf("reading health snapshot %s: %w", path, ErrNoSnapshot)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading health snapshot %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading health snapshot %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return Snapshot{}, fmt.Errorf("reading health snapshot %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > MaxSnapshotSize {
		return Snapshot{}, fmt.Errorf("reading health snapshot %s: %d bytes, more than the %d allowed", path, fi.Size(), MaxSnapshotSize)
	}
	// The size may grow after the stat: read one byte more than allowed
	// to notice.
	b, err := io.ReadAll(io.LimitReader(f, MaxSnapshotSize+1))
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading health snapshot %s: %w", path, err)
	}
	if len(b) > MaxSnapshotSize {
		return Snapshot{}, fmt.Errorf("reading health snapshot %s: more than %d bytes", path, MaxSnapshotSize)
	}
	var s Snapshot
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Snapshot{}, fmt.Errorf("reading health snapshot %s: %w", path, err)
	}
	if dec.More() {
		return Snapshot{}, fmt.Errorf("reading health snapshot %s: data after the JSON object", path)
	}
	if err := s.validate(); err != nil {
		return Snapshot{}, fmt.Errorf("reading health snapshot %s: %w", path, err)
	}
	return s, nil
}

// validate checks what Restore relies on.
func (s *Snapshot) validate() error {
	if s.Version != SnapshotVersion {
		return fmt.Errorf("version %d, want %d", s.Version, SnapshotVersion)
	}
	if s.Saved.IsZero() {
		return errors.New("no saved time")
	}
	seen := make(map[Key]bool, len(s.Targets))
	for i, t := range s.Targets {
		for _, n := range []string{t.Service, t.Real} {
			if n == "" || len(n) > maxName || !utf8.ValidString(n) || strings.ContainsFunc(n, isControl) {
				return fmt.Errorf("target %d: invalid name %q", i, n)
			}
		}
		k := Key{t.Service, t.Real}
		if seen[k] {
			return fmt.Errorf("target %s listed twice", k)
		}
		seen[k] = true
		if t.Since.IsZero() || t.Since.After(s.Saved) {
			return fmt.Errorf("target %s: since %s is zero or after the snapshot (%s)", k, t.Since, s.Saved)
		}
		if t.At.After(s.Saved) {
			return fmt.Errorf("target %s: last check %s after the snapshot (%s)", k, t.At, s.Saved)
		}
		if t.Passes < 0 || t.Fails < 0 || t.Passes > 0 && t.Fails > 0 {
			return fmt.Errorf("target %s: passes %d and fails %d: one of them is zero, neither negative", k, t.Passes, t.Fails)
		}
		if _, err := netip.ParseAddrPort(t.Addr); t.Addr != "" && err != nil {
			return fmt.Errorf("target %s: %w", k, err)
		}
		if len(t.Type) > maxName || strings.ContainsFunc(string(t.Type), isControl) {
			return fmt.Errorf("target %s: invalid type", k)
		}
		if len(t.Detail) > 4*maxDetail || !utf8.ValidString(t.Detail) || strings.ContainsFunc(t.Detail, isControl) {
			return fmt.Errorf("target %s: invalid detail", k)
		}
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
