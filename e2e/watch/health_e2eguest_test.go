//go:build e2eguest

package watch

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// The checks' timing: fall × interval is how long a dead real server
// keeps getting new connections, rise × interval how long a healthy one
// waits to come back.
const (
	checkInterval = time.Second
	checkFall     = 2
	checkRise     = 2
	// tcgSlack is added to every health deadline: under qemu's TCG a check,
	// an apply and an ipvsadm poll each take tens of milliseconds, and the
	// first failed check may come up to one interval after the failure.
	// On a host loaded with other work (seen: load average 15 on 2 cores)
	// the guest runs several times slower still, and a rise of 2s took
	// over 8s: the slack bounds a hang, while the log reports the real
	// times.
	tcgSlack = 12 * time.Second
)

// healthHostsCUE is hostsCUE's NAT topology with a sorry server on the
// real servers' LAN (CUE unifies the two declarations of hosts).
const healthHostsCUE = hostsCUE + `
hosts: sorry: interfaces: eth0: addresses: ["10.0.2.20/24"]
`

// healthServicesCUE has one service per check type: web (http, port 8080,
// three real servers and the sorry server), tcp (port 8081) and exec (port
// 8082, the script at script run as user), each over its own VIP.
func healthServicesCUE(script, user string) string {
	timing := fmt.Sprintf(`interval: "%s", timeout: "%s", fall: %d, rise: %d`,
		checkInterval, checkInterval, checkFall, checkRise)
	return fmt.Sprintf(`package lvs

services: "web": {
	cluster:    "inside"
	vip:        "10.0.1.100"
	port:       80
	forwarding: "nat"
	scheduler:  "rr"
	check: {type: "http", path: "/", expect: [200], %[1]s}
	sorry: {host: "sorry", port: 8080}
	reals: [{host: "rs1", port: 8080}, {host: "rs2", port: 8080}, {host: "rs3", port: 8080}]
}

services: "tcp": {
	cluster:    "inside"
	vip:        "10.0.1.101"
	port:       80
	forwarding: "nat"
	scheduler:  "rr"
	check: {type: "tcp", %[1]s}
	reals: [{host: "rs1", port: 8081}, {host: "rs2", port: 8081}]
}

services: "exec": {
	cluster:    "inside"
	vip:        "10.0.1.102"
	port:       80
	forwarding: "nat"
	scheduler:  "rr"
	check: {type: "exec", command: [%[2]q], user: %[3]q, %[1]s}
	reals: [{host: "rs1", port: 8082}, {host: "rs2", port: 8082}]
}
`, timing, script, user)
}

// checkScript is the exec check: it fails for a real server whose flag
// file exists in its own directory, and as root, which the check must
// never run as; it prints its uid, which `lvsgen status` shows.
const checkScript = `#!/bin/sh
uid=$(id -u)
if [ "$uid" = 0 ]; then echo "ran as root"; exit 2; fi
if [ -e "$(dirname "$0")/down-$LVSGEN_REAL_ADDR" ]; then echo "flagged down, uid $uid"; exit 1; fi
echo "ok, uid $uid"
`

// request is one request of the client's continuous traffic.
type request struct {
	start  time.Time
	answer string // the answering server's name
	err    error
}

// traffic is a client sending requests to one VIP, one after the other,
// until stopped (or for at most maxTrafficRequests and maxTrafficTime).
type traffic struct {
	stopc chan struct{}
	done  chan struct{}
	reqs  []request
}

const (
	maxTrafficRequests = 20000
	maxTrafficTime     = 3 * time.Minute
)

func startTraffic(client *topo.Node, vip string) *traffic {
	tr := &traffic{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		deadline := time.Now().Add(maxTrafficTime)
		for i := 0; i < maxTrafficRequests && time.Now().Before(deadline); i++ {
			select {
			case <-tr.stopc:
				return
			default:
			}
			start := time.Now()
			name, err := client.HTTPGet(vip + ":80")
			tr.reqs = append(tr.reqs, request{start: start, answer: name, err: err})
		}
	}()
	return tr
}

// stop ends the traffic and returns its requests.
func (tr *traffic) stop() []request {
	close(tr.stopc)
	<-tr.done
	return tr.reqs
}

// splitAt counts the requests started before and from t: how many, how
// many failed (with the first error), and who answered those from t.
type trafficCount struct {
	before, failedBefore int
	after, failedAfter   int
	answersAfter         map[string]int
	failed               []request
}

