package applier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/plan"
)

// Runner is one host's plan-and-apply loop, shared by `lvsgen apply` and
// `lvsgen watch`: load the ownership state, observe, diff, check the
// guards, apply, save the state, persist the rules.
type Runner struct {
	// Kernel is the host's kernel: a kernel.Kernel, or an IPVS table
	// alone for a desired state of IPVS services only (a capture).
	Kernel   kernel.IPVS
	StateDir string
	// Prune and DrainTimeout are passed to plan.Diff.
	Prune        bool
	DrainTimeout time.Duration
	// MaxDeletes refuses a plan that deletes or drains more services and
	// destinations than this; negative means no limit.
	MaxDeletes int
	// MaxDeleteFraction refuses a plan that deletes more than this
	// fraction of the IPVS services lvsgen manages on the host (one may
	// always go): a config directory caught half-copied — its hosts file
	// there, its services not yet — is a valid config with no services,
	// and must not empty a production balancer. 0 turns it off (the
	// zero Runner); the CLI's default is DefaultMaxDeleteFraction.
	MaxDeleteFraction float64
	// RulesFile, SysctlFile and NFTFile are written after a successful
	// apply (Persist); empty skips them.
	RulesFile, SysctlFile, NFTFile string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// NoState plans with an empty ownership state instead of the state
	// file: for a saved capture, which has no ownership.
	NoState bool
	// Adopt claims, at each plan, the kernel objects that equal the
	// desired state as lvsgen's (see adopt), and starts from an empty
	// state when the state file is corrupt (ErrCorruptState): the way
	// back after the state file was lost (apply --adopt).
	Adopt bool
	// Adopted is what the last plan with Adopt claimed, named for
	// people, for the operator to see.
	Adopted []string
	// Mark, when set, is called with the name of each part of Apply as
	// it ends (LVSGEN_TIMINGS: where a whole command's time goes).
	Mark func(part string)

	// applied, when set, is called between the kernel writes and the
	// final state save: a test kills the run there.
	applied func()

	mu sync.Mutex
	// recall is what the last plan saw of the IPVS table, less what was
	// applied since: for PlanAfterEdit.
	recall *recall
}

// recall is an IPVS table as a plan saw it: the services the config
// wanted then, and the destinations of every service observed, by
// canonical key. Services an apply wrote to since are left out.
type recall struct {
	want map[ipvs.ServiceKey]*hoststate.Service
	seen map[ipvs.ServiceKey][]ipvs.Destination
}

// ErrRefused is returned (wrapped) when a guard refuses a plan. Nothing
// was written.
var ErrRefused = errors.New("plan refused")

// Plan loads the state and computes the plan for want. A plan refused by
// a guard is returned together with an error wrapping ErrRefused.
func (r *Runner) Plan(ctx context.Context, want *hoststate.Host) (*plan.Plan, error) {
	return r.plan(ctx, want, false)
}

// PlanAfterEdit is Plan for a config edited since the last plan of this
// Runner (watch, after a file change): it reads the kernel as Plan does,
// but for the destinations of the services that are quiet — wanted as
// they were then, not written to by the apply since, not draining — which
// it takes from that plan's observation. A large table costs one dump per
// service with destinations to read; an edit touches a few. What someone
// did by hand to a quiet service's destinations meanwhile is seen at the
// next Plan (watch's resync), not here. Without an earlier plan, or with a
// kernel that cannot read in part, it is Plan.
func (r *Runner) PlanAfterEdit(ctx context.Context, want *hoststate.Host) (*plan.Plan, error) {
	return r.plan(ctx, want, true)
}

