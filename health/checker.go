package health

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// DefaultWorkers is the number of checks that run at once when
// Options.Workers is zero. A check holds a worker for its duration, up to
// its timeout, so the pool must cover the checks per second times the
// longest check: 512 is 10,000 targets at 1 s whose checks take 50 ms, or
// 1,000 targets at 5 s all timing out after 2.5 s. Beyond that, checks
// wait in the queue, and a target still waiting when its next turn comes
// skips that turn (counted).
const DefaultWorkers = 512

// tick is the scheduler's resolution: it wakes this often and starts what
// is due. Phases are multiples of it, so targets share wake-ups: 10,000
// targets at 1 s are 100 batches of 100, not 10,000 timers.
const tick = 10 * time.Millisecond

// Options configure a Checker. Every field is optional.
type Options struct {
	// Clock is RealClock{} when nil.
	Clock Clock
	// Probers run the checks, by type; DefaultProbers() when nil. A
	// target whose type has no prober fails every check.
	Probers map[Type]Prober
	// Workers bounds the checks running at once; DefaultWorkers when 0.
	Workers int
	// Logger gets one record per transition; slog.Default() when nil.
	Logger *slog.Logger
	// OnTransition, when set, is called once per transition, in order for
	// each target, from the worker that ran the check. It must return
	// quickly (hand the transition to another goroutine): the worker is
	// not checking while it runs. It may call the Checker's methods.
	OnTransition func(Transition)
	// Metrics, when set, records the checks and states.
	Metrics *Metrics
}

// Transition is a change of a target's state, decided by its checks.
type Transition struct {
	Key Key
	Up  bool      // the new state
	At  time.Time // when the deciding result arrived
	// Reason says why, for logs and plans: "3 failed http checks: 503",
	// "2 passed tcp checks".
	Reason string
	// Result is the deciding check's result.
	Result Result
}

// Status is a target's state as Checker.Status reports it.
type Status struct {
	Type Type
	Addr netip.AddrPort
	Up   bool
	// Since is when Up last changed; for a target with no transition yet,
	// when it was added with its initial state, or the time the snapshot
	// it was restored from says.
	Since time.Time
	// Restored: Up and Since come from a snapshot and no check has
	// finished since.
	Restored bool
	// Last is the newest result and LastAt when it arrived; both zero
	// before the first check finished.
	Last   Result
	LastAt time.Time
	// Passes and Fails count consecutive results; one of them is zero.
	Passes, Fails int
	// Checks counts the results since the target was added.
	Checks uint64
}

// Checker runs the checks of a set of targets and decides which are up.
// Its methods may be called from any goroutine.
type Checker struct {
	clock   Clock
	probers map[Type]Prober
	workers int
	log     *slog.Logger
	onTrans func(Transition)
	metrics *Metrics

	mu      sync.Mutex
	targets map[Key]*target
	queue   dueQueue
	seeds   map[Key]SnapshotTarget // from Restore, for the next Set
	running bool
	// pending are the checks due and not yet started, oldest first; the
	// workers wait on work for them.
	pending []job
	work    sync.Cond
	// lastSkipWarn rate-limits the warning about skipped checks.
	lastSkipWarn time.Time
}

// target is one Target inside the Checker. spec is replaced, never
// changed in place: a running check holds the pointer it started with.
type target struct {
	key  Key
	spec *Spec
	// gen counts spec changes: a result of an older spec is dropped.
	gen uint64
	// seq counts reschedules: a queue entry with an older seq is stale.
	seq  uint64
	busy bool // a check is queued or running
	st   state
}

