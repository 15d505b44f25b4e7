package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/lvsgen/lvsgen/applier"
	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/overlay"
	"github.com/lvsgen/lvsgen/plan"
)

// CompileFunc compiles the config directory dir (symlinks resolved). It is
// the Compile method of a compiler.Compiler kept for the loop's life, which
// recompiles only what an edit changed, or compiler.Compile.
type CompileFunc func(dir string) (*compiler.Result, error)

// Applier plans and applies a host's desired state; *applier.Runner is
// one. Plan returns an error wrapping applier.ErrRefused, together with the
// plan, when a guard refuses it.
type Applier interface {
	Plan(ctx context.Context, want *hoststate.Host) (*plan.Plan, error)
	Apply(ctx context.Context, want *hoststate.Host, p *plan.Plan) (*applier.Result, error)
}

// editPlanner is an Applier that can plan an edited config reading less
// of the kernel (*applier.Runner's PlanAfterEdit): what an edit cannot
// have changed is taken from the last plan, and the resyncs, which use
// Plan, read everything.
type editPlanner interface {
	PlanAfterEdit(ctx context.Context, want *hoststate.Host) (*plan.Plan, error)
}

// Trigger is what started a cycle.
type Trigger string

// Triggers, as logged and as the trigger label of
// lvsgen_watch_applies_total.
const (
	TriggerStart  Trigger = "start"
	TriggerChange Trigger = "change"
	TriggerSignal Trigger = "sighup"
	TriggerResync Trigger = "resync"
	// TriggerHealth: a real server went down or came back.
	TriggerHealth Trigger = "health"
)

// Defaults of the loop's timings.
const (
	DefaultDebounce = 200 * time.Millisecond
	DefaultResync   = 30 * time.Second
	DefaultTimeout  = 2 * time.Minute
	// DefaultCompileTimeout bounds one compile: 10,000 services take
	// about 1.5 s; a config that takes minutes is a mistake or an attack.
	DefaultCompileTimeout = 5 * time.Minute
)

// Loop keeps one host's kernel equal to a config directory. Set the
// fields, then call Run once.
type Loop struct {
	// Dir is the config directory as given; it may be a symlink, which
	// is resolved at every cycle.
	Dir string
	// PolicyDirs are other directories Compile reads (--policy): their
	// files are part of the content hash.
	PolicyDirs []string
	// Host is the host whose kernel this is.
	Host string
	// Compile compiles the resolved config directory.
	Compile CompileFunc
	// Applier plans and applies; *applier.Runner, whose guards and
	// ownership state apply as in `lvsgen apply`.
	Applier Applier
	// Events are file changes (Watcher.Events); nil when there is no
	// watcher, leaving resyncs and SIGHUP.
	Events <-chan Event
	// Signals: SIGHUP recompiles at once; anything else stops the loop.
	Signals <-chan os.Signal
	// Clock is RealClock{} when nil.
	Clock Clock
	// Log is slog.Default() when nil.
	Log *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics
	// Debounce is how long the files must be quiet before a cycle
	// (DefaultDebounce when 0). A burst that never goes quiet is
	// cut after ten times that.
	Debounce time.Duration
	// Resync is the period of re-plans without a file change
	// (DefaultResync when 0; negative disables them).
	Resync time.Duration
	// Timeout bounds one plan-and-apply (DefaultTimeout when 0).
	Timeout time.Duration
	// CompileTimeout bounds one compile (DefaultCompileTimeout when 0):
	// a compile that takes longer is an invalid config — logged, not
	// applied, the last good one kept.
	CompileTimeout time.Duration

	// Health, when set, runs the config's health checks for the loop's
	// life; every cycle plans the config with the health laid over it.
	Health HealthChecker
	// HealthChanged receives a value when a real server's health
	// changed (see HealthNotifier): the loop plans and applies at once.
	HealthChanged <-chan struct{}
	// HealthFile is where the health is saved (health.SnapshotPath):
	// read at start, written at each health change, every HealthSave
	// and at stop. Empty: neither.
	HealthFile string
	// HealthSave is the period of the saves between changes
	// (DefaultHealthSave when 0).
	HealthSave time.Duration

	// Notify, when set, is told the loop's state in sd_notify(3)'s
	// words (daemon.SdNotify under systemd's Type=notify): READY=1 the
	// first time the kernel equals a config, STATUS= with the last
	// result when it changed, WATCHDOG=1 every Watchdog, STOPPING=1 at
	// stop. See notify.go.
	Notify func(state string) error
	// Watchdog is the period of WATCHDOG=1 (0: none): half systemd's
	// WatchdogSec, so that one late ping does not kill the service.
	Watchdog time.Duration

	// ready: READY=1 was sent. status is the last result, sentStatus
	// the last one sent. behind says why the newest config is not the
	// one running (invalid, refused), for the STATUS= of the resyncs
	// that keep re-applying the running one; empty when it is.
	ready              bool
	status, sentStatus string
	behind             string

	// stop is Run's context: a compile in progress is abandoned when it
	// ends (SIGTERM), unlike an apply, which always finishes.
	stop context.Context

	// seenHash is the hash of the config last compiled (valid or not).
	seenHash string
	// current is the config the kernel is kept equal to: the newest
	// valid config whose plan was not refused.
	current *config
	// refused is the hash of a config whose plan was refused.
	refused string

	// overlay lays the health over each config; it keeps the quorum
	// state of the services across cycles.
	overlay *overlay.Overlay

	// step, in tests, is told what each turn of the loop did.
	step func(Step)
}