// failures describes the first failed requests, their start relative to
// since.
func (c trafficCount) failures(since time.Time) string {
	var parts []string
	for i, r := range c.failed {
		if i == 5 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("+%s: %v", r.start.Sub(since).Round(time.Millisecond), r.err))
	}
	return strings.Join(parts, "; ")
}

func splitAt(reqs []request, t time.Time) trafficCount {
	c := trafficCount{answersAfter: map[string]int{}}
	for _, r := range reqs {
		if r.err != nil {
			c.failed = append(c.failed, r)
		}
		if r.start.Before(t) {
			c.before++
			if r.err != nil {
				c.failedBefore++
			}
			continue
		}
		c.after++
		if r.err != nil {
			c.failedAfter++
			continue
		}
		c.answersAfter[r.answer]++
	}
	return c
}

// healthLab is the NAT topology with watch running health checks on the
// director.
type healthLab struct {
	*lab
	lvsgen string
	state  string
}

// weight returns the IPVS weight of real server rs of service vip in
// kernel (`ipvsadm -S -n` lines), -1 when it is not a destination.
func weight(t *testing.T, kernel []string, vip, rs string) int {
	t.Helper()
	prefix := fmt.Sprintf("-a -t %s:80 -r %s ", vip, rs)
	for _, line := range kernel {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		i := strings.Index(line, " -w ")
		if i < 0 {
			t.Fatalf("no weight in %q", line)
		}
		var w int
		if _, err := fmt.Sscanf(line[i+4:], "%d", &w); err != nil {
			t.Fatalf("weight in %q: %v", line, err)
		}
		return w
	}
	return -1
}

