package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lvsgen/lvsgen/applier"
	"github.com/lvsgen/lvsgen/applier/kernel/memory"
	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/syncbuf"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/plan"
	"github.com/lvsgen/lvsgen/plan/planfmt"
)

// hostsCUE is a NAT director lb between a client LAN and three app
// servers.
const hostsCUE = `package lvs

hosts: {
	lb: interfaces: {
		eth0: addresses: ["192.168.1.2/24"]
		eth1: addresses: ["10.1.0.1/24"]
	}
	rs1: interfaces: eth0: addresses: ["10.1.0.11/24"]
	rs2: interfaces: eth0: addresses: ["10.1.0.12/24"]
	rs3: interfaces: eth0: addresses: ["10.1.0.13/24"]
}

clusters: c: {
	directors: ["lb"]
	clientNetworks: ["192.168.1.0/24"]
}
`

// servicesCUE is the api service (rs1, and rs2 at rs2Weight unless 0),
// plus the web service when web is set.
func servicesCUE(rs2Weight int, web bool) string {
	reals := `{host: "rs1", port: 8080}`
	if rs2Weight > 0 {
		reals += fmt.Sprintf(`, {host: "rs2", port: 8080, weight: %d}`, rs2Weight)
	}
	s := fmt.Sprintf(`package lvs

services: "api": {
	cluster:    "c"
	vip:        "192.168.1.100"
	port:       80
	forwarding: "nat"
	scheduler:  "wrr"
	reals: [%s]
}
`, reals)
	if web {
		s += `
services: "web": {
	cluster:    "c"
	vip:        "192.168.1.101"
	port:       80
	forwarding: "nat"
	reals: [{host: "rs1"}, {host: "rs3"}]
}
`
	}
	return s
}

var apiKey = ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.168.1.100"), Port: 80}

// countingApplier counts the runs of an Applier.
type countingApplier struct {
	Applier
	plans, applies atomic.Int32
}

func (c *countingApplier) Plan(ctx context.Context, want *hoststate.Host) (*plan.Plan, error) {
	c.plans.Add(1)
	return c.Applier.Plan(ctx, want)
}

func (c *countingApplier) Apply(ctx context.Context, want *hoststate.Host, p *plan.Plan) (*applier.Result, error) {
	c.applies.Add(1)
	return c.Applier.Apply(ctx, want, p)
}

// harness runs a Loop on a config directory, a memory kernel and a fake
// clock, and follows it step by step.
type harness struct {
	t       *testing.T
	dir     string
	k       *memory.Kernel
	clk     *fakeClock
	runner  *applier.Runner
	app     *countingApplier
	events  chan Event
	signals chan os.Signal
	steps   chan Step
	logs    *syncbuf.Buffer
	reg     *prometheus.Registry
	loop    *Loop
	cancel  context.CancelFunc
	// exited is closed when Run returns, with its error in err.
	exited chan struct{}
	err    error
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		t:       t,
		dir:     t.TempDir(),
		k:       memory.New(),
		clk:     newFakeClock(),
		events:  make(chan Event),
		signals: make(chan os.Signal, 1),
		steps:   make(chan Step, 100),
		logs:    &syncbuf.Buffer{},
		reg:     prometheus.NewRegistry(),
		exited:  make(chan struct{}),
	}
	h.k.AddDevice("eth0")
	h.k.AddDevice("eth1")
	h.write("hosts.cue", hostsCUE)
	h.write("services.cue", servicesCUE(1, true))
	h.runner = &applier.Runner{Kernel: h.k, StateDir: t.TempDir(), MaxDeletes: -1, DrainTimeout: 5 * time.Minute, Now: h.clk.Now}
	h.app = &countingApplier{Applier: h.runner}
	h.loop = &Loop{
		Dir:     h.dir,
		Host:    "lb",
		Compile: compiler.Compile,
		Applier: h.app,
		Events:  h.events,
		Signals: h.signals,
		Clock:   h.clk,
		Log:     slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics: NewMetrics(h.reg),
		step:    func(s Step) { h.steps <- s },
	}
	t.Cleanup(func() {
		if h.cancel != nil {
			h.cancel()
			select {
			case <-h.exited:
			case <-time.After(20 * time.Second):
				t.Error("the loop did not stop")
			}
		}
		if t.Failed() {
			t.Logf("logs:\n%s", h.logs)
		}
	})
	return h
}

