package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/lvsgen/lvsgen/health"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/overlay"
)

// withHealth lays the health `lvsgen watch` saved for want's host in
// stateDir over want, so that a manual plan or apply shows, and keeps,
// watch's health decisions. No snapshot (watch never ran here) is no
// health: want as the config says. A snapshot that cannot be read is a
// warning on stderr and no health: a bad file must not stop an operator
// from applying the config.
func withHealth(stderr io.Writer, stateDir string, want *hoststate.Host) *hoststate.Host {
	path := health.SnapshotPath(stateDir, want.Name)
	snap, err := health.ReadSnapshot(path)
	switch {
	case errors.Is(err, health.ErrNoSnapshot):
		return want
	case err != nil:
		fmt.Fprintf(stderr, "warning: ignoring the saved health state, planning with the config's weights: %v\n", err)
		return want
	}
	return overlay.New().Apply(want, overlay.Statuses(snap))
}
