package applier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
)

// Runner is one host's plan-and-apply loop, shared by `lvsgen apply` and
// `lvsgen watch`: load the ownership state, observe, diff, check the
// guards, apply, save the state, persist the rules.
type Runner struct {
	Kernel   kernel.Kernel
	StateDir string
	// Prune and DrainTimeout are passed to Diff.
	Prune        bool
	DrainTimeout time.Duration
	// MaxDeletes refuses a plan that deletes or drains more services and
	// destinations than this; negative means no limit.
	MaxDeletes int
	// RulesFile and SysctlFile are written after a successful apply;
	// empty skips them.
	RulesFile, SysctlFile string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// NoState plans with an empty ownership state instead of the state
	// file: for a saved capture, which has no ownership.
	NoState bool
}

// ErrRefused is returned (wrapped) when a guard refuses a plan. Nothing
// was written.
var ErrRefused = errors.New("plan refused")

// Plan loads the state and computes the plan for want. A plan refused by
// a guard is returned together with an error wrapping ErrRefused.
func (r *Runner) Plan(ctx context.Context, want *hoststate.Host) (*Plan, error) {
	st := NewState(want.Name)
	if !r.NoState {
		var err error
		if st, err = LoadState(r.StateDir, want.Name); err != nil {
			return nil, err
		}
	}
	obs, err := Observe(ctx, r.Kernel, want, st)
	if err != nil {
		return nil, fmt.Errorf("observing host %s: %w", want.Name, err)
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	p := Diff(want, obs, st, Options{Prune: r.Prune, DrainTimeout: r.DrainTimeout, Now: now()})
	if len(p.Problems) > 0 {
		return p, fmt.Errorf("%w: the config does not fit host %s: %s", ErrRefused, want.Name, strings.Join(p.Problems, "; "))
	}
	if r.MaxDeletes >= 0 && p.Deletes() > r.MaxDeletes {
		return p, fmt.Errorf("%w: the plan deletes or drains %d services and destinations, more than --max-deletes %d (check the config, or raise the limit)", ErrRefused, p.Deletes(), r.MaxDeletes)
	}
	return p, nil
}

// Apply applies p (from Plan) and records the outcome: the ownership state
// (even after a failure, so nothing lvsgen made is lost) and, when all went
// well, the rules and sysctl files.
func (r *Runner) Apply(ctx context.Context, want *hoststate.Host, p *Plan) (*Result, error) {
	if p.Changes() == 0 {
		if err := p.State.Save(r.StateDir); err != nil {
			return &Result{}, err
		}
		return &Result{}, Persist(want, r.RulesFile, r.SysctlFile)
	}
	res, applyErr := Apply(ctx, r.Kernel, p)
	if err := p.StateAfter(res).Save(r.StateDir); err != nil {
		return res, errors.Join(applyErr, err)
	}
	if applyErr != nil {
		return res, applyErr
	}
	return res, Persist(want, r.RulesFile, r.SysctlFile)
}