func (h *harness) write(name, content string) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, name), []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// start runs the loop and waits for its start cycle.
func (h *harness) start() Step {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		h.err = h.loop.Run(ctx)
		close(h.exited)
	}()
	return h.next("start")
}

// next waits for the loop's next step and checks its kind. The timeout
// only keeps a broken loop from hanging the test.
func (h *harness) next(kind string) Step {
	h.t.Helper()
	check := func(s Step) Step {
		h.t.Helper()
		if s.Kind != kind {
			h.t.Fatalf("step %+v, want a %s step", s, kind)
		}
		return s
	}
	select {
	case s := <-h.steps:
		return check(s)
	case <-h.exited:
		select { // the last steps come before the return
		case s := <-h.steps:
			return check(s)
		default:
		}
		h.t.Fatalf("the loop returned (%v) while waiting for a %s step", h.err, kind)
	case <-time.After(20 * time.Second):
		h.t.Fatalf("no %s step", kind)
	}
	return Step{}
}

// wait waits for Run to return and checks it returned nil.
func (h *harness) wait() {
	h.t.Helper()
	select {
	case <-h.exited:
	case <-time.After(20 * time.Second):
		h.t.Fatal("the loop did not return")
	}
	if h.err != nil {
		h.t.Fatalf("Run: %v", h.err)
	}
	h.cancel = nil
}

// idle checks the loop has nothing to do: every step so far was taken.
func (h *harness) idle() {
	h.t.Helper()
	select {
	case s := <-h.steps:
		h.t.Fatalf("unexpected step %+v", s)
	default:
	}
}

// event delivers a file event and waits for the loop to take it.
func (h *harness) event(name string) {
	h.t.Helper()
	h.events <- Event{Path: filepath.Join(h.dir, name), Op: "WRITE"}
	h.next("event")
}

// edit writes a file and delivers its event.
func (h *harness) edit(name, content string) {
	h.t.Helper()
	h.write(name, content)
	h.event(name)
}

// debounced advances the clock past the debounce and returns the cycle.
func (h *harness) debounced() Step {
	h.t.Helper()
	h.clk.Advance(DefaultDebounce)
	return h.next("debounce")
}

// resync advances the clock to the next resync and returns its cycle.
func (h *harness) resync() Step {
	h.t.Helper()
	h.clk.Advance(DefaultResync)
	return h.next("resync")
}

// stop stops the loop with SIGTERM.
func (h *harness) stop() {
	h.t.Helper()
	h.signals <- syscall.SIGTERM
	h.next("stop")
	h.wait()
}

// converged checks a fresh plan of the config finds nothing to change.
func (h *harness) converged() {
	h.t.Helper()
	res, err := compiler.Compile(h.dir)
	if err != nil || !res.Valid() {
		h.t.Fatalf("the config does not compile: %v %v", err, res.Diagnostics)
	}
	p, err := h.runner.Plan(context.Background(), res.Hosts["lb"])
	if err != nil {
		h.t.Fatal(err)
	}
	if p.Changes() != 0 {
		var b strings.Builder
		planfmt.WriteText(&b, p, false)
		h.t.Fatalf("the kernel does not match the config:\n%s", &b)
	}
}