// New returns a Checker with no targets.
func New(o Options) *Checker {
	c := &Checker{
		clock:   o.Clock,
		probers: o.Probers,
		workers: o.Workers,
		log:     o.Logger,
		onTrans: o.OnTransition,
		metrics: o.Metrics,
		targets: map[Key]*target{},
	}
	c.work.L = &c.mu
	if c.clock == nil {
		c.clock = RealClock{}
	}
	if c.probers == nil {
		c.probers = DefaultProbers()
	}
	if c.workers <= 0 {
		c.workers = DefaultWorkers
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c
}

// Set makes targets the set of targets checked, and returns an error
// (changing nothing) when one is invalid or two share a Key.
//
// A target whose Spec is unchanged keeps its state, counts and schedule. A
// target whose Spec changed keeps its up or down state — a config edit
// while a real server is down must not bring it back — but starts
// counting afresh and is rescheduled; a result of a check of the old Spec
// that is still running is dropped. A target no longer listed stops being
// checked and its metrics series are deleted. A new target starts with
// the state its snapshot gave (see Restore) or, without one, Spec.InitialUp;
// its first check comes within one interval, at a phase derived from its
// Key, so that many targets spread over the interval the same way on every
// start.
func (c *Checker) Set(targets []Target) error {
	specs := make(map[Key]*Spec, len(targets))
	for i := range targets {
		t := &targets[i]
		if t.Key.Service == "" || t.Key.Real == "" {
			return fmt.Errorf("health target %q: empty service or real server name", t.Key)
		}
		if _, dup := specs[t.Key]; dup {
			return fmt.Errorf("health target %s listed twice", t.Key)
		}
		s := t.Spec
		s.Expect = append([]int(nil), s.Expect...)
		s.Send = append([]byte(nil), s.Send...)
		s.Receive = append([]byte(nil), s.Receive...)
		s.Command = append([]string(nil), s.Command...)
		if err := s.Validate(); err != nil {
			return fmt.Errorf("health target %s: %w", t.Key, err)
		}
		specs[t.Key] = &s
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	for k, t := range c.targets {
		if _, ok := specs[k]; !ok {
			delete(c.targets, k)
			t.seq++ // its queue entry goes stale
			c.metrics.forget(k)
		}
	}
	for k, s := range specs {
		t, ok := c.targets[k]
		switch {
		case !ok:
			t = &target{key: k, spec: s, st: state{up: s.InitialUp, since: now}}
			if seed, ok := c.seeds[k]; ok {
				t.st.up, t.st.since, t.st.restored = seed.Up, seed.Since, true
				t.st.last, t.st.lastAt = Result{OK: seed.Up, Detail: seed.Detail}, seed.At
			}
			c.targets[k] = t
		case t.spec.equal(s):
			continue
		default:
			t.spec = s
			t.gen++
			t.seq++
			t.st.passes, t.st.fails = 0, 0
		}
		c.metrics.setUp(k, t.st.up)
		heap.Push(&c.queue, &entry{due: now.Add(phase(k, s.Interval)), t: t, seq: t.seq})
	}
	// Seeds are for the targets of the first config after a restart; a
	// real server added back much later must not inherit them.
	c.seeds = nil
	c.compact()
	return nil
}

// compact drops stale queue entries once they outnumber live ones, so a
// config that changes often does not grow the queue.
func (c *Checker) compact() {
	if len(c.queue) <= 2*len(c.targets)+64 {
		return
	}
	live := c.queue[:0]
	for _, e := range c.queue {
		if c.targets[e.t.key] == e.t && e.seq == e.t.seq {
			live = append(live, e)
		}
	}
	clear(c.queue[len(live):])
	c.queue = live
	heap.Init(&c.queue)
}

// phase is where in its interval a target's checks fall: a hash of its
// Key, in whole ticks.
func phase(k Key, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(k.Service))
	h.Write([]byte{0})
	h.Write([]byte(k.Real))
	slots := uint64(interval / tick)
	if slots == 0 {
		return 0
	}
	return time.Duration(h.Sum64()%slots) * tick
}

// Restore seeds the targets with the states of a snapshot saved by an
// earlier run, so that a restart does not flap them back to their
// initial state. A current target that has no result of its own yet takes
// its snapshot state now; targets of the next Set take theirs when they
// are added. Targets not in the snapshot keep or get Spec.InitialUp.
// From there, rise and fall count fresh results as usual: a target
// restored down needs rise passes to come up.
func (c *Checker) Restore(s Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seeds = make(map[Key]SnapshotTarget, len(s.Targets))
	for _, st := range s.Targets {
		k := Key{st.Service, st.Real}
		c.seeds[k] = st
		if t, ok := c.targets[k]; ok && t.st.checks == 0 {
			t.st.up, t.st.since, t.st.restored = st.Up, st.Since, true
			t.st.last, t.st.lastAt = Result{OK: st.Up, Detail: st.Detail}, st.At
			c.metrics.setUp(k, st.Up)
		}
	}
}

// Status returns every target's state.
func (c *Checker) Status() map[Key]Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[Key]Status, len(c.targets))
	for k, t := range c.targets {
		m[k] = t.status()
	}
	return m
}