// waitWeights polls the kernel until every real server of vip in want has
// its weight (-1: not a destination) and returns when that was first seen.
// It fails the test after limit.
func (l *healthLab) waitWeights(what, vip string, want map[string]int, limit time.Duration) time.Time {
	l.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		// One ipvsadm a round: under TCG each takes long enough to
		// delay the detection seen by seconds if run per real server.
		kernel, ok := l.kernel(), true
		for rs, w := range want {
			if weight(l.t, kernel, vip, rs) != w {
				ok = false
				break
			}
		}
		if ok {
			return time.Now()
		}
		if l.w.exited() {
			l.t.Fatalf("%s: watch exited (%v)\n%s", what, l.w.err, l.w.output())
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%s: after %s the kernel still holds\n%s\nwant for %s: %v\nwatch log:\n%s",
				what, limit, strings.Join(kernel, "\n"), vip, want, l.w.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// timeline is when watch decided a real server's change (its "real
// server up|down" record) and wrote it to the kernel (the next "applied a
// health change" record), after since.
type timeline struct {
	since, decided, applied time.Time
}

func (tl timeline) String() string {
	if tl.decided.IsZero() {
		return "watch logged no decision"
	}
	s := fmt.Sprintf("watch decided at +%s", tl.decided.Sub(tl.since).Round(time.Millisecond))
	if tl.applied.IsZero() {
		return s + ", no apply logged"
	}
	return s + fmt.Sprintf(", applied at +%s", tl.applied.Sub(tl.since).Round(time.Millisecond))
}

// boundary is the first moment the kernel surely held the change: the
// earlier of watch's apply record and seen, when the test's poll saw it
// (both come after the kernel write).
func (tl timeline) boundary(seen time.Time) time.Time {
	if !tl.applied.IsZero() && tl.applied.Before(seen) {
		return tl.applied
	}
	return seen
}

// timeline returns when, after since, watch logged real of service going
// to (up or down) and applied it: where a detection's time went.
func (l *healthLab) timeline(to, service, real string, since time.Time) timeline {
	at := func(r map[string]any) time.Time {
		s, _ := r["time"].(string)
		t, _ := time.Parse(time.RFC3339Nano, s)
		return t
	}
	tl := timeline{since: since}
	// The apply record follows the kernel write by moments: wait a little
	// for it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, r := range l.transitions(to, service, real) {
			if t := at(r); !t.Before(since) {
				tl.decided = t
				break
			}
		}
		if !tl.decided.IsZero() {
			for _, r := range l.w.records("applied a health change") {
				if t := at(r); !t.Before(tl.decided) {
					tl.applied = t
					break
				}
			}
		}
		if !tl.applied.IsZero() || time.Now().After(deadline) {
			return tl
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startWatch starts `lvsgen watch` in the director's namespace, with
// JSON logs the test reads; it is killed at the end of the test unless
// stopWatch stopped it.
func (l *healthLab) startWatch() {
	t := l.t
	t.Helper()
	w := &watcher{done: make(chan struct{})}
	// The VM's /etc is shared by every namespace: the rules and sysctl
	// files go to the test's directory.
	w.cmd = exec.Command(l.lvsgen, "watch", l.config, "--host", "dir", "--state-dir", l.state,
		"--rules-file", filepath.Join(l.state, "ipvsadm.rules"), "--sysctl-file", filepath.Join(l.state, "90-lvsgen.conf"),
		"--resync", "2s", "--log-format", "json", "--log-level", "debug")
	stderr, err := w.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.dir.Start(w.cmd); err != nil {
		t.Fatalf("starting lvsgen watch: %v", err)
	}
	go func() {
		w.read(bufio.NewScanner(stderr))
		w.err = w.cmd.Wait()
		close(w.done)
	}()
	t.Cleanup(func() {
		if !w.exited() {
			_ = w.cmd.Process.Kill()
			<-w.done
		}
		if t.Failed() {
			t.Logf("watch log:\n%s", w.output())
		}
	})
	l.w = w
}

// stopWatch stops watch with SIGTERM and fails the test unless it exits 0.
func (l *healthLab) stopWatch() {
	l.t.Helper()
	l.w.stop(l.t)
}

// transitions returns how many "real server <to>" records watch logged
// for real.
func (l *healthLab) transitions(to, service, real string) []map[string]any {
	var out []map[string]any
	for _, r := range l.w.records("real server " + to) {
		if r["service"] == service && r["real"] == real {
			out = append(out, r)
		}
	}
	return out
}

// execUser returns an unprivileged user for the exec check. The VM's
// /etc/passwd holds root alone (e2e/vm writes it), so nobody is added for
// the test's lifetime: the VM is thrown away after the run, and the files
// are put back for the tests that follow in it.
func execUser(t *testing.T) string {
	t.Helper()
	if _, err := user.Lookup("nobody"); err == nil {
		return "nobody"
	}
	for _, f := range []struct{ path, line string }{
		{"/etc/passwd", "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{"/etc/group", "nogroup:x:65534:\n"},
	} {
		old, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.path, append(old, f.line...), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.WriteFile(f.path, old, 0o644) })
	}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Fatalf("nobody after adding it to /etc/passwd: %v", err)
	}
	return "nobody"
}

func TestWatchHealthChecks(t *testing.T) {
	guest.Require(t)
	lvsgen := guest.Lvsgen(t)
	tp := topo.New(t)
	front := tp.Subnet("front", "10.0.1.0/24")
	back := tp.Subnet("back", "10.0.2.0/24")
	l := &healthLab{lab: &lab{t: t, config: t.TempDir()}, lvsgen: lvsgen, state: t.TempDir()}
	l.client = tp.Client("client", front, "10.0.1.10")
	l.dir = tp.Director("dir", front, "10.0.1.2")
	l.dir.Attach(back, "10.0.2.1")
	web := map[string]*topo.HTTPServer{}
	tcp := map[string]*topo.HTTPServer{}
	for i, addr := range []string{"10.0.2.11", "10.0.2.12", "10.0.2.13", "10.0.2.20"} {
		name := fmt.Sprintf("rs%d", i+1)
		if addr == "10.0.2.20" {
			name = "sorry"
		}
		rs := tp.RealServer(name, back, addr)
		rs.DefaultRoute("10.0.2.1")
		web[addr] = rs.StartHTTP(8080)
		if name == "rs1" || name == "rs2" {
			tcp[addr] = rs.StartHTTP(8081)
			rs.ServeHTTP(8082)
		}
	}

	// The exec check's script, in a directory the unprivileged user can
	// read (t.TempDir is root's alone).
	checkUser := execUser(t)
	scriptDir, err := os.MkdirTemp("", "lvsgen-health-exec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(scriptDir) })
	if err := os.Chmod(scriptDir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(scriptDir, "check.sh")
	if err := os.WriteFile(script, []byte(checkScript), 0o755); err != nil {
		t.Fatal(err)
	}
	l.writeFile("hosts.cue", healthHostsCUE)
	l.writeFile("services.cue", healthServicesCUE(script, checkUser))

	if res, err := l.dir.Run(lvsgen, "plan", l.config, "--host", "dir", "--state-dir", l.state); err != nil {
		t.Fatal(err)
	} else if strings.Contains(res.Stderr, stubMessage) {
		t.Skipf("lvsgen has no kernel yet (cmd/lvsgen/kernel.go: %q): watch cannot run", stubMessage)
	} else if res.Exit != 0 {
		t.Fatalf("lvsgen plan: %s", res)
	}

	l.startWatch()

	const (
		webVIP, tcpVIP, execVIP = "10.0.1.100", "10.0.1.101", "10.0.1.102"
		rs1, rs2, rs3, sorry    = "10.0.2.11:8080", "10.0.2.12:8080", "10.0.2.13:8080", "10.0.2.20:8080"
	)
	allUp := map[string]int{rs1: 1, rs2: 1, rs3: 1, sorry: -1}
	l.waitWeights("start", webVIP, allUp, 60*time.Second)
	l.waitWeights("start", tcpVIP, map[string]int{"10.0.2.11:8081": 1, "10.0.2.12:8081": 1}, 60*time.Second)
	l.waitWeights("start", execVIP, map[string]int{"10.0.2.11:8082": 1, "10.0.2.12:8082": 1}, 60*time.Second)
	// Let every check pass a few times, so that a check that cannot pass
	// (the exec script as a user that cannot run it) shows before the test
	// takes anything down.
	time.Sleep(checkInterval * (checkFall + 2))
	l.waitWeights("all checks pass", webVIP, allUp, time.Second)
	l.waitWeights("all checks pass", tcpVIP, map[string]int{"10.0.2.11:8081": 1, "10.0.2.12:8081": 1}, time.Second)
	l.waitWeights("all checks pass", execVIP, map[string]int{"10.0.2.11:8082": 1, "10.0.2.12:8082": 1}, time.Second)
	if recs := l.w.records("real server down"); len(recs) > 0 {
		t.Fatalf("a real server went down while all were healthy: %v\n%s", recs, l.w.output())
	}

	detectLimit := checkInterval*checkFall + tcgSlack
	riseLimit := checkInterval*checkRise + tcgSlack

	// http: rs1's listener stops while the client sends requests.
	tr := startTraffic(l.client, webVIP)
	time.Sleep(time.Second) // some traffic over all three first
	stop := time.Now()
	web["10.0.2.11"].Stop()
	seen := l.waitWeights("http: rs1 stopped", webVIP, map[string]int{rs1: 0, rs2: 1, rs3: 1, sorry: -1}, detectLimit)
	tl := l.timeline("down", "web", "rs1", stop)
	detected := tl.boundary(seen)
	time.Sleep(3 * time.Second) // traffic after detection
	c := splitAt(tr.stop(), detected)
	t.Logf("http: rs1 stopped, quiesced (weight 0) after %s (fall %d × interval %s; %s; seen by ipvsadm at +%s); requests before detection %d, failed %d; after detection %d, failed %d (%s)",
		detected.Sub(stop).Round(time.Millisecond), checkFall, checkInterval, tl, seen.Sub(stop).Round(time.Millisecond), c.before, c.failedBefore, c.after, c.failedAfter, topo.FormatCount(c.answersAfter))
	if c.failedAfter > 0 {
		t.Errorf("http: %d of %d requests failed after rs1 was quiesced; all failures: %s", c.failedAfter, c.after, c.failures(stop))
	}
	if c.after < 10 || c.answersAfter["rs1"] > 0 {
		t.Errorf("http: after detection want requests answered by rs2 and rs3 only, got %s", topo.FormatCount(c.answersAfter))
	}
	if recs := l.transitions("down", "web", "rs1"); len(recs) != 1 {
		t.Errorf("http: want one \"real server down\" record for rs1, got %v", recs)
	} else {
		t.Logf("http: watch logged %q", recs[0]["reason"])
	}

	// http: rs1 starts again and comes back after rise passes.
	tr = startTraffic(l.client, webVIP)
	start := time.Now()
	web["10.0.2.11"].Start()
	seen = l.waitWeights("http: rs1 started", webVIP, allUp, riseLimit)
	tl = l.timeline("up", "web", "rs1", start)
	returned := tl.boundary(seen)
	time.Sleep(2 * time.Second)
	c = splitAt(tr.stop(), returned)
	t.Logf("http: rs1 started, back at weight 1 after %s (rise %d; %s); requests before %d, failed %d; after %d, failed %d (%s)",
		returned.Sub(start).Round(time.Millisecond), checkRise, tl, c.before, c.failedBefore, c.after, c.failedAfter, topo.FormatCount(c.answersAfter))
	if c.failedBefore+c.failedAfter > 0 {
		t.Errorf("http: %d requests failed while rs1 came back: %s", c.failedBefore+c.failedAfter, c.failures(start))
	}
	if c.answersAfter["rs1"] == 0 {
		t.Errorf("http: rs1 answers nothing after it came back: %s", topo.FormatCount(c.answersAfter))
	}
	if recs := l.transitions("up", "web", "rs1"); len(recs) != 1 {
		t.Errorf("http: want one \"real server up\" record for rs1, got %v", recs)
	} else {
		t.Logf("http: watch logged %q", recs[0]["reason"])
	}

	// http: all three stop; the sorry server answers.
	tr = startTraffic(l.client, webVIP)
	time.Sleep(time.Second)
	stop = time.Now()
	for _, a := range []string{"10.0.2.11", "10.0.2.12", "10.0.2.13"} {
		web[a].Stop()
	}
	seen = l.waitWeights("http: all stopped", webVIP, map[string]int{rs1: 0, rs2: 0, rs3: 0, sorry: 1}, detectLimit)
	// The sorry server comes with the last of the three to go down;
	// the test's poll is the boundary, as which one is last varies.
	detected = seen
	time.Sleep(3 * time.Second)
	c = splitAt(tr.stop(), detected)
	t.Logf("http: all real servers stopped, sorry server in after %s; requests before %d, failed %d; after %d, failed %d (%s)",
		detected.Sub(stop).Round(time.Millisecond), c.before, c.failedBefore, c.after, c.failedAfter, topo.FormatCount(c.answersAfter))
	if c.failedAfter > 0 {
		t.Errorf("http: %d of %d requests failed once the sorry server was in; all failures: %s", c.failedAfter, c.after, c.failures(stop))
	}
	if c.after < 10 || c.answersAfter["sorry"] != c.after-c.failedAfter {
		t.Errorf("http: want every request answered by the sorry server, got %s", topo.FormatCount(c.answersAfter))
	}

	// http: they start again; the sorry server leaves.
	tr = startTraffic(l.client, webVIP)
	start = time.Now()
	for _, a := range []string{"10.0.2.11", "10.0.2.12", "10.0.2.13"} {
		web[a].Start()
	}
	returned = l.waitWeights("http: all started", webVIP, map[string]int{rs1: 1, rs2: 1, rs3: 1}, riseLimit)
	// The sorry server drains: weight 0 with the first real server
	// back, deleted by a later apply (the resync, every 2s) once its
	// connections end.
	if w := weight(t, l.kernel(), webVIP, sorry); w > 0 {
		t.Errorf("http: the real servers are back and the sorry server still has weight %d", w)
	}
	gone := l.waitWeights("http: sorry server drained", webVIP, allUp, 2*time.Second+tcgSlack)
	time.Sleep(time.Second)
	c = splitAt(tr.stop(), returned)
	t.Logf("http: real servers started, back after %s, the sorry server at weight 0 then deleted after %s; requests before %d, failed %d; after %d, failed %d (%s)",
		returned.Sub(start).Round(time.Millisecond), gone.Sub(start).Round(time.Millisecond), c.before, c.failedBefore, c.after, c.failedAfter, topo.FormatCount(c.answersAfter))
	if c.failedBefore+c.failedAfter > 0 {
		t.Errorf("http: %d requests failed while the real servers came back: %s", c.failedBefore+c.failedAfter, c.failures(start))
	}
	if c.answersAfter["sorry"] > 0 || c.after < 10 {
		t.Errorf("http: after the real servers came back want no sorry answers, got %s", topo.FormatCount(c.answersAfter))
	}

	// tcp: rs2's listener on 8081 stops, then starts again.
	stop = time.Now()
	tcp["10.0.2.12"].Stop()
	detected = l.waitWeights("tcp: rs2 stopped", tcpVIP, map[string]int{"10.0.2.11:8081": 1, "10.0.2.12:8081": 0}, detectLimit)
	t.Logf("tcp: rs2 stopped, quiesced after %s (%s)", detected.Sub(stop).Round(time.Millisecond), l.timeline("down", "tcp", "rs2", stop))
	topo.CheckSplit(t, "tcp: rs2 down", l.client.HTTPRequests(tcpVIP+":80", 10), map[string]int{"rs1": 10})
	if recs := l.transitions("down", "tcp", "rs2"); len(recs) != 1 {
		t.Errorf("tcp: want one \"real server down\" record for rs2, got %v", recs)
	} else {
		t.Logf("tcp: watch logged %q", recs[0]["reason"])
	}
	start = time.Now()
	tcp["10.0.2.12"].Start()
	returned = l.waitWeights("tcp: rs2 started", tcpVIP, map[string]int{"10.0.2.11:8081": 1, "10.0.2.12:8081": 1}, riseLimit)
	t.Logf("tcp: rs2 started, back after %s (%s)", returned.Sub(start).Round(time.Millisecond), l.timeline("up", "tcp", "rs2", start))
	topo.CheckSplit(t, "tcp: rs2 back", l.client.HTTPRequests(tcpVIP+":80", 10), map[string]int{"rs1": 5, "rs2": 5})

	// exec: the script fails for rs2 (its flag file), run as the
	// unprivileged user.
	flag := filepath.Join(scriptDir, "down-10.0.2.12")
	stop = time.Now()
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	detected = l.waitWeights("exec: rs2 flagged", execVIP, map[string]int{"10.0.2.11:8082": 1, "10.0.2.12:8082": 0}, detectLimit)
	t.Logf("exec: rs2 flagged down, quiesced after %s (%s)", detected.Sub(stop).Round(time.Millisecond), l.timeline("down", "exec", "rs2", stop))
	topo.CheckSplit(t, "exec: rs2 down", l.client.HTTPRequests(execVIP+":80", 10), map[string]int{"rs1": 10})
	if recs := l.transitions("down", "exec", "rs2"); len(recs) != 1 {
		t.Errorf("exec: want one \"real server down\" record for rs2, got %v", recs)
	} else if reason, _ := recs[0]["reason"].(string); !strings.Contains(reason, "flagged down, uid 65534") {
		t.Errorf("exec: the down reason %q is not the script's output as nobody", reason)
	} else {
		t.Logf("exec: watch logged %q", reason)
	}

	// status shows rs2 down, from the saved health.
	res := l.dir.MustRun(lvsgen, "status", "--host", "dir", "--state-dir", l.state)
	t.Logf("lvsgen status:\n%s", res.Stdout)
	if !statusShows(res.Stdout, "exec", "rs2", "DOWN") || !statusShows(res.Stdout, "exec", "rs1", "up") {
		t.Errorf("lvsgen status does not show exec's rs2 DOWN and rs1 up:\n%s", res.Stdout)
	}

	// plan shows the health reason. Against the kernel watch keeps in
	// step, the plan is empty: stop watch (it saves the health), put rs2
	// back at weight 1 by hand, and plan puts it back to 0 for health.
	l.stopWatch()
	l.dir.MustRun("ipvsadm", "-e", "-t", execVIP+":80", "-r", "10.0.2.12:8082", "-m", "-w", "1")
	res = l.dir.MustRun(lvsgen, "plan", l.config, "--host", "dir", "--state-dir", l.state)
	t.Logf("lvsgen plan:\n%s", res.Stdout)
	if !strings.Contains(res.Stdout, "# health: rs2 down since ") || !strings.Contains(res.Stdout, "10.0.2.12:8082") {
		t.Errorf("lvsgen plan does not give rs2's health reason:\n%s", res)
	}

	// watch starts again from the saved health: rs2 stays down (the
	// start apply undoes the hand edit) until the flag goes and rise
	// checks pass.
	l.startWatch()
	l.waitWeights("exec: watch restarted", execVIP, map[string]int{"10.0.2.11:8082": 1, "10.0.2.12:8082": 0}, 60*time.Second)
	start = time.Now()
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	returned = l.waitWeights("exec: rs2 unflagged", execVIP, map[string]int{"10.0.2.11:8082": 1, "10.0.2.12:8082": 1}, riseLimit)
	t.Logf("exec: watch restarted with rs2 down from the saved health; rs2 unflagged, back after %s", returned.Sub(start).Round(time.Millisecond))
	topo.CheckSplit(t, "exec: rs2 back", l.client.HTTPRequests(execVIP+":80", 10), map[string]int{"rs1": 5, "rs2": 5})
}

// statusShows reports whether the status text lists real under service
// in state.
func statusShows(text, service, real, state string) bool {
	in := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "service ") {
			in = strings.TrimSpace(strings.TrimPrefix(line, "service ")) == service
			continue
		}
		f := strings.Fields(line)
		if in && len(f) >= 2 && f[0] == real && f[1] == state {
			return true
		}
	}
	return false
}