// weight returns the weight of a destination of the api service, or -1.
func (h *harness) weight(addr string) int {
	h.t.Helper()
	svcs, err := h.k.Services(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	for _, s := range svcs {
		if s.ServiceKey != apiKey {
			continue
		}
		for _, d := range s.Destinations {
			if d.Addr == netip.MustParseAddr(addr) {
				return int(d.Weight)
			}
		}
	}
	return -1
}

// metric returns the value of a counter or gauge.
func (h *harness) metric(name string, labels ...string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	h.t.Fatalf("no metric %s %v", name, labels)
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// logRecord is a JSON log line.
type logRecord map[string]any

// logged returns the log records at level whose message contains msg.
func (h *harness) logged(level, msg string) []logRecord {
	var out []logRecord
	for _, line := range strings.Split(h.logs.String(), "\n") {
		var r logRecord
		if json.Unmarshal([]byte(line), &r) != nil {
			continue
		}
		if r["level"] == level && strings.Contains(fmt.Sprint(r["msg"]), msg) {
			out = append(out, r)
		}
	}
	return out
}

func TestStartAppliesOnce(t *testing.T) {
	h := newHarness(t)
	s := h.start()
	// 1 link, 3 VIP addresses... whatever the plan holds: the kernel now
	// matches, and a plan finds nothing to do.
	if s.Outcome != Applied || s.Changes == 0 {
		t.Fatalf("start: %+v", s)
	}
	h.converged()
	if h.weight("10.1.0.12") != 1 {
		t.Errorf("rs2 weight %d, want 1", h.weight("10.1.0.12"))
	}
	if got := h.metric("lvsgen_watch_applies_total", "trigger", "start"); got != 1 {
		t.Errorf("applies{start} = %v", got)
	}
	if got := h.metric("lvsgen_watch_managed_services"); got != 2 {
		t.Errorf("managed services = %v, want 2", got)
	}
	if got := h.metric("lvsgen_watch_managed_destinations"); got != 4 {
		t.Errorf("managed destinations = %v, want 4", got)
	}
	if got := h.metric("lvsgen_watch_config_valid"); got != 1 {
		t.Errorf("config valid = %v", got)
	}
	recs := h.logged("INFO", "applied")
	if len(recs) != 1 || recs[0]["config_hash"] == "" || recs[0]["done"] == nil {
		t.Errorf("apply log: %v", recs)
	}
	h.idle()
	h.stop()
}

func TestBurstOfEditsAppliesOnce(t *testing.T) {
	h := newHarness(t)
	h.start()
	plans := h.app.plans.Load()
	// An editor saving five times, 50 ms apart: each event pushes the
	// cycle back; nothing runs until the files have been quiet for the
	// debounce period.
	for w := 2; w <= 6; w++ {
		h.edit("services.cue", servicesCUE(w, true))
		h.clk.Advance(50 * time.Millisecond)
		h.idle()
	}
	h.clk.Advance(DefaultDebounce - 50*time.Millisecond - time.Millisecond)
	h.idle()
	h.clk.Advance(time.Millisecond)
	s := h.next("debounce")
	if s.Outcome != Applied || s.Changes != 1 {
		t.Fatalf("cycle after the burst: %+v", s)
	}
	if got := h.app.plans.Load() - plans; got != 1 {
		t.Errorf("%d plans for one burst, want 1", got)
	}
	if h.weight("10.1.0.12") != 6 {
		t.Errorf("rs2 weight %d, want the last edit's 6", h.weight("10.1.0.12"))
	}
	h.idle()
	h.stop()
}

func TestEndlessBurstIsCut(t *testing.T) {
	h := newHarness(t)
	h.start()
	// Events every 100 ms never leave the files quiet for 200 ms: the
	// cycle still runs once ten debounce periods have passed.
	for i := 0; i < 19; i++ {
		h.event("services.cue")
		h.clk.Advance(100 * time.Millisecond)
		h.idle()
	}
	h.event("services.cue")
	h.clk.Advance(100 * time.Millisecond)
	if s := h.next("debounce"); s.Outcome != Unchanged {
		t.Fatalf("cycle: %+v (the files did not change)", s)
	}
	h.stop()
}

func TestNoOpEventChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.start()
	plans := h.app.plans.Load()
	h.write("README.md", "not config") // the compiler does not read it
	h.event("README.md")
	if s := h.debounced(); s.Outcome != Unchanged {
		t.Fatalf("%+v", s)
	}
	if h.app.plans.Load() != plans {
		t.Errorf("an event that changes no config file planned")
	}
	h.stop()
}

func TestInvalidEditKeepsKernelThenFixApplies(t *testing.T) {
	h := newHarness(t)
	h.start()
	before, writes := h.k.String(), h.k.Writes

	// A syntax error.
	h.edit("services.cue", "package lvs\n\nservices: \"api\": {cluster: \"c\"\n")
	if s := h.debounced(); s.Outcome != Invalid {
		t.Fatalf("broken syntax: %+v", s)
	}
	// A config that parses but breaks a rule (NAT to a port, DR forwarding).
	h.edit("services.cue", strings.Replace(servicesCUE(2, true), `forwarding: "nat"`, `forwarding: "dr"`, 1))
	if s := h.debounced(); s.Outcome != Invalid {
		t.Fatalf("invalid config: %+v", s)
	}
	if h.k.String() != before || h.k.Writes != writes {
		t.Fatalf("an invalid config changed the kernel:\n%s", h.k.String())
	}
	if got := h.metric("lvsgen_watch_config_valid"); got != 0 {
		t.Errorf("config valid = %v after an invalid edit", got)
	}
	if got := h.metric("lvsgen_watch_failures_total", "reason", "invalid_config"); got != 2 {
		t.Errorf("failures{invalid_config} = %v, want 2", got)
	}
	if recs := h.logged("ERROR", "invalid config"); len(recs) != 2 {
		t.Errorf("invalid config logs: %v", recs)
	}
	// The diagnostics themselves are logged, at their position.
	if recs := h.logged("ERROR", "dr forwarding cannot change ports"); len(recs) == 0 || !strings.HasPrefix(fmt.Sprint(recs[0]["pos"]), filepath.Join(h.dir, "services.cue")) {
		t.Errorf("diagnostic not logged with its position: %v\n%s", recs, h.logs)
	}

	// The last good config keeps being maintained: drift is repaired
	// against it, not against the invalid one.
	if err := h.k.UpdateDestination(context.Background(), apiKey, ipvs.Destination{Addr: netip.MustParseAddr("10.1.0.12"), Port: 8080, Forward: ipvs.Masq, Weight: 9}); err != nil {
		t.Fatal(err)
	}
	if s := h.resync(); s.Outcome != Applied || s.Changes != 1 {
		t.Fatalf("resync with an invalid config: %+v", s)
	}
	if h.weight("10.1.0.12") != 1 {
		t.Fatalf("resync restored weight %d, want the last good config's 1", h.weight("10.1.0.12"))
	}

	// The fix applies.
	h.edit("services.cue", servicesCUE(3, true))
	if s := h.debounced(); s.Outcome != Applied || s.Changes != 1 {
		t.Fatalf("fixed config: %+v", s)
	}
	if h.weight("10.1.0.12") != 3 {
		t.Errorf("rs2 weight %d, want 3", h.weight("10.1.0.12"))
	}
	if got := h.metric("lvsgen_watch_config_valid"); got != 1 {
		t.Errorf("config valid = %v after the fix", got)
	}
	h.converged()
	h.stop()
}

func TestInvalidAtStartAppliesNothing(t *testing.T) {
	h := newHarness(t)
	h.write("services.cue", "services: {")
	if s := h.start(); s.Outcome != Invalid {
		t.Fatalf("%+v", s)
	}
	if h.k.Writes != 0 {
		t.Fatalf("%d kernel writes", h.k.Writes)
	}
	if s := h.resync(); s.Outcome != Idle {
		t.Fatalf("resync with no good config: %+v", s)
	}
	h.edit("services.cue", servicesCUE(1, false))
	if s := h.debounced(); s.Outcome != Applied || s.Changes == 0 {
		t.Fatalf("%+v", s)
	}
	h.converged()
	h.stop()
}

func TestConfigWithoutHostAppliesNothing(t *testing.T) {
	h := newHarness(t)
	h.start()
	writes := h.k.Writes
	// Renaming the host must not read as "lb wants nothing": that would
	// tear the balancer down.
	h.edit("hosts.cue", strings.ReplaceAll(hostsCUE, "lb", "lb9"))
	if s := h.debounced(); s.Outcome != Invalid {
		t.Fatalf("%+v", s)
	}
	if h.k.Writes != writes {
		t.Fatalf("a config without the host changed the kernel")
	}
	if recs := h.logged("ERROR", "invalid config"); len(recs) != 1 || !strings.Contains(fmt.Sprint(recs[0]["error"]), `no host "lb"`) {
		t.Errorf("logs: %v", recs)
	}
	h.stop()
}

func TestResyncRepairsDrift(t *testing.T) {
	h := newHarness(t)
	h.start()
	if s := h.resync(); s.Outcome != Applied || s.Changes != 0 {
		t.Fatalf("quiet resync: %+v", s)
	}
	// Someone runs ipvsadm by hand.
	ctx := context.Background()
	if err := h.k.UpdateDestination(ctx, apiKey, ipvs.Destination{Addr: netip.MustParseAddr("10.1.0.12"), Port: 8080, Forward: ipvs.Masq, Weight: 0}); err != nil {
		t.Fatal(err)
	}
	if err := h.k.DelDestination(ctx, apiKey, ipvs.Destination{Addr: netip.MustParseAddr("10.1.0.11"), Port: 8080}); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(DefaultResync - time.Millisecond)
	h.idle()
	h.clk.Advance(time.Millisecond)
	if s := h.next("resync"); s.Outcome != Applied || s.Changes != 2 {
		t.Fatalf("resync after drift: %+v", s)
	}
	h.converged()
	if got := h.metric("lvsgen_watch_drift_repairs_total"); got != 1 {
		t.Errorf("drift repairs = %v, want 1", got)
	}
	if recs := h.logged("WARN", "resync changed the kernel"); len(recs) != 1 {
		t.Errorf("drift repair logs: %v", recs)
	}
	h.stop()
}

func TestResyncFinishesDrain(t *testing.T) {
	h := newHarness(t)
	h.start()
	rs2 := netip.MustParseAddrPort("10.1.0.12:8080")
	if err := h.k.SetConns(apiKey, rs2, 3, 0); err != nil {
		t.Fatal(err)
	}
	h.edit("services.cue", servicesCUE(0, true))
	if s := h.debounced(); s.Outcome != Applied || s.Changes != 1 {
		t.Fatalf("removing rs2: %+v", s)
	}
	if h.weight("10.1.0.12") != 0 {
		t.Fatalf("rs2 is not draining: weight %d", h.weight("10.1.0.12"))
	}
	// Still 3 connections: it waits.
	if s := h.resync(); s.Outcome != Applied || s.Changes != 0 {
		t.Fatalf("resync while draining: %+v", s)
	}
	if err := h.k.SetConns(apiKey, rs2, 0, 0); err != nil {
		t.Fatal(err)
	}
	if s := h.resync(); s.Outcome != Applied || s.Changes != 1 {
		t.Fatalf("resync after the connections ended: %+v", s)
	}
	if h.weight("10.1.0.12") != -1 {
		t.Fatalf("rs2 still there after its drain")
	}
	h.converged()
	h.stop()
}

func TestMissedEventCaughtAtResync(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.write("services.cue", servicesCUE(4, true)) // no event
	if s := h.resync(); s.Outcome != Applied || s.Changes != 1 {
		t.Fatalf("%+v", s)
	}
	if h.weight("10.1.0.12") != 4 {
		t.Fatalf("weight %d", h.weight("10.1.0.12"))
	}
	if got := h.metric("lvsgen_watch_drift_repairs_total"); got != 0 {
		t.Errorf("a config change counted as drift")
	}
	if got := h.metric("lvsgen_watch_applies_total", "trigger", "change"); got != 1 {
		t.Errorf("applies{change} = %v", got)
	}
	h.stop()
}

func TestSIGHUPRecompiles(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.write("services.cue", servicesCUE(5, true))
	h.signals <- syscall.SIGHUP
	if s := h.next("signal"); s.Outcome != Applied || s.Changes != 1 {
		t.Fatalf("%+v", s)
	}
	// SIGHUP recompiles even when nothing changed.
	plans := h.app.plans.Load()
	h.signals <- syscall.SIGHUP
	if s := h.next("signal"); s.Outcome != Applied || s.Changes != 0 || h.app.plans.Load() != plans+1 {
		t.Fatalf("%+v", s)
	}
	h.stop()
}

func TestGuardRefusalIsLoggedAndNotApplied(t *testing.T) {
	h := newHarness(t)
	h.runner.MaxDeletes = 0
	h.start()
	before, writes := h.k.String(), h.k.Writes
	h.edit("services.cue", servicesCUE(1, false)) // drops the web service
	if s := h.debounced(); s.Outcome != Refused {
		t.Fatalf("%+v", s)
	}
	if h.k.String() != before || h.k.Writes != writes {
		t.Fatalf("a refused plan changed the kernel")
	}
	recs := h.logged("ERROR", "PLAN REFUSED")
	if len(recs) != 1 || !strings.Contains(fmt.Sprint(recs[0]["error"]), "--max-deletes 0") || recs[0]["deletes"] != 1.0 {
		t.Fatalf("refusal logs: %v\n%s", recs, h.logs)
	}
	if got := h.metric("lvsgen_watch_failures_total", "reason", "refused"); got != 1 {
		t.Errorf("failures{refused} = %v", got)
	}
	// The loop goes on: resyncs keep the running config (and remind),
	// and a new edit within the limit applies.
	if s := h.resync(); s.Outcome != Applied || s.Changes != 0 {
		t.Fatalf("resync: %+v", s)
	}
	if recs := h.logged("WARN", "still refused"); len(recs) != 1 {
		t.Errorf("reminder logs: %v", recs)
	}
	if h.k.String() != before {
		t.Fatalf("resync applied the refused config")
	}
	h.edit("services.cue", servicesCUE(7, true))
	if s := h.debounced(); s.Outcome != Applied || s.Changes != 1 {
		t.Fatalf("edit after the refusal: %+v", s)
	}
	h.stop()
}

func TestKernelErrorRetriedAtResync(t *testing.T) {
	h := newHarness(t)
	var fail atomic.Bool
	fail.Store(true)
	h.k.Fail = func(op string) error {
		if fail.Load() {
			return fmt.Errorf("%s: %w", op, syscall.ENOMEM)
		}
		return nil
	}
	if s := h.start(); s.Outcome != Failed {
		t.Fatalf("%+v", s)
	}
	if got := h.metric("lvsgen_watch_failures_total", "reason", "kernel_error"); got != 1 {
		t.Errorf("failures{kernel_error} = %v", got)
	}
	if recs := h.logged("ERROR", "apply failed"); len(recs) != 1 || recs[0]["not_done"] == nil {
		t.Errorf("logs: %v", recs)
	}
	fail.Store(false)
	if s := h.resync(); s.Outcome != Applied || s.Changes == 0 {
		t.Fatalf("%+v", s)
	}
	h.converged()
	h.stop()
}

// blockFirstWrite holds the first kernel write of an apply until released.
func blockFirstWrite(k *memory.Kernel) (entered, release chan struct{}, arm func()) {
	entered, release = make(chan struct{}), make(chan struct{})
	var armed atomic.Bool
	var once sync.Once
	k.Fail = func(string) error {
		if armed.Load() {
			once.Do(func() {
				close(entered)
				<-release
			})
		}
		return nil
	}
	return entered, release, func() { armed.Store(true) }
}

func TestSIGTERMFinishesApplyInFlight(t *testing.T) {
	for _, how := range []string{"SIGTERM", "SIGINT", "context"} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t)
			entered, release, arm := blockFirstWrite(h.k)
			h.start()
			arm()
			h.edit("services.cue", servicesCUE(2, false)) // a weight, a service and its VIP
			h.clk.Advance(DefaultDebounce)
			select {
			case <-entered:
			case <-time.After(20 * time.Second):
				t.Fatal("the apply never started")
			}
			switch how {
			case "SIGTERM":
				h.signals <- syscall.SIGTERM
			case "SIGINT":
				h.signals <- syscall.SIGINT
			case "context":
				h.cancel()
			}
			select {
			case <-h.exited:
				t.Fatalf("Run returned (%v) with an apply in flight", h.err)
			default:
			}
			close(release)
			if s := h.next("debounce"); s.Outcome != Applied || s.Changes != 3 {
				t.Fatalf("the apply in flight: %+v", s)
			}
			h.next("stop")
			h.wait()
			h.converged() // completely applied, state file included
		})
	}
}

