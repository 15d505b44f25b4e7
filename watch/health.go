package watch

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/lvsgen/lvsgen/health"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/overlay"
	"github.com/lvsgen/lvsgen/plan"
)

// HealthChecker runs health checks and says which real servers are up;
// *health.Checker is one. The loop sets its targets from each config it
// applies and lays its statuses over the config (package overlay).
type HealthChecker interface {
	Set(targets []health.Target) error
	Status() map[health.Key]health.Status
	Snapshot() health.Snapshot
	Restore(s health.Snapshot)
	Run(ctx context.Context) error
}

// DefaultHealthSave is how often the health is saved for `lvsgen status`
// between transitions: the last result and its time move at every check,
// and status is read by people, for whom a few seconds is fresh.
const DefaultHealthSave = 5 * time.Second

// HealthNotifier returns a channel for Loop.HealthChanged and the function
// to pass as health.Options.OnTransition: it never blocks the checker's
// worker, and a burst of transitions while a cycle runs is one more cycle,
// which sees them all.
func HealthNotifier() (<-chan struct{}, func(health.Transition)) {
	ch := make(chan struct{}, 1)
	return ch, func(health.Transition) {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// startHealth restores the saved health and starts the checker; the
// returned function stops it and saves the health a last time.
func (l *Loop) startHealth(ctx context.Context) (stop func()) {
	if l.Health == nil {
		return func() {}
	}
	if l.HealthFile != "" {
		snap, err := health.ReadSnapshot(l.HealthFile)
		switch {
		case err == nil:
			// Before the first Set: the real servers start as they
			// were, not from their initial state, so a restart does
			// not flap them.
			l.Health.Restore(snap)
			l.Log.Info("health restored", "file", l.HealthFile, "targets", len(snap.Targets), "saved", snap.Saved.Format(time.RFC3339))
		case errors.Is(err, health.ErrNoSnapshot):
			l.Log.Info("no saved health: real servers start from their checks' initial state", "file", l.HealthFile)
		default:
			// A bad file must not stop the balancer.
			l.Log.Warn("ignoring the saved health: real servers start from their checks' initial state", "error", err.Error())
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := l.Health.Run(ctx); err != nil {
			l.Log.Error("health checker stopped", "error", err.Error())
		}
	}()
	return func() {
		cancel()
		<-done
		l.saveHealth()
	}
}

// saveHealth writes the health snapshot, when there is a file for it. A
// failure is logged: the balancer runs on without it, and a restart then
// starts from the checks' initial state or an older file.
func (l *Loop) saveHealth() {
	if l.Health == nil || l.HealthFile == "" {
		return
	}
	if err := health.WriteSnapshot(l.HealthFile, l.Health.Snapshot()); err != nil {
		l.Log.Error("saving the health", "error", err.Error())
	}
}

// setTargets points the checker at c's checks.
func (l *Loop) setTargets(c *config) {
	if l.Health == nil || c == nil {
		return
	}
	if err := l.Health.Set(overlay.Targets(c.want)); err != nil {
		// The schema checks what the engine checks: this is a bug,
		// and the checker keeps the previous targets.
		l.Log.Error("health checks not updated: the previous ones keep running", "config_hash", c.hash, "error", err.Error())
	}
}

// withHealth is c's desired state with the health laid over it: what the
// loop plans and applies, at every trigger, so that no cycle undoes a
// health decision.
func (l *Loop) withHealth(c *config) *hoststate.Host {
	if l.Health == nil {
		return c.want
	}
	if l.overlay == nil {
		l.overlay = overlay.New()
	}
	return l.overlay.Apply(c.want, l.Health.Status())
}

// healthOps lists a health cycle's operations with their reasons, for its
// log record: "~ tcp:192.0.2.9:80 -> 10.0.0.12:80 weight: 3 → 0  # health:
// web2 down since 12:03:07, 3 failed http checks: 503".
func healthOps(p *plan.Plan) []string {
	var out []string
	for _, op := range p.Ops {
		if op.Action == plan.Wait {
			continue
		}
		line := string(op.Action) + " " + op.Object().String()
		if op.Before != nil && op.After != nil {
			if c := op.After.Changes(op.Before); len(c) > 0 {
				line += " " + strings.Join(c, ", ")
			}
		}
		out = append(out, line+"  # "+op.Reason)
	}
	return out
}
