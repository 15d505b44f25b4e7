//go:build e2eguest

package watch

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// stubMessage is what cmd/lvsgen said while its netlink kernel was a stub;
// a build with the stub skips this test instead of failing it.
const stubMessage = "the netlink implementation is not wired in yet"

// hostsCUE matches the topology: the client LAN 10.0.1.0/24 in front of
// the director, the real servers on 10.0.2.0/24 behind it, routing back
// through it (NAT).
const hostsCUE = `package lvs

hosts: {
	dir: interfaces: {
		eth0: addresses: ["10.0.1.2/24"]
		eth1: addresses: ["10.0.2.1/24"]
	}
	rs1: interfaces: eth0: addresses: ["10.0.2.11/24"]
	rs2: interfaces: eth0: addresses: ["10.0.2.12/24"]
	rs3: interfaces: eth0: addresses: ["10.0.2.13/24"]
}

clusters: inside: {
	directors: ["dir"]
	clientNetworks: ["10.0.1.0/24"]
}
`

// servicesCUE is the api service on 10.0.1.100 (wrr; rs1, and rs2 at
// rs2Weight unless 0), and the web service on 10.0.1.101 (rr; rs2, rs3)
// when web is set.
func servicesCUE(rs2Weight int, web bool) string {
	reals := `{host: "rs1", port: 8080}`
	if rs2Weight > 0 {
		reals += fmt.Sprintf(`, {host: "rs2", port: 8080, weight: %d}`, rs2Weight)
	}
	s := fmt.Sprintf(`package lvs

services: "api": {
	cluster:    "inside"
	vip:        "10.0.1.100"
	port:       80
	forwarding: "nat"
	scheduler:  "wrr"
	reals: [%s]
}
`, reals)
	if web {
		s += `
services: "web": {
	cluster:    "inside"
	vip:        "10.0.1.101"
	port:       80
	forwarding: "nat"
	scheduler:  "rr"
	reals: [{host: "rs2", port: 8080}, {host: "rs3", port: 8080}]
}
`
	}
	return s
}

// saveText is `ipvsadm -S -n` for servicesCUE(rs2Weight, web), as sorted
// lines.
func saveText(rs2Weight int, web bool) []string {
	lines := []string{
		"-A -t 10.0.1.100:80 -s wrr",
		"-a -t 10.0.1.100:80 -r 10.0.2.11:8080 -m -w 1",
	}
	if rs2Weight > 0 {
		lines = append(lines, fmt.Sprintf("-a -t 10.0.1.100:80 -r 10.0.2.12:8080 -m -w %d", rs2Weight))
	}
	if web {
		lines = append(lines,
			"-A -t 10.0.1.101:80 -s rr",
			"-a -t 10.0.1.101:80 -r 10.0.2.12:8080 -m -w 1",
			"-a -t 10.0.1.101:80 -r 10.0.2.13:8080 -m -w 1")
	}
	slices.Sort(lines)
	return lines
}

// watcher is a running `lvsgen watch` and its JSON log.
type watcher struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs []map[string]any
	raw  []string
	done chan struct{}
	err  error
}

// stop sends watch SIGTERM and fails t unless it exits 0 within 30 s.
func (w *watcher) stop(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not stop on SIGTERM")
	}
	if w.err != nil {
		t.Fatalf("watch after SIGTERM: %v\n%s", w.err, w.output())
	}
}

func (w *watcher) read(sc *bufio.Scanner) {
	for sc.Scan() {
		var r map[string]any
		_ = json.Unmarshal(sc.Bytes(), &r)
		w.mu.Lock()
		w.raw = append(w.raw, sc.Text())
		if r != nil {
			w.logs = append(w.logs, r)
		}
		w.mu.Unlock()
	}
}

// records returns the log records whose message starts with msg.
func (w *watcher) records(msg string) []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[string]any
	for _, r := range w.logs {
		if m, _ := r["msg"].(string); strings.HasPrefix(m, msg) {
			out = append(out, r)
		}
	}
	return out
}

func (w *watcher) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.raw, "\n")
}

func (w *watcher) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// lab is the NAT topology with watch running on the director.
type lab struct {
	t      *testing.T
	dir    *topo.Node
	client *topo.Node
	config string // the watched directory
	w      *watcher
}