func (r *Runner) plan(ctx context.Context, want *hoststate.Host, afterEdit bool) (*plan.Plan, error) {
	st := plan.NewState(want.Name)
	if !r.NoState {
		var err error
		if st, err = LoadState(r.StateDir, want.Name); err != nil {
			if !r.Adopt || !errors.Is(err, ErrCorruptState) {
				return nil, err
			}
			// The apply replaces it with what it adopts.
			st = plan.NewState(want.Name)
		}
	}
	r.mu.Lock()
	rc := r.recall
	r.recall = nil
	r.mu.Unlock()
	// Pointers into a copy the recall owns: the caller may change want
	// later, and sameWant compares through them without a copy that
	// would escape, an allocation per service.
	svcs := slices.Clone(want.Services)
	wanted := make(map[ipvs.ServiceKey]*hoststate.Service, len(svcs))
	for i := range svcs {
		wanted[svcs[i].ServiceKey.Canonical()] = &svcs[i]
	}
	read := r.Kernel.Services
	if pr, ok := r.Kernel.(kernel.PartialReader); ok && afterEdit && rc != nil {
		read = func(ctx context.Context) ([]ipvs.Service, error) { return rc.read(ctx, pr, wanted, st) }
	}
	obs, err := observe(ctx, r.Kernel, want, st, read)
	if err != nil {
		return nil, fmt.Errorf("observing host %s: %w", want.Name, err)
	}
	r.mu.Lock()
	r.recall = newRecall(wanted, obs)
	r.mu.Unlock()
	if r.Adopt {
		r.Adopted = adopt(want, obs, st)
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	p := plan.Diff(want, obs, st, plan.Options{Prune: r.Prune, DrainTimeout: r.DrainTimeout, Now: now()})
	if len(p.Problems) > 0 {
		return p, fmt.Errorf("%w: the config does not fit host %s: %s", ErrRefused, want.Name, strings.Join(p.Problems, "; "))
	}
	if r.MaxDeletes >= 0 && p.Deletes() > r.MaxDeletes {
		return p, fmt.Errorf("%w: the plan deletes or drains %d services and destinations, more than --max-deletes %d (check the config, or raise the limit)", ErrRefused, p.Deletes(), r.MaxDeletes)
	}
	if n, limit := deletedServices(p, st), r.serviceDeleteLimit(st); r.MaxDeleteFraction > 0 && n > limit {
		return p, fmt.Errorf("%w: the plan deletes %d of the %d IPVS services lvsgen manages on host %s, more than --max-delete-fraction %g allows (%d): is the config directory complete? Check it, or pass --max-delete-fraction 1 to delete them", ErrRefused, n, len(st.Services), want.Name, r.MaxDeleteFraction, limit)
	}
	return p, nil
}

// DefaultMaxDeleteFraction is the CLI's --max-delete-fraction: a plan may
// delete at most a quarter of the managed services at once.
const DefaultMaxDeleteFraction = 0.25

// serviceDeleteLimit is how many managed services a plan may delete.
func (r *Runner) serviceDeleteLimit(st *plan.State) int {
	return max(1, int(r.MaxDeleteFraction*float64(len(st.Services))))
}

// deletedServices counts the services p deletes or starts draining that
// lvsgen manages (st): what --max-delete-fraction limits. A service whose
// drain an earlier plan started counted then: its deletion at the drain's
// end is not refused. Unmanaged services deleted by --prune are the
// operator's explicit choice and --max-deletes' concern.
func deletedServices(p *plan.Plan, st *plan.State) int {
	owned := make(map[ipvs.ServiceKey]bool, len(st.Services))
	for _, k := range st.Services {
		owned[k.Canonical()] = true
	}
	n := 0
	for _, k := range p.LeavingServices() {
		if owned[k.Canonical()] {
			n++
		}
	}
	return n
}

// Apply applies p (from Plan) and records the outcome: the ownership state
// (even after a failure, so nothing lvsgen made is lost) and, when all went
// well, the rules and sysctl files.
//
// Before the first kernel write it records the plan's intent (Plan.Intent:
// what the plan creates claimed, nothing released) in the state file, so
// that a run killed between two writes leaves a state that owns all it
// made: the next run finishes the job or removes it. A state directory
// that cannot be written fails here, with nothing written to the kernel.
func (r *Runner) Apply(ctx context.Context, want *hoststate.Host, p *plan.Plan) (*Result, error) {
	mark := r.Mark
	if mark == nil {
		mark = func(string) {}
	}
	r.forget(p)
	if p.Changes() == 0 {
		if err := SaveState(r.StateDir, p.State); err != nil {
			return &Result{}, err
		}
		mark("state")
		err := Persist(want, r.RulesFile, r.SysctlFile, r.NFTFile)
		mark("persist")
		return &Result{}, err
	}
	if err := SaveState(r.StateDir, p.Intent()); err != nil {
		return &Result{NotDone: p.Ops}, fmt.Errorf("recording what the plan creates before changing the kernel (nothing was changed; lvsgen must be able to write %s): %w", r.StateDir, err)
	}
	mark("intent")
	res, applyErr := Apply(ctx, r.Kernel, p)
	mark("kernel writes")
	if r.applied != nil {
		r.applied()
	}
	if err := SaveState(r.StateDir, p.StateAfter(res.Undone())); err != nil {
		return res, errors.Join(applyErr, err)
	}
	mark("state")
	if applyErr != nil {
		return res, applyErr
	}
	err := Persist(want, r.RulesFile, r.SysctlFile, r.NFTFile)
	mark("persist")
	return res, err
}

// forget drops from the recall every service p writes to: the next plan
// reads them. Done before the apply, so that a failed or interrupted one
// leaves nothing stale behind.
func (r *Runner) forget(p *plan.Plan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recall == nil {
		return
	}
	for _, op := range p.Ops {
		if op.IsIPVS() {
			delete(r.recall.seen, op.Service().Canonical())
		}
	}
}

// newRecall remembers obs, with wanted (the services wanted, by canonical
// key). The destinations are copied: Diff and Apply may not change the
// recall through obs.
func newRecall(wanted map[ipvs.ServiceKey]*hoststate.Service, obs *plan.Observed) *recall {
	rc := &recall{want: wanted, seen: make(map[ipvs.ServiceKey][]ipvs.Destination, len(obs.Services))}
	for _, s := range obs.Services {
		rc.seen[s.ServiceKey.Canonical()] = slices.Clone(s.Destinations)
	}
	return rc
}

// read reads the IPVS table with the destinations of the services that
// are not quiet, and takes the quiet ones' from the recall (not copied:
// the recall is replaced by one made from this observation, which
// copies them). wanted are the services wanted now, by canonical key.
func (rc *recall) read(ctx context.Context, pr kernel.PartialReader, wanted map[ipvs.ServiceKey]*hoststate.Service, st *plan.State) ([]ipvs.Service, error) {
	draining := map[ipvs.ServiceKey]bool{}
	for _, d := range st.Drains {
		draining[d.Service.Canonical()] = true
	}
	for _, d := range st.ServiceDrains {
		draining[d.Service.Canonical()] = true
	}
	quiet := map[ipvs.ServiceKey]bool{}
	svcs, err := pr.ServicesWith(ctx, func(k ipvs.ServiceKey) bool {
		k = k.Canonical()
		if _, seen := rc.seen[k]; !seen || draining[k] {
			return true
		}
		before, was := rc.want[k]
		now, is := wanted[k]
		quiet[k] = was == is && (!is || sameWant(before, now))
		return !quiet[k]
	})
	if err != nil {
		return nil, err
	}
	for i := range svcs {
		if k := svcs[i].ServiceKey.Canonical(); quiet[k] {
			svcs[i].Destinations = rc.seen[k]
		}
	}
	return svcs, nil
}

// sameWant reports whether a and b ask the same of the kernel: the IPVS
// service, compared field by field through plan's table of them, and
// the name and drain timeout its plan uses.
func sameWant(a, b *hoststate.Service) bool {
	return a.Name == b.Name && plan.EqualServices(&a.Service, &b.Service) &&
		(a.DrainTimeout == nil) == (b.DrainTimeout == nil) && (a.DrainTimeout == nil || *a.DrainTimeout == *b.DrainTimeout)
}
