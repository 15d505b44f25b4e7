//go:build linux

package health

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The load run: 10,000 tcp checks a second against local listeners,
// measuring the checker's CPU, heap and goroutines. It is a measurement,
// not a timed test: it runs only when asked, and records numbers for
// docs/PERFORMANCE.md rather than failing on them.
//
//	LVSGEN_HEALTH_LOAD=60s go test ./health -run '^TestLoad$' -v -timeout 0
//
// LVSGEN_HEALTH_LOAD is the run's duration (after a warm-up of two
// intervals); "1" means the default, 30 s. LVSGEN_HEALTH_TARGETS and
// LVSGEN_HEALTH_LISTENERS change the 10,000 targets and 250 listeners.
const (
	loadEnv          = "LVSGEN_HEALTH_LOAD"
	loadListenersEnv = "LVSGEN_HEALTH_LISTENERS"
	loadTargetsEnv   = "LVSGEN_HEALTH_TARGETS"
	loadChildEnv     = "LVSGEN_HEALTH_LOAD_CHILD"
	loadDefault      = 30 * time.Second
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// listenerAddr is listener i's address: 127.0.1.1 and on, one port.
func listenerAddr(i int, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 1 + byte(i/250), 1 + byte(i%250)}), port)
}

// TestLoadListeners is the listeners' process of TestLoad, so that the
// accepting side's CPU is not counted as the checker's. It runs only as
// TestLoad's child: it listens, prints "ready PORT", accepts and closes
// until its stdin closes.
func TestLoadListeners(t *testing.T) {
	if os.Getenv(loadChildEnv) == "" {
		t.Skip("the listeners of TestLoad, run by it")
	}
	n := envInt(loadListenersEnv, 250)
	first, err := net.Listen("tcp", listenerAddr(0, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	port := netip.MustParseAddrPort(first.Addr().String()).Port()
	ls := []net.Listener{first}
	for i := 1; i < n; i++ {
		l, err := net.Listen("tcp", listenerAddr(i, port).String())
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	for _, l := range ls {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	fmt.Printf("ready %d\n", port)
	io.Copy(io.Discard, os.Stdin)
}

type usage struct {
	wall      time.Time
	cpu       time.Duration // user + system
	sys       time.Duration
	heap      uint64 // bytes in use after a GC
	goroutine int
	threads   int // the process's OS threads: a worker waiting in poll holds one
	checks    uint64
}

// threads returns the process's thread count from /proc/self/status.
func threads() int {
	b, _ := os.ReadFile("/proc/self/status")
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

func measure(c *Checker) usage {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var checks uint64
	for _, s := range c.Status() {
		checks += s.Checks
	}
	return usage{
		wall:      time.Now(),
		cpu:       time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		sys:       time.Duration(ru.Stime.Nano()),
		heap:      ms.HeapInuse,
		goroutine: runtime.NumGoroutine(),
		threads:   threads(),
		checks:    checks,
	}
}

func TestLoad(t *testing.T) {
	v := os.Getenv(loadEnv)
	if v == "" {
		t.Skipf("a measurement: set %s=60s to run it", loadEnv)
	}
	dur := loadDefault
	if v != "1" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", loadEnv, v, err)
		}
		dur = d
	}
	nTargets := envInt(loadTargetsEnv, 10000)
	nListeners := envInt(loadListenersEnv, 250)

	child := exec.Command(os.Args[0], "-test.run=^TestLoadListeners$")
	child.Env = append(os.Environ(), loadChildEnv+"=1")
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("listeners: %v", err)
	}
	p, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(line), "ready "), 10, 16)
	if err != nil {
		t.Fatalf("listeners said %q", line)
	}
	port := uint16(p)

	// Two floors first, to tell the checker's cost from the kernel's: a
	// bare blocking connect and close on a raw socket (the kernel's part,
	// which on loopback includes the listener's half of the handshake),
	// and TCPProber alone in a loop (plus the net package's poller).
	const floorFor = 3 * time.Second
	raw := func() bool {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return false
		}
		defer syscall.Close(fd)
		a := listenerAddr(rand.IntN(nListeners), port)
		if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(port), Addr: a.Addr().As4()}); err != nil {
			return false
		}
		syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
		return true
	}
	probeOnce := func() bool {
		s := Spec{Type: TCP, Addr: listenerAddr(rand.IntN(nListeners), port), Timeout: 500 * time.Millisecond}
		ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
		defer cancel()
		return TCPProber{}.Probe(ctx, &s).OK
	}
	for _, f := range []struct {
		name string
		fn   func() bool
	}{{"raw socket connect+close", raw}, {"TCPProber.Probe alone", probeOnce}} {
		var ru0, ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		n, bad := 0, 0
		for start := time.Now(); time.Since(start) < floorFor; n++ {
			if !f.fn() {
				bad++
			}
		}
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
		t.Logf("floor, %s: %.1f µs CPU each (%.0f%% sys), %d in a loop, %d failed", f.name,
			float64(cpu.Microseconds())/float64(n), 100*float64(ru1.Stime.Nano()-ru0.Stime.Nano())/float64(cpu), n, bad)
	}

	reg := prometheus.NewRegistry()
	counted := &countingProber{p: TCPProber{}}
	c := New(Options{Metrics: NewMetrics(reg), Logger: discardLogger(), Probers: map[Type]Prober{TCP: counted}})
	ts := make([]Target, nTargets)
	for i := range ts {
		ts[i] = Target{
			Key: Key{Service: "svc" + strconv.Itoa(i/10), Real: "r" + strconv.Itoa(i%10)},
			Spec: Spec{Type: TCP, Addr: listenerAddr(i%nListeners, port), Interval: time.Second,
				Timeout: 500 * time.Millisecond, Rise: 2, Fall: 3, InitialUp: true},
		}
	}
	if err := c.Set(ts); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()

	time.Sleep(2 * time.Second) // every target's first check, at its phase
	start := measure(c)
	t.Logf("%d targets at 1 s on %d listeners, %d workers, GOMAXPROCS %d, %s", nTargets, nListeners, DefaultWorkers, runtime.GOMAXPROCS(0), dur)
	t.Logf("goroutines: %d before Run", before)
	t.Logf("%8s %10s %10s %10s %8s %12s", "t", "cores", "heap MiB", "goroutines", "threads", "checks/s")
	prev := start
	const window = 10 * time.Second
	for elapsed := time.Duration(0); elapsed < dur; {
		step := min(window, dur-elapsed)
		time.Sleep(step)
		elapsed += step
		u := measure(c)
		wall := u.wall.Sub(prev.wall)
		t.Logf("%8s %10.3f %10.1f %10d %8d %12.0f", elapsed.Round(time.Second),
			float64(u.cpu-prev.cpu)/float64(wall), float64(u.heap)/(1<<20), u.goroutine, u.threads,
			float64(u.checks-prev.checks)/wall.Seconds())
		prev = u
	}
	end := prev
	wall := end.wall.Sub(start.wall)
	checks := end.checks - start.checks
	t.Logf("whole run: %.3f cores (user+sys, %.0f%% sys), %.1f µs CPU per check, heap %.1f → %.1f MiB, goroutines %d → %d, threads %d → %d, %.0f checks/s",
		float64(end.cpu-start.cpu)/float64(wall), 100*float64(end.sys-start.sys)/float64(end.cpu-start.cpu),
		float64((end.cpu-start.cpu).Microseconds())/float64(checks),
		float64(start.heap)/(1<<20), float64(end.heap)/(1<<20),
		start.goroutine, end.goroutine, start.threads, end.threads, float64(checks)/wall.Seconds())

	down, failed := 0, 0
	for _, s := range c.Status() {
		if !s.Up {
			down++
		}
		if s.Fails > 0 {
			failed++
		}
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "lvsgen_health_checks_skipped_total" {
			t.Logf("checks skipped: %.0f", mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	counted.mu.Lock()
	t.Logf("failed checks: %d, slowest check: %s, failures seen: %q", counted.failed, counted.slowest, counted.details)
	counted.mu.Unlock()
	cancel()
	<-done
	stdin.Close()
	if err := child.Wait(); err != nil {
		t.Errorf("listeners: %v", err)
	}
	if ru, ok := child.ProcessState.SysUsage().(*syscall.Rusage); ok {
		lcpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		t.Logf("listeners' process (not counted above): %s CPU in all", lcpu.Round(time.Millisecond))
	}
	// Not an error: on a machine shared with other work, the listeners
	// and the checker may be starved; the numbers say so.
	t.Logf("at the end: %d targets down, %d with recent failures", down, failed)
}

// countingProber counts the failures of the prober it wraps.
type countingProber struct {
	p       Prober
	mu      sync.Mutex
	failed  int
	slowest time.Duration
	details []string // the first few distinct ones
}

func (c *countingProber) Probe(ctx context.Context, s *Spec) Result {
	start := time.Now()
	r := c.p.Probe(ctx, s)
	d := time.Since(start)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slowest = max(c.slowest, d)
	if !r.OK {
		c.failed++
		if len(c.details) < 5 && !slices.Contains(c.details, r.Detail) {
			c.details = append(c.details, r.Detail)
		}
	}
	return r
}
