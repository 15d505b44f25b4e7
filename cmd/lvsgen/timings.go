package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// envTimings names the variable that makes plan and apply report, on
// stderr, how long each of their phases took. It is for finding where a
// whole command's time goes where no profiler is at hand (the e2e VM,
// an operator's balancer); docs/PERFORMANCE.md uses it.
const envTimings = "LVSGEN_TIMINGS"

// timings records the phases of one command. A nil *timings (the
// variable unset) records nothing, so callers mark unconditionally.
type timings struct {
	w     io.Writer
	last  time.Time
	start time.Time
	parts []string
}

// newTimings starts the clock when LVSGEN_TIMINGS=1, else returns nil.
func newTimings(w io.Writer) *timings {
	if os.Getenv(envTimings) != "1" {
		return nil
	}
	now := time.Now()
	return &timings{w: w, last: now, start: now}
}

// mark ends the phase called name: the time since the previous mark.
func (t *timings) mark(name string) {
	if t == nil {
		return
	}
	now := time.Now()
	t.parts = append(t.parts, fmt.Sprintf("%s %s", name, now.Sub(t.last).Round(time.Millisecond)))
	t.last = now
}

// report writes one line: each phase, the command's total, and the Go
// runtime's garbage collections and peak heap, which under emulation
// cost as much as the work itself.
func (t *timings) report() {
	if t == nil {
		return
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(t.w, "lvsgen: timings: %s; total %s; %d GCs (%s paused), heap peak %d MiB\n",
		strings.Join(t.parts, ", "), time.Since(t.start).Round(time.Millisecond),
		ms.NumGC, time.Duration(ms.PauseTotalNs).Round(time.Millisecond), ms.HeapSys>>20)
}
