package watch

import (
	"sync"
	"time"
)

// fakeClock is a Clock whose time moves only when a test calls Advance.
// Timers and tickers that come due fire during Advance, before it returns.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

type fakeTimer struct {
	clk    *fakeClock
	c      chan time.Time
	when   time.Time
	period time.Duration // tickers
	active bool
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) add(d, period time.Duration) *fakeTimer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{clk: f, c: make(chan time.Time, 1), when: f.now.Add(d), period: period, active: true}
	f.timers = append(f.timers, t)
	return t
}

func (f *fakeClock) NewTimer(d time.Duration) Timer   { return f.add(d, 0) }
func (f *fakeClock) NewTicker(d time.Duration) Ticker { return f.add(d, d) }

// Advance moves the time on by d and fires what came due.
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	for _, t := range f.timers {
		if !t.active || t.when.After(f.now) {
			continue
		}
		select {
		case t.c <- f.now:
		default: // a tick not received yet: dropped, as time.Ticker does
		}
		if t.period == 0 {
			t.active = false
			continue
		}
		for !t.when.After(f.now) {
			t.when = t.when.Add(t.period)
		}
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	select {
	case <-t.c:
	default:
	}
	t.when, t.active = t.clk.now.Add(d), true
}

func (t *fakeTimer) Stop() {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	t.active = false
}