// Lookup returns one target's state; ok is false for a key not checked.
func (c *Checker) Lookup(k Key) (s Status, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.targets[k]
	if !ok {
		return Status{}, false
	}
	return t.status(), true
}

func (t *target) status() Status {
	return Status{
		Type: t.spec.Type, Addr: t.spec.Addr,
		Up: t.st.up, Since: t.st.since, Restored: t.st.restored,
		Last: t.st.last, LastAt: t.st.lastAt,
		Passes: t.st.passes, Fails: t.st.fails, Checks: t.st.checks,
	}
}

// Snapshot returns the states to save for the next start, sorted by key.
func (c *Checker) Snapshot() Snapshot {
	c.mu.Lock()
	s := Snapshot{Version: SnapshotVersion, Saved: c.clock.Now().UTC(), Targets: make([]SnapshotTarget, 0, len(c.targets))}
	for k, t := range c.targets {
		s.Targets = append(s.Targets, SnapshotTarget{
			Service: k.Service, Real: k.Real, Up: t.st.up, Since: t.st.since.UTC(),
			At: t.st.lastAt.UTC(), Detail: t.st.last.Detail,
			Type: t.spec.Type, Addr: t.spec.Addr.String(), OK: t.st.last.OK,
			Passes: t.st.passes, Fails: t.st.fails, Checks: t.st.checks,
		})
	}
	c.mu.Unlock()
	sort.Slice(s.Targets, func(i, j int) bool {
		a, b := s.Targets[i], s.Targets[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Real < b.Real
	})
	return s
}

// job is one check handed to a worker.
type job struct {
	t    *target
	spec *Spec
	gen  uint64
}

// Run checks the targets until ctx is done, then waits for the checks in
// flight (their context is cancelled; their results are dropped, not
// counted as failures) and returns nil. Set may be called before and
// while Run runs. Run may run once at a time.
//
// One scheduler goroutine wakes every 10 ms and queues what is due for a
// fixed pool of Workers goroutines: the goroutines do not grow with the
// targets, and the queue holds each target at most once. A target whose
// previous check is still queued or running when the next is due skips
// that turn (counted in lvsgen_health_checks_skipped_total): a target
// never has two checks at once, and a slow check holds one worker, not
// the others.
func (c *Checker) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("health checker already running")
	}
	c.running = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running = false
		// Checks queued but never started are not running.
		for _, j := range c.pending {
			j.t.busy = false
		}
		c.pending = nil
		c.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopWake := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.work.Broadcast()
		c.mu.Unlock()
	})
	defer stopWake()
	var wg sync.WaitGroup
	for range c.workers {
		wg.Go(func() {
			for {
				j, ok := c.next(ctx)
				if !ok {
					return
				}
				c.check(ctx, j)
			}
		})
	}
	tk := c.clock.NewTicker(tick)
	defer tk.Stop()
	for {
		c.dispatch()
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-tk.C():
		}
	}
}