func (l *lab) writeFile(name, content string) {
	l.t.Helper()
	if err := os.WriteFile(filepath.Join(l.config, name), []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// save writes a file the way editors and git do: a temporary file renamed
// over it.
func (l *lab) save(name, content string) {
	l.t.Helper()
	tmp := filepath.Join(l.config, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(l.config, name)); err != nil {
		l.t.Fatal(err)
	}
}

// kernel returns the director's `ipvsadm -S -n` as sorted lines.
func (l *lab) kernel() []string {
	l.t.Helper()
	out := strings.TrimSpace(l.dir.MustRun("ipvsadm", "-S", "-n").Stdout)
	if out == "" {
		return nil
	}
	lines := strings.Split(out, "\n")
	slices.Sort(lines)
	return lines
}

// waitKernel polls the director's IPVS table until it is want and returns
// how long that took from since.
func (l *lab) waitKernel(what string, since time.Time, want []string) time.Duration {
	l.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := l.kernel()
		if slices.Equal(got, want) {
			return time.Since(since)
		}
		if l.w.exited() {
			l.t.Fatalf("%s: watch exited (%v)\n%s", what, l.w.err, l.w.output())
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%s: the kernel never reached\n%s\nit holds\n%s\nwatch log:\n%s",
				what, strings.Join(want, "\n"), strings.Join(got, "\n"), l.w.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// edit saves services.cue and waits for the kernel to match it; it returns
// the edit-to-kernel latency and logs it with watch's own timings.
func (l *lab) edit(what string, rs2Weight int, web bool) time.Duration {
	l.t.Helper()
	applied := len(l.w.records("applied"))
	start := time.Now()
	l.save("services.cue", servicesCUE(rs2Weight, web))
	took := l.waitKernel(what, start, saveText(rs2Weight, web))
	// The log record comes right after the last kernel write.
	deadline := time.Now().Add(10 * time.Second)
	for len(l.w.records("applied")) == applied && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if recs := l.w.records("applied"); len(recs) > applied {
		r := recs[len(recs)-1]
		l.t.Logf("%s: edit to kernel %s (watch: compile %vs, plan %vs, apply %vs; %v)",
			what, took.Round(time.Millisecond), r["compile_seconds"], r["plan_seconds"], r["apply_seconds"], r["done"])
	}
	return took
}

// split makes n requests to vip:80 and checks the answers: want gives the
// expected share of each real server, within one request.
func (l *lab) split(what, vip string, n int, want map[string]int) {
	l.t.Helper()
	got := topo.Count(l.client.HTTPRequests(vip+":80", n))
	for name, w := range want {
		if d := got[name] - w; d < -1 || d > 1 {
			l.t.Errorf("%s: answers %s, want %s", what, topo.FormatCount(got), topo.FormatCount(want))
			return
		}
	}
	l.t.Logf("%s: %s", what, topo.FormatCount(got))
}

func TestWatchFollowsEdits(t *testing.T) {
	guest.Require(t)
	lvsgen := guest.Lvsgen(t)
	tp := topo.New(t)
	front := tp.Subnet("front", "10.0.1.0/24")
	back := tp.Subnet("back", "10.0.2.0/24")
	l := &lab{t: t, config: t.TempDir()}
	l.client = tp.Client("client", front, "10.0.1.10")
	l.dir = tp.Director("dir", front, "10.0.1.2")
	l.dir.Attach(back, "10.0.2.1")
	for i, addr := range []string{"10.0.2.11", "10.0.2.12", "10.0.2.13"} {
		rs := tp.RealServer(fmt.Sprintf("rs%d", i+1), back, addr)
		rs.DefaultRoute("10.0.2.1")
		rs.ServeHTTP(8080)
	}
	l.writeFile("hosts.cue", hostsCUE)
	l.writeFile("services.cue", servicesCUE(0, true))
	state := t.TempDir()

	// Without a kernel behind cmd/lvsgen there is nothing to test.
	if res, err := l.dir.Run(lvsgen, "plan", l.config, "--host", "dir", "--state-dir", state); err != nil {
		t.Fatal(err)
	} else if strings.Contains(res.Stderr, stubMessage) {
		t.Skipf("lvsgen has no kernel yet (cmd/lvsgen/kernel.go: %q): watch cannot run", stubMessage)
	}

	// The VM's /etc is shared by every namespace: the rules and sysctl
	// files go to the test's directory.
	l.w = &watcher{done: make(chan struct{})}
	l.w.cmd = exec.Command(lvsgen, "watch", l.config, "--host", "dir", "--state-dir", state,
		"--rules-file", filepath.Join(state, "ipvsadm.rules"), "--sysctl-file", filepath.Join(state, "90-lvsgen.conf"),
		"--resync", "2s", "--log-format", "json", "--log-level", "debug")
	stderr, err := l.w.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.dir.Start(l.w.cmd); err != nil {
		t.Fatalf("starting lvsgen watch: %v", err)
	}
	go func() {
		l.w.read(bufio.NewScanner(stderr))
		l.w.err = l.w.cmd.Wait()
		close(l.w.done)
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = l.w.cmd.Process.Kill()
			<-l.w.done
		}
		if t.Failed() {
			t.Logf("watch log:\n%s", l.w.output())
		}
	})

	// The start apply.
	start := time.Now()
	took := l.waitKernel("start", start, saveText(0, true))
	if l.w.exited() && strings.Contains(l.w.output(), stubMessage) {
		t.Skipf("lvsgen has no kernel yet: %s", stubMessage)
	}
	t.Logf("start: kernel ready %s after starting watch", took.Round(time.Millisecond))
	l.split("start: api", "10.0.1.100", 20, map[string]int{"rs1": 20})
	l.split("start: web", "10.0.1.101", 20, map[string]int{"rs2": 10, "rs3": 10})

	// Add a real server.
	var lat []time.Duration
	lat = append(lat, l.edit("add rs2", 1, true))
	l.split("add rs2", "10.0.1.100", 20, map[string]int{"rs1": 10, "rs2": 10})

	// Change its weight.
	lat = append(lat, l.edit("rs2 weight 3", 3, true))
	l.split("rs2 weight 3", "10.0.1.100", 20, map[string]int{"rs1": 5, "rs2": 15})

	// Drift: someone changes a weight by hand; the resync puts it back.
	l.dir.MustRun("ipvsadm", "-e", "-t", "10.0.1.100:80", "-r", "10.0.2.12:8080", "-m", "-w", "9")
	took = l.waitKernel("drift repair", time.Now(), saveText(3, true))
	t.Logf("drift repaired by the resync in %s (resync every 2s)", took.Round(time.Millisecond))

	// Break the syntax: watch logs it, the kernel and traffic stay.
	invalid := len(l.w.records("invalid config"))
	before := l.kernel()
	l.writeFile("services.cue", "package lvs\n\nservices: \"api\": {cluster: \"inside\"\n")
	deadline := time.Now().Add(60 * time.Second)
	for len(l.w.records("invalid config")) == invalid {
		if time.Now().After(deadline) || l.w.exited() {
			t.Fatalf("watch never reported the broken config\n%s", l.w.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := l.kernel(); !slices.Equal(got, before) {
		t.Fatalf("the broken config changed the kernel:\n%s", strings.Join(got, "\n"))
	}
	l.split("broken config", "10.0.1.100", 20, map[string]int{"rs1": 5, "rs2": 15})

	// Fix it (with a new weight, so the apply shows).
	lat = append(lat, l.edit("fix, rs2 weight 2", 2, true))
	l.split("fixed", "10.0.1.100", 21, map[string]int{"rs1": 7, "rs2": 14})

	// Remove a service: its VIP stops answering.
	lat = append(lat, l.edit("remove web", 2, false))
	if name, err := l.client.HTTPGet("10.0.1.101:80"); err == nil {
		t.Errorf("the removed service still answers (%s)", name)
	}
	l.split("web removed: api", "10.0.1.100", 21, map[string]int{"rs1": 7, "rs2": 14})

	// SIGTERM: exit 0.
	l.w.stop(t)
	stopped = true
	slices.Sort(lat)
	t.Logf("edit-to-kernel latency over %d edits (debounce 200ms): min %s, median %s, max %s",
		len(lat), lat[0].Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
}