// config is a compiled config for the host.
type config struct {
	want         *hoststate.Host
	hash, commit string
	dir          string
}

// Outcome is what a cycle did.
type Outcome string

// Outcomes of a cycle.
const (
	// Applied: the kernel now equals the config (possibly with no change).
	Applied Outcome = "applied"
	// Unchanged: the files changed but not the config; nothing to do.
	Unchanged Outcome = "unchanged"
	// Invalid: the config is invalid; nothing was applied.
	Invalid Outcome = "invalid"
	// Refused: a guard refused the plan; nothing was applied.
	Refused Outcome = "refused"
	// Failed: planning or applying failed.
	Failed Outcome = "failed"
	// Idle: a resync with no valid config to keep.
	Idle Outcome = "idle"
)

// Step is one turn of the loop, for tests.
type Step struct {
	// Kind is "event", "debounce", "resync", "signal", "health",
	// "start" or "stop".
	Kind string
	// Outcome and Changes are the cycle's, when the turn ran one.
	Outcome Outcome
	Changes int
}

// Run applies the config once, then keeps the kernel equal to it until a
// stop signal or ctx ends; an apply in flight is always finished first (its
// context is not ctx's). It returns nil when stopped.
func (l *Loop) Run(ctx context.Context) error {
	if l.Compile == nil || l.Applier == nil || l.Host == "" || l.Dir == "" {
		return errors.New("watch: Dir, Host, Compile and Applier are required")
	}
	if l.Clock == nil {
		l.Clock = RealClock{}
	}
	if l.Log == nil {
		l.Log = slog.Default()
	}
	if l.Debounce <= 0 {
		l.Debounce = DefaultDebounce
	}
	if l.Resync == 0 {
		l.Resync = DefaultResync
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.HealthSave <= 0 {
		l.HealthSave = DefaultHealthSave
	}
	if l.CompileTimeout <= 0 {
		l.CompileTimeout = DefaultCompileTimeout
	}
	l.stop = ctx
	applyCtx := context.WithoutCancel(ctx)
	l.Log.Info("watching", "dir", l.Dir, "host", l.Host, "debounce", l.Debounce.String(), "resync", l.Resync.String())
	var resync <-chan time.Time
	if l.Resync > 0 {
		t := l.Clock.NewTicker(l.Resync)
		defer t.Stop()
		resync = t.C()
	}
	// The checks run for the loop's life; they stop, and the health is
	// saved, after the apply in flight has finished.
	defer l.startHealth(ctx)()
	var saveHealth <-chan time.Time
	if l.Health != nil && l.HealthFile != "" {
		t := l.Clock.NewTicker(l.HealthSave)
		defer t.Stop()
		saveHealth = t.C()
	}
	// Pinged from the loop itself, not from a goroutine of its own: a
	// loop stuck in a kernel call stops the pings and systemd restarts
	// watch.
	var watchdog <-chan time.Time
	if l.Notify != nil && l.Watchdog > 0 {
		t := l.Clock.NewTicker(l.Watchdog)
		defer t.Stop()
		watchdog = t.C()
	}
	out, n := l.cycle(applyCtx, TriggerStart, true)
	l.report(Step{Kind: "start", Outcome: out, Changes: n})

	var debounce Timer
	var burst time.Time
	defer func() {
		if debounce != nil {
			debounce.Stop()
		}
	}()
	for {
		var fire <-chan time.Time
		if debounce != nil {
			fire = debounce.C()
		}
		select {
		case <-ctx.Done():
			l.Log.Info("stopping", "reason", context.Cause(ctx).Error())
			l.report(Step{Kind: "stop"})
			return nil
		case sig := <-l.Signals:
			if sig == syscall.SIGHUP {
				l.Log.Info("SIGHUP: recompiling")
				if debounce != nil {
					debounce.Stop()
					debounce = nil
				}
				out, n := l.cycle(applyCtx, TriggerSignal, true)
				l.report(Step{Kind: "signal", Outcome: out, Changes: n})
				continue
			}
			l.Log.Info("stopping", "signal", sig.String())
			l.report(Step{Kind: "stop"})
			return nil
		case ev, ok := <-l.Events:
			if !ok {
				l.Log.Warn("the file watcher stopped: changes are picked up at resync and on SIGHUP")
				l.Events = nil
				continue
			}
			now := l.Clock.Now()
			if debounce == nil {
				burst = now
				debounce = l.Clock.NewTimer(l.Debounce)
			} else {
				// Wait for quiet, but not for ever: a burst that
				// never pauses is cut at ten debounce periods.
				d := min(l.Debounce, burst.Add(10*l.Debounce).Sub(now))
				debounce.Reset(max(d, 0))
			}
			l.Log.Debug("file event", "path", ev.Path, "op", ev.Op)
			l.report(Step{Kind: "event"})
		case <-fire:
			debounce = nil
			out, n := l.cycle(applyCtx, TriggerChange, false)
			l.report(Step{Kind: "debounce", Outcome: out, Changes: n})
		case <-resync:
			out, n := l.cycle(applyCtx, TriggerResync, false)
			l.report(Step{Kind: "resync", Outcome: out, Changes: n})
		case <-l.HealthChanged:
			// Saved first, so that a manual plan or a restart sees
			// the decision this apply writes.
			l.saveHealth()
			out, n := Idle, 0
			if l.current != nil {
				out, n = l.apply(applyCtx, TriggerHealth, l.current, 0)
			}
			l.report(Step{Kind: "health", Outcome: out, Changes: n})
		case <-saveHealth:
			l.saveHealth()
		case <-watchdog:
			l.notify("WATCHDOG=1")
		}
	}
}

func (l *Loop) report(s Step) {
	l.notifyStep(s)
	if l.step != nil {
		l.step(s)
	}
}

// cycle reads the config and, when it changed (or force), compiles it and
// applies it when valid; a resync of an unchanged config re-plans the
// config being kept. It returns the outcome and the number of kernel
// changes made.
func (l *Loop) cycle(ctx context.Context, trigger Trigger, force bool) (Outcome, int) {
	dir, err := filepath.EvalSymlinks(l.Dir)
	if err == nil {
		var st os.FileInfo
		if st, err = os.Stat(dir); err == nil && !st.IsDir() {
			err = fmt.Errorf("%s is not a directory", dir)
		}
	}
	if err != nil {
		return l.invalid(trigger, "", "", fmt.Errorf("reading config directory: %w", err))
	}
	hash, err := HashDirs(append([]string{dir}, l.PolicyDirs...)...)
	if err != nil {
		return l.invalid(trigger, "", "", err)
	}
	if !force && hash == l.seenHash {
		if trigger != TriggerResync {
			l.Log.Debug("files changed but not the config", "config_hash", hash)
			return Unchanged, 0
		}
		if l.refused != "" && l.refused == hash {
			l.Log.Warn("the newest config is still refused; keeping the previous one", "config_hash", hash)
		}
		if l.current == nil {
			return Idle, 0
		}
		return l.apply(ctx, trigger, l.current, 0)
	}
	if trigger == TriggerResync {
		l.Log.Warn("the config changed without a file event; compiling it", "config_hash", hash)
		trigger = TriggerChange
	}
	l.seenHash = hash
	commit, err := GitCommit(dir)
	if err != nil {
		l.Log.Warn("cannot tell the git commit", "error", err)
	}
	start := l.Clock.Now()
	res, err := l.compile(dir)
	took := l.Clock.Now().Sub(start)
	if err != nil {
		return l.invalid(trigger, hash, commit, err)
	}
	if !res.Valid() {
		l.logDiagnostics(res.Diagnostics)
		return l.invalid(trigger, hash, commit, fmt.Errorf("the config has %d error(s)", countErrors(res.Diagnostics)))
	}
	l.logDiagnostics(res.Diagnostics) // warnings
	want, ok := res.Hosts[l.Host]
	if !ok {
		if _, declared := res.Config.Hosts[l.Host]; declared {
			return l.invalid(trigger, hash, commit, fmt.Errorf("host %q is not managed (managed: false)", l.Host))
		}
		return l.invalid(trigger, hash, commit, fmt.Errorf("no host %q in the config", l.Host))
	}
	l.Metrics.valid(true)
	return l.apply(ctx, trigger, &config{want: want, hash: hash, commit: commit, dir: dir}, took)
}

// compile runs l.Compile, bounded by CompileTimeout and by Run's
// context: SIGTERM during a long compile (a huge or pathological config)
// stops watch at once, not when the compile ends. An abandoned compile
// finishes in the background, its result dropped; the Compiler's own lock
// makes the next compile wait for it.
func (l *Loop) compile(dir string) (*compiler.Result, error) {
	stop := l.stop
	if stop == nil {
		stop = context.Background()
	}
	ctx, cancel := context.WithTimeout(stop, l.CompileTimeout)
	defer cancel()
	type result struct {
		res *compiler.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := l.Compile(dir)
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
		if stop.Err() != nil {
			return nil, fmt.Errorf("compiling %s: abandoned: %w", dir, context.Cause(stop))
		}
		return nil, fmt.Errorf("compiling %s: took longer than %s (--compile-timeout)", dir, l.CompileTimeout)
	}
}

// invalid records a config that cannot be applied.
func (l *Loop) invalid(trigger Trigger, hash, commit string, err error) (Outcome, int) {
	attrs := []any{"trigger", string(trigger), "error", err.Error()}
	if hash != "" {
		attrs = append(attrs, "config_hash", hash)
	}
	if commit != "" {
		attrs = append(attrs, "commit", commit)
	}
	if l.current != nil {
		attrs = append(attrs, "running_hash", l.current.hash)
	}
	l.Log.Error("invalid config: not applied; the kernel keeps the last good config", attrs...)
	l.setStatus("invalid config %s: %v; %s", short(hash), err, l.keeping())
	l.behind = "config " + short(hash) + " not applied: invalid"
	l.Metrics.valid(false)
	l.Metrics.failure(ReasonInvalidConfig)
	return Invalid, 0
}

func countErrors(ds diag.List) int {
	n := 0
	for _, d := range ds {
		if d.Severity == diag.Error {
			n++
		}
	}
	return n
}

// maxLoggedDiagnostics bounds the records one compile logs.
const maxLoggedDiagnostics = 50

func (l *Loop) logDiagnostics(ds diag.List) {
	for i, d := range ds {
		if i == maxLoggedDiagnostics {
			l.Log.Error("more diagnostics not logged", "count", len(ds)-i)
			return
		}
		level := slog.LevelError
		switch d.Severity {
		case diag.Warning:
			level = slog.LevelWarn
		case diag.Info:
			level = slog.LevelInfo
		}
		attrs := []any{"pos", d.Pos.String(), "rule", d.Rule}
		if d.Path != "" {
			attrs = append(attrs, "path", d.Path)
		}
		if d.Hint != "" {
			attrs = append(attrs, "hint", d.Hint)
		}
		l.Log.Log(context.Background(), level, d.Message, attrs...)
	}
}

// apply plans and applies c.
func (l *Loop) apply(ctx context.Context, trigger Trigger, c *config, compileTook time.Duration) (Outcome, int) {
	ctx, cancel := context.WithTimeout(ctx, l.Timeout)
	defer cancel()
	attrs := []any{"trigger", string(trigger), "config_hash", c.hash}
	if c.commit != "" {
		attrs = append(attrs, "commit", c.commit)
	}
	if compileTook > 0 {
		attrs = append(attrs, "compile_seconds", seconds(compileTook))
	}
	if c != l.current {
		// A new config checks its own real servers before its plan,
		// so that the overlay has their states (restored, or
		// initial); back to the running config's if it is refused.
		l.setTargets(c)
	}
	want := l.withHealth(c)
	start := l.Clock.Now()
	var p *plan.Plan
	var err error
	if ep, ok := l.Applier.(editPlanner); ok && trigger == TriggerChange {
		p, err = ep.PlanAfterEdit(ctx, want)
	} else {
		p, err = l.Applier.Plan(ctx, want)
	}
	planTook := l.Clock.Now().Sub(start)
	attrs = append(attrs, "plan_seconds", seconds(planTook))
	if errors.Is(err, applier.ErrRefused) {
		l.Metrics.observe(planTook)
		l.Metrics.failure(ReasonRefused)
		l.refused = c.hash
		if p != nil {
			attrs = append(attrs, "deletes", p.Deletes(), "plan", plan.Summary(p.Ops))
		}
		if l.current != nil {
			attrs = append(attrs, "running_hash", l.current.hash)
		}
		l.Log.Error("PLAN REFUSED: not applied; the kernel keeps its state. Fix the config, or stop watch and apply by hand with a higher limit", append(attrs, "error", err.Error())...)
		l.setStatus("plan of config %s refused: %v; %s", short(c.hash), err, l.keeping())
		l.behind = "config " + short(c.hash) + " not applied: plan refused"
		if c != l.current {
			l.setTargets(l.current)
		}
		return Refused, 0
	}
	if c != l.current {
		// The newest valid config is the one to converge to, even if
		// this attempt fails: resyncs retry it.
		l.current, l.refused, l.behind = c, "", ""
	}
	if err != nil {
		l.Metrics.observe(planTook)
		l.Metrics.failure(ReasonKernelError)
		l.Log.Error("planning failed; retrying at the next resync", append(attrs, "error", err.Error())...)
		l.setStatus("planning config %s failed: %v; retrying at the next resync", short(c.hash), err)
		return Failed, 0
	}
	applyStart := l.Clock.Now()
	res, err := l.Applier.Apply(ctx, want, p)
	applyTook := l.Clock.Now().Sub(applyStart)
	l.Metrics.observe(l.Clock.Now().Sub(start))
	attrs = append(attrs, "apply_seconds", seconds(applyTook))
	if res == nil {
		res = &applier.Result{}
	}
	done := 0
	for _, op := range res.Done {
		if op.Action != plan.Wait {
			done++
		}
	}
	if len(res.Done) > 0 {
		attrs = append(attrs, "done", plan.Summary(res.Done))
	}
	if err != nil {
		l.Metrics.failure(ReasonKernelError)
		if notDone := res.Undone(); len(notDone) > 0 {
			attrs = append(attrs, "not_done", plan.Summary(notDone))
		}
		l.Log.Error("apply failed; retrying at the next resync", append(attrs, "error", err.Error())...)
		l.setStatus("applying config %s failed: %v; retrying at the next resync", short(c.hash), err)
		return Failed, done
	}
	l.Metrics.success(trigger, l.Clock.Now(), want, res.Done, c.hash, c.commit)
	l.setStatus("applied config %s (%s%s): %d changes%s", short(c.hash), trigger, commitNote(c.commit), p.Changes(), behindNote(l.behind))
	attrs = append(attrs, "changes", p.Changes())
	if w := p.Changes() - len(res.Done); w < 0 {
		attrs = append(attrs, "draining", -w)
	}
	if len(p.Unmanaged) > 0 {
		attrs = append(attrs, "unmanaged", len(p.Unmanaged))
	}
	switch {
	case trigger == TriggerResync && p.Changes() > 0:
		l.Log.Warn("resync changed the kernel: drift repaired or drain finished", attrs...)
	case trigger == TriggerResync:
		l.Log.Debug("resync: the kernel matches the config", attrs...)
	case trigger == TriggerHealth && p.Changes() > 0:
		l.Log.Info("applied a health change", append(attrs, "ops", healthOps(p))...)
	case trigger == TriggerHealth:
		l.Log.Debug("health change: the kernel already matched", attrs...)
	case p.Changes() > 0:
		l.Log.Info("applied", attrs...)
	default:
		l.Log.Info("applied: the kernel already matched the config", attrs...)
	}
	return Applied, p.Changes()
}

// seconds rounds d to a microsecond, in seconds, for the logs.
func seconds(d time.Duration) float64 { return d.Round(time.Microsecond).Seconds() }
