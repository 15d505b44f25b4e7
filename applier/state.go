package applier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// DefaultStateDir is where lvsgen records, per host, what it owns.
const DefaultStateDir = "/var/lib/lvsgen"

// StateVersion is the version of the state file format.
const StateVersion = 1

// State is what lvsgen owns on one host, kept between runs in a file so
// that it never deletes what it did not create, and so that a drain begun
// by one run is finished by a later one, whatever happened in between.
type State struct {
	Version int    `json:"version"`
	Host    string `json:"host"`
	// Services lvsgen created or took over, by key.
	Services []ipvs.ServiceKey `json:"services"`
	Links    []string          `json:"links"`
	// Addresses lvsgen bound.
	Addresses []kernel.Address `json:"addresses"`
	// Routes lvsgen installed; Previous holds the gateway of a route
	// to the same destination that lvsgen replaced, restored when lvsgen
	// no longer needs its own.
	Routes []OwnedRoute `json:"routes"`
	FOUs   []kernel.FOU `json:"fous"`
	// Sysctls lvsgen set, with the value each had before, restored when
	// no service needs the setting any more.
	Sysctls map[string]string `json:"sysctls"`
	// Drains are destinations on their way out: weight 0 since Since.
	Drains []DrainRecord `json:"drains"`
}

// OwnedRoute is a route lvsgen installed.
type OwnedRoute struct {
	kernel.Route
	Previous netip.Addr `json:"previous,omitzero"`
}

// DrainRecord is a destination being drained before it is deleted.
type DrainRecord struct {
	Service ipvs.ServiceKey `json:"service"`
	Addr    netip.AddrPort  `json:"destination"`
	// Weight is the weight it had before the drain began.
	Weight int32     `json:"weight"`
	Since  time.Time `json:"since"`
}

// NewState returns an empty state for host.
func NewState(host string) *State {
	return &State{Version: StateVersion, Host: host, Sysctls: map[string]string{}}
}

// StatePath is the state file of host under dir.
func StatePath(dir, host string) string { return filepath.Join(dir, host+".state.json") }

// LoadState reads the state file of host; a missing file is an empty
// state (the first run on a host).
func LoadState(dir, host string) (*State, error) {
	b, err := os.ReadFile(StatePath(dir, host))
	if errors.Is(err, fs.ErrNotExist) {
		return NewState(host), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	s := NewState(host)
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("reading state %s: %w", StatePath(dir, host), err)
	}
	if s.Version != StateVersion {
		return nil, fmt.Errorf("reading state %s: version %d, this lvsgen reads %d", StatePath(dir, host), s.Version, StateVersion)
	}
	if s.Host != host {
		return nil, fmt.Errorf("reading state %s: it is host %q's, not %q's", StatePath(dir, host), s.Host, host)
	}
	if s.Sysctls == nil {
		s.Sysctls = map[string]string{}
	}
	return s, nil
}

// Save writes the state atomically (write, fsync, rename), so a crash
// leaves either the old file or the new one.
func (s *State) Save(dir string) error {
	s.sort()
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

func (s *State) sort() {
	sortKeys(s.Services)
	slices.Sort(s.Links)
	slices.SortFunc(s.Addresses, func(a, b kernel.Address) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(s.Routes, func(a, b OwnedRoute) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(s.FOUs, func(a, b kernel.FOU) int { return strings.Compare(a.String(), b.String()) })
	names := make(map[ipvs.ServiceKey]string, len(s.Drains))
	for _, r := range s.Drains {
		if _, ok := names[r.Service]; !ok {
			names[r.Service] = r.Service.String()
		}
	}
	slices.SortFunc(s.Drains, func(a, b DrainRecord) int {
		if c := strings.Compare(names[a.Service], names[b.Service]); c != 0 {
			return c
		}
		return a.Addr.Compare(b.Addr)
	})
}

// sortKeys orders service keys by their names, as the state file lists
// them. Each name is made once, not once per comparison: a state of
// 10,000 services is sorted on every plan.
func sortKeys(keys []ipvs.ServiceKey) {
	type named struct {
		start, end int // the name in buf
		key        ipvs.ServiceKey
	}
	buf := make([]byte, 0, 24*len(keys))
	ns := make([]named, len(keys))
	for i, k := range keys {
		start := len(buf)
		buf = appendKeyName(buf, k)
		ns[i] = named{start, len(buf), k}
	}
	slices.SortFunc(ns, func(a, b named) int { return bytes.Compare(buf[a.start:a.end], buf[b.start:b.end]) })
	for i := range ns {
		keys[i] = ns[i].key
	}
}

// appendKeyName appends k.String() to b without formatting through fmt.
func appendKeyName(b []byte, k ipvs.ServiceKey) []byte {
	if k.FWMark != 0 {
		return append(b, k.String()...)
	}
	b = append(b, k.Protocol.String()...)
	b = append(b, ':')
	return netip.AddrPortFrom(k.Addr, k.Port).AppendTo(b)
}