func TestStopWhileIdle(t *testing.T) {
	h := newHarness(t)
	h.start()
	h.edit("services.cue", servicesCUE(2, true))
	// A change waiting for its debounce is dropped by a stop: no apply
	// starts after the signal.
	h.stop()
	plans := h.app.plans.Load()
	h.clk.Advance(time.Second)
	if h.app.plans.Load() != plans {
		t.Fatal("planned after the stop")
	}
}

func TestRunRequiresFields(t *testing.T) {
	err := (&Loop{Dir: "x"}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "required") {
		t.Fatalf("%v", err)
	}
}

// TestCompileIsBounded: a compile that takes longer than CompileTimeout
// is an invalid config (nothing applied, the last good config kept), and
// a stop while a compile runs ends the loop at once, not when the compile
// does.
func TestCompileIsBounded(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	var slow atomic.Bool
	h.loop.Compile = func(dir string) (*compiler.Result, error) {
		if slow.Load() {
			<-release
		}
		return compiler.Compile(dir)
	}
	defer close(release)
	h.loop.CompileTimeout = 200 * time.Millisecond
	h.start()
	before := h.k.Writes

	slow.Store(true)
	h.edit("services.cue", servicesCUE(2, true))
	if s := h.debounced(); s.Outcome != Invalid || h.k.Writes != before {
		t.Fatalf("a compile past its timeout: %+v, %d writes", s, h.k.Writes-before)
	}
	if !strings.Contains(h.logs.String(), "took longer than 200ms") {
		t.Errorf("the timeout is not logged:\n%s", h.logs)
	}

	// A stop during a compile that would take for ever.
	h.loop.CompileTimeout = time.Hour
	h.edit("services.cue", servicesCUE(3, true))
	time.Sleep(50 * time.Millisecond) // let the debounce fire and the compile start
	h.clk.Advance(time.Second)
	start := time.Now()
	h.cancel()
	select {
	case <-h.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not stop during a compile")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stopping took %s", took)
	}
	h.cancel = nil
}