// next waits for a queued check; ok is false once ctx is done.
func (c *Checker) next(ctx context.Context) (j job, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) == 0 && ctx.Err() == nil {
		c.work.Wait()
	}
	if ctx.Err() != nil {
		return job{}, false
	}
	j = c.pending[0]
	c.pending[0] = job{}
	c.pending = c.pending[1:]
	// Wake workers one at a time, each the next: when checks are quick,
	// a few workers drain a tick's batch and the rest sleep (a wake-up
	// per check cost more CPU than the checks); when they are slow, every
	// worker that starts one wakes another, and the pool fills within
	// microseconds.
	if len(c.pending) > 0 {
		c.work.Signal()
	}
	return j, true
}

// dispatch queues every check due by now and schedules the next turn of
// each.
func (c *Checker) dispatch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	skipped := 0
	for len(c.queue) > 0 && !c.queue[0].due.After(now) {
		e := heap.Pop(&c.queue).(*entry)
		t := e.t
		if c.targets[t.key] != t || e.seq != t.seq {
			continue // removed, or rescheduled by Set
		}
		if t.busy {
			skipped++
		} else {
			t.busy = true
			c.pending = append(c.pending, job{t: t, spec: t.spec, gen: t.gen})
		}
		// The next turn keeps the phase; turns missed while the
		// scheduler was late are skipped, not caught up in a burst.
		iv := t.spec.Interval
		e.due = e.due.Add(iv)
		if !e.due.After(now) {
			e.due = e.due.Add(iv * (now.Sub(e.due)/iv + 1))
		}
		heap.Push(&c.queue, e)
	}
	if len(c.pending) > 0 {
		c.work.Signal() // the first; see next
	}
	if skipped > 0 {
		c.metrics.skip(skipped)
		if now.Sub(c.lastSkipWarn) >= time.Minute {
			c.lastSkipWarn = now
			c.log.Warn("health checks skipped: the previous check of the target had not finished", "skipped", skipped, "workers", c.workers)
		}
	}
}

// check runs one job and records its result.
func (c *Checker) check(ctx context.Context, j job) {
	s := j.spec
	start := c.clock.Now()
	var r Result
	if p, ok := c.probers[s.Type]; ok {
		pctx, cancel := context.WithTimeout(ctx, s.Timeout)
		r = p.Probe(pctx, s)
		cancel()
	} else {
		r = Result{Detail: "no prober for " + string(s.Type) + " checks"}
	}
	at := c.clock.Now()
	r.Duration = at.Sub(start)
	if ctx.Err() != nil { // shutting down: the result says nothing about the server
		c.mu.Lock()
		j.t.busy = false
		c.mu.Unlock()
		return
	}
	c.metrics.observe(s.Type, r.Duration)

	c.mu.Lock()
	t := j.t
	if c.targets[t.key] != t || t.gen != j.gen {
		t.busy = false
		c.mu.Unlock()
		return
	}
	reason := t.st.observe(r, at, s.Type, s.Rise, s.Fall)
	if reason == "" {
		t.busy = false
		c.mu.Unlock()
		return
	}
	tr := Transition{Key: t.key, Up: t.st.up, At: at, Reason: reason, Result: r}
	c.metrics.transition(t.key, tr.Up)
	c.mu.Unlock()

	// Outside the lock, so the callback may call Status; t stays busy
	// until it returns, so the next transition of t cannot overtake it.
	c.logTransition(tr, s)
	if c.onTrans != nil {
		c.onTrans(tr)
	}
	c.mu.Lock()
	t.busy = false
	c.mu.Unlock()
}

func (c *Checker) logTransition(tr Transition, s *Spec) {
	to, level := "down", slog.LevelWarn
	if tr.Up {
		to, level = "up", slog.LevelInfo
	}
	c.log.Log(context.Background(), level, "real server "+to,
		"service", tr.Key.Service, "real", tr.Key.Real, "addr", s.Addr.String(),
		"check", string(s.Type), "reason", tr.Reason)
}

// entry is a target's next turn in the scheduler's queue.
type entry struct {
	due time.Time
	t   *target
	seq uint64 // the target's seq when queued; older is stale
}

// dueQueue is a min-heap of entries by due time.
type dueQueue []*entry

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q dueQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)        { *q = append(*q, x.(*entry)) }
func (q *dueQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}
