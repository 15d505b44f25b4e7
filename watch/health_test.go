package watch

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/health"
	"github.com/lvsgen/lvsgen/overlay"
)

// fakeChecker is a HealthChecker whose statuses the test sets: the
// engine's rise and fall are its own tests'; these test the loop's use of
// them.
type fakeChecker struct {
	mu      sync.Mutex
	calls   []string // "restore", "set N", in order
	targets []health.Target
	status  map[health.Key]health.Status
	notify  func(health.Transition)
}

func (f *fakeChecker) Set(ts []health.Target) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("set %d", len(ts)))
	f.targets = ts
	return nil
}

func (f *fakeChecker) Status() map[health.Key]health.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[health.Key]health.Status{}
	for k, v := range f.status {
		m[k] = v
	}
	return m
}

func (f *fakeChecker) Snapshot() health.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := health.Snapshot{Version: health.SnapshotVersion, Saved: time.Now()}
	for k, v := range f.status {
		s.Targets = append(s.Targets, health.SnapshotTarget{Service: k.Service, Real: k.Real, Up: v.Up, Since: v.Since, Detail: v.Last.Detail})
	}
	return s
}

func (f *fakeChecker) Restore(s health.Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "restore")
	f.status = overlay.Statuses(s)
}

func (f *fakeChecker) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// transition sets a real server of api up or down and tells the loop.
func (f *fakeChecker) transition(real string, up bool, at time.Time) {
	f.mu.Lock()
	k := health.Key{Service: "api", Real: real}
	st := health.Status{Type: health.TCP, Up: up, Since: at, LastAt: at, Checks: 5}
	if up {
		st.Passes = 2
	} else {
		st.Fails, st.Last.Detail = 3, "connection refused"
	}
	if f.status == nil {
		f.status = map[health.Key]health.Status{}
	}
	f.status[k] = st
	f.mu.Unlock()
	f.notify(health.Transition{Key: k, Up: up, At: at})
}

// checkedServicesCUE is servicesCUE with a tcp check on api.
func checkedServicesCUE(rs2Weight int) string {
	return servicesCUE(rs2Weight, false) + "\nservices: \"api\": check: {type: \"tcp\"}\n"
}

// withHealth gives the harness's loop a fake checker and a health file.
func withHealth(h *harness) *fakeChecker {
	ch, notify := HealthNotifier()
	f := &fakeChecker{notify: notify}
	h.loop.Health, h.loop.HealthChanged = f, ch
	h.loop.HealthFile = health.SnapshotPath(h.runner.StateDir, "lb")
	return f
}

func TestHealthQuiescesAndRestores(t *testing.T) {
	h := newHarness(t)
	h.write("services.cue", checkedServicesCUE(1))
	f := withHealth(h)
	if s := h.start(); s.Outcome != Applied || h.weight("10.1.0.12") != 1 {
		t.Fatalf("start: %+v, rs2 weight %d", s, h.weight("10.1.0.12"))
	}
	if len(f.targets) != 2 {
		t.Fatalf("targets: %+v, want api's rs1 and rs2", f.targets)
	}

	// Down: one kernel write, with the health reason in the log.
	f.transition("rs2", false, h.clk.Now())
	if s := h.next("health"); s.Outcome != Applied || s.Changes != 1 {
		t.Errorf("health step %+v, want 1 change", s)
	}
	if w := h.weight("10.1.0.12"); w != 0 {
		t.Errorf("rs2 weight %d after going down, want 0", w)
	}
	if recs := h.logged("INFO", "applied a health change"); len(recs) != 1 || !strings.Contains(fmt.Sprint(recs[0]), "health: rs2 down since") {
		t.Errorf("health apply log records: %+v", recs)
	}
	if got := h.metric("lvsgen_watch_applies_total", "trigger", "health"); got != 1 {
		t.Errorf("health applies: %v, want 1", got)
	}
	// Saved before the apply, for plan and restarts.
	snap, err := health.ReadSnapshot(h.loop.HealthFile)
	if err != nil || len(snap.Targets) != 1 || snap.Targets[0].Up {
		t.Errorf("snapshot %+v, %v: want rs2 down", snap, err)
	}

	// A config edit and a resync keep the decision.
	h.edit("services.cue", checkedServicesCUE(3))
	if s := h.debounced(); s.Outcome != Applied {
		t.Errorf("edit: %+v", s)
	}
	if w := h.weight("10.1.0.12"); w != 0 {
		t.Errorf("rs2 weight %d after a config edit while down, want 0", w)
	}
	if s := h.resync(); s.Changes != 0 || h.weight("10.1.0.12") != 0 {
		t.Errorf("resync: %+v, rs2 weight %d: it must not undo health", s, h.weight("10.1.0.12"))
	}

	// Back: the edited weight.
	f.transition("rs2", true, h.clk.Now())
	if s := h.next("health"); s.Changes != 1 {
		t.Errorf("health step %+v, want 1 change", s)
	}
	if w := h.weight("10.1.0.12"); w != 3 {
		t.Errorf("rs2 weight %d after coming back, want 3", w)
	}
	h.converged()
	h.stop()
}

func TestHealthRestartDoesNotFlap(t *testing.T) {
	h := newHarness(t)
	h.write("services.cue", checkedServicesCUE(1))
	f := withHealth(h)
	since := h.clk.Now().Add(-time.Hour)
	err := health.WriteSnapshot(h.loop.HealthFile, health.Snapshot{Version: health.SnapshotVersion, Saved: since, Targets: []health.SnapshotTarget{
		{Service: "api", Real: "rs2", Up: false, Since: since, Detail: "connection refused"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h.start()
	// rs2 is created at weight 0: never up between restart and the
	// first check.
	if w := h.weight("10.1.0.12"); w != 0 {
		t.Errorf("rs2 weight %d after a restart with rs2 saved down, want 0", w)
	}
	f.mu.Lock()
	calls := strings.Join(f.calls, ", ")
	f.mu.Unlock()
	if calls != "restore, set 2" {
		t.Errorf("checker calls %q, want the restore before the first set", calls)
	}
	h.stop()
}

func TestHealthBadSnapshotStarts(t *testing.T) {
	h := newHarness(t)
	h.write("services.cue", checkedServicesCUE(1))
	withHealth(h)
	if err := os.WriteFile(h.loop.HealthFile, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s := h.start(); s.Outcome != Applied || h.weight("10.1.0.12") != 1 {
		t.Errorf("start with a bad snapshot: %+v, rs2 weight %d", s, h.weight("10.1.0.12"))
	}
	if len(h.logged("WARN", "ignoring the saved health: real servers start from their checks' initial state")) != 1 {
		t.Errorf("no warning about the bad snapshot")
	}
	h.stop()
}
