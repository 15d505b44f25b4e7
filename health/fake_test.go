package health

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock whose time moves only when a test calls Advance.
// Tickers that come due fire during Advance, at most once per Advance (a
// tick not received is dropped, as time.Ticker does).
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

type fakeTicker struct {
	c       chan time.Time
	period  time.Duration
	next    time.Time
	stopped bool
}

var epoch = time.Date(2026, 12, 7, 12, 3, 0, 0, time.UTC)

func newFakeClock() *fakeClock { return &fakeClock{now: epoch} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTicker(d time.Duration) Ticker {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time, 1), period: d, next: f.now.Add(d)}
	f.tickers = append(f.tickers, t)
	return t
}

// Advance moves the time on by d and fires the tickers that came due.
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	for _, t := range f.tickers {
		if t.stopped || t.next.After(f.now) {
			continue
		}
		select {
		case t.c <- f.now:
		default:
		}
		for !t.next.After(f.now) {
			t.next = t.next.Add(t.period)
		}
	}
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }
func (t *fakeTicker) Stop()               { t.stopped = true }

// fakeProber answers from a script per address: each check takes the next
// result, the last one repeats; an address without a script passes. A
// channel in block holds a check of that address until it is closed.
type fakeProber struct {
	mu       sync.Mutex
	script   map[netip.AddrPort][]Result
	block    map[netip.AddrPort]chan struct{}
	calls    map[netip.AddrPort]int
	running  map[netip.AddrPort]int
	overlap  bool // two checks of one address ran at once
	finished int  // checks returned, all addresses
}

func newFakeProber() *fakeProber {
	return &fakeProber{
		script:  map[netip.AddrPort][]Result{},
		block:   map[netip.AddrPort]chan struct{}{},
		calls:   map[netip.AddrPort]int{},
		running: map[netip.AddrPort]int{},
	}
}

func (p *fakeProber) Probe(ctx context.Context, s *Spec) Result {
	p.mu.Lock()
	p.calls[s.Addr]++
	p.running[s.Addr]++
	if p.running[s.Addr] > 1 {
		p.overlap = true
	}
	r := Result{OK: true, Detail: "ok"}
	if sc := p.script[s.Addr]; len(sc) > 0 {
		r = sc[0]
		if len(sc) > 1 {
			p.script[s.Addr] = sc[1:]
		}
	}
	b := p.block[s.Addr]
	p.mu.Unlock()
	if b != nil {
		select {
		case <-b:
		case <-ctx.Done():
		}
	}
	p.mu.Lock()
	p.running[s.Addr]--
	p.finished++
	p.mu.Unlock()
	return r
}

func (p *fakeProber) set(a netip.AddrPort, rs ...Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.script[a] = rs
}

func (p *fakeProber) callsTo(a netip.AddrPort) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[a]
}

var (
	pass    = Result{OK: true, Detail: "ok"}
	fail503 = Result{Detail: "503"}
)

// addr returns 10.0.x.y:80 for target i.
func addr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 80)
}

// spec returns a tcp Spec for target i: 1 s interval, rise 2, fall 3,
// initially up.
func spec(i int) Spec {
	return Spec{Type: TCP, Addr: addr(i), Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 3, InitialUp: true}
}

func key(i int) Key { return Key{Service: "web", Real: "r" + strconv.Itoa(i)} }

// harness runs a Checker on a fake clock with a fake prober and records
// its transitions.
type harness struct {
	t      *testing.T
	clock  *fakeClock
	prober *fakeProber
	c      *Checker
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	trans []Transition
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	h := &harness{t: t, clock: newFakeClock(), prober: newFakeProber(), done: make(chan struct{})}
	o.Clock = h.clock
	o.Probers = map[Type]Prober{TCP: h.prober, HTTP: h.prober, Exec: h.prober}
	o.OnTransition = func(tr Transition) {
		h.mu.Lock()
		h.trans = append(h.trans, tr)
		h.mu.Unlock()
	}
	if o.Logger == nil {
		o.Logger = discardLogger()
	}
	h.c = New(o)
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		if err := h.c.Run(ctx); err != nil {
			h.t.Errorf("Run: %v", err)
		}
	}()
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
}

func (h *harness) set(ts ...Target) {
	h.t.Helper()
	if err := h.c.Set(ts); err != nil {
		h.t.Fatalf("Set: %v", err)
	}
}

// waitChecks waits until target k has n results and its last check is
// over.
func (h *harness) waitChecks(k Key, n uint64) Status {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, ok := h.c.Lookup(k)
		// Not busy: the check is over, its transition logged and
		// delivered, not just counted.
		h.c.mu.Lock()
		busy := ok && h.c.targets[k].busy
		h.c.mu.Unlock()
		if ok && s.Checks >= n && !busy {
			if s.Checks > n {
				h.t.Fatalf("%s: %d checks, want %d", k, s.Checks, n)
			}
			return s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: %d checks after 10s, want %d", k, s.Checks, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitFor waits until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// Generous: these wait for work on a machine CI and other jobs share,
	// and only a failure ever waits this long.
	// The poll backs off to 20ms: some conditions read the status of
	// 10,000 targets, and polling them every millisecond competes with the
	// very work being waited for (TestBoundedGoroutines ran out of time so
	// with the machine loaded).
	const limit = 120 * time.Second
	deadline := time.Now().Add(limit)
	for pause := time.Millisecond; !cond(); pause = min(2*pause, 20*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up after %s", what, limit)
		}
		time.Sleep(pause)
	}
}

func (p *fakeProber) finishedChecks() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.finished
}

func (h *harness) transitions() []Transition {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Transition(nil), h.trans...)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func netipAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
