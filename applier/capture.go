package applier

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/applier/kernel/memory"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/safefile"
	"github.com/lvsgen/lvsgen/ipvs"
)

// LoadCapture loads a saved `ipvsadm-save -n` capture (lvsgen plan
// --observed) into an in-memory IPVS table to plan against: CI can show what
// a change would do to a real host, without root. Plan it with
// CaptureWant's desired state and a Runner with NoState: the capture
// holds the IPVS table alone, with no ownership.
func LoadCapture(ctx context.Context, path string) (kernel.IPVS, error) {
	file, err := safefile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading --observed: %w", err)
	}
	defer file.Close()
	return ReadCapture(ctx, file, path)
}

// ReadCapture is LoadCapture for a capture read from r (standard input,
// for --observed -); name is what errors call it. The caller bounds r.
func ReadCapture(ctx context.Context, r io.Reader, name string) (kernel.IPVS, error) {
	svcs, err := ipvs.ParseSave(r)
	if err != nil {
		return nil, fmt.Errorf("reading --observed %s: %w", name, err)
	}
	k := memory.NewIPVS()
	for _, s := range svcs {
		if err := k.AddService(ctx, s); err != nil {
			return nil, fmt.Errorf("loading --observed %s: %w", name, err)
		}
		for _, d := range s.Destinations {
			// Thresholds are compared on neither side (see
			// CaptureWant); a hand-written rules file may carry -x/-y.
			d.UpperThreshold, d.LowerThreshold = 0, 0
			if err := k.AddDestination(ctx, s.ServiceKey, d); err != nil {
				return nil, fmt.Errorf("loading --observed %s: %w", name, err)
			}
		}
	}
	return k, nil
}

// CaptureWant keeps of want what a capture can be compared with: the
// IPVS services, without connection thresholds, which ipvsadm-save never
// prints (a plan against a capture would otherwise always "change" them).
func CaptureWant(want *hoststate.Host) *hoststate.Host {
	h := &hoststate.Host{Version: want.Version, Name: want.Name, Roles: want.Roles}
	for _, s := range want.Services {
		s.Destinations = slices.Clone(s.Destinations)
		for i := range s.Destinations {
			s.Destinations[i].UpperThreshold, s.Destinations[i].LowerThreshold = 0, 0
		}
		h.Services = append(h.Services, s)
	}
	return h
}
