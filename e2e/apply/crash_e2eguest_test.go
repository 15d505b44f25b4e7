//go:build e2eguest

package apply

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier"
	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// directorState is what apply may change on the director, as the
// kernel's own tools show it: addresses, links (but their counters),
// routes, the IPVS table and the sysctls the config sets. The IPVS
// timeouts are left out: lvsgen sets them and never owns them. So are
// IPv6 link-local addresses and their routes: the kernel makes them when
// a link comes up, lvsgen never does, and a snapshot taken during
// duplicate address detection shows one "tentative" that a later one
// does not (seen on a loaded machine).
func directorState(t *testing.T, n *topo.Node, keys []string) map[string][]string {
	t.Helper()
	lines := func(name string, args ...string) []string {
		out := strings.Split(strings.TrimSpace(n.MustRun(name, args...).Stdout), "\n")
		out = slices.DeleteFunc(out, func(l string) bool { return strings.Contains(l, " fe80::") })
		slices.Sort(out)
		return out
	}
	s := map[string][]string{
		"addr":   lines("ip", "-o", "addr", "show"),
		"link":   lines("ip", "-o", "link", "show"),
		"route":  lines("ip", "-o", "route", "show", "table", "all"),
		"ipvs":   lines("ipvsadm", "-S", "-n"),
		"sysctl": nil,
	}
	for _, k := range keys {
		s["sysctl"] = append(s["sysctl"], k+" = "+n.ReadSysctl(k))
	}
	return s
}

// sysctlKeys are the keys the config at dir sets on host, from lvsgen
// render.
func sysctlKeys(t *testing.T, lvsgen, dir, host string) []string {
	t.Helper()
	res := guest.MustRun(t, lvsgen, "render", dir, "--host", host, "--format", "sysctl")
	var keys []string
	for _, line := range strings.Split(res.Stdout, "\n") {
		if k, _, ok := strings.Cut(line, " = "); ok && !strings.HasPrefix(k, "#") {
			keys = append(keys, k)
		}
	}
	return keys
}

// planOps is the number of operations of the plan of cfg on host h.
func (l *lab) planOps(cfg, h string) int {
	l.t.Helper()
	res := l.run(h, "plan", cfg, "--format", "json")
	var p struct {
		Ops []json.RawMessage `json:"ops"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &p); err != nil {
		l.t.Fatalf("plan --format json: %v\n%s", err, res.Stdout)
	}
	return len(p.Ops)
}

// killApply starts lvsgen apply of cfg on host h with the test-only pause
// after n operations, waits until it says it paused, and SIGKILLs it:
// a real process killed between two of its kernel writes, or between its
// last write and its final state save.
func (l *lab) killApply(cfg, h string, n int) {
	l.t.Helper()
	cmd := exec.Command(l.lvsgen, "apply", cfg, "--host", h, "--state-dir", filepath.Join(l.state, h),
		"--auto-approve", "--rules-file", "", "--sysctl-file", "", "--nft-file", "")
	cmd.Env = append(os.Environ(), applier.PauseEnv+"="+strconv.Itoa(n))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	if err := l.hosts[h].Start(cmd); err != nil {
		l.t.Fatal(err)
	}
	paused := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "paused after") {
				paused <- true
				return
			}
		}
		paused <- false
	}()
	select {
	case ok := <-paused:
		if !ok {
			cmd.Wait()
			l.t.Fatalf("lvsgen apply ended without pausing after %d operations", n)
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		l.t.Fatalf("lvsgen apply did not pause after %d operations", n)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		l.t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		l.t.Fatalf("lvsgen apply after SIGKILL: %v, want killed", err)
	}
}

// TestApplyKilled: lvsgen apply SIGKILLed part-way through its kernel
// writes, then applied again and then given a config without services,
// or given that config at once, leaves the director exactly as it was
// before the first apply: the intent recorded before the first write
// owns everything the killed run made (issue 17).
func TestApplyKilled(t *testing.T) {
	guest.Require(t)
	tp := topo.New(t)
	lan := tp.Subnet("lan", "10.0.3.0/24")
	l := newLab(t)
	dir := tp.Node("dir", lan, "10.0.3.2")
	l.hosts["dir"] = dir
	cfg, empty := data(t, "crash"), data(t, "crash-empty")
	keys := sysctlKeys(t, l.lvsgen, cfg, "dir")
	before := directorState(t, dir, keys)
	total := l.planOps(cfg, "dir")
	// After the device, after a sysctl, after the first VIP, and after
	// the IPVS batch, the last: between the final write and the save.
	for _, n := range []int{1, 3, 4, total} {
		for _, then := range []string{"again then empty", "empty"} {
			t.Run(strconv.Itoa(n)+"/"+then, func(t *testing.T) {
				l.t = t
				l.state = t.TempDir()
				l.killApply(cfg, "dir", n)
				st, err := os.ReadFile(applier.StatePath(filepath.Join(l.state, "dir"), "dir"))
				if err != nil || !strings.Contains(string(st), "10.0.3.101/32") {
					t.Fatalf("no intent recorded before the kill: %v\n%s", err, st)
				}
				if then == "again then empty" {
					l.apply(cfg, "dir")
					l.noChanges(cfg, "dir")
				}
				// Every service goes: past the default delete guard.
				if res := l.run("dir", "apply", empty, "--max-delete-fraction", "1"); res.Exit != 0 {
					t.Fatalf("lvsgen apply of the empty config: exit %d\n%s%s", res.Exit, res.Stdout, res.Stderr)
				}
				if diff := cmp.Diff(before, directorState(t, dir, keys)); diff != "" {
					t.Errorf("the director is not as before the first apply (-want +got):\n%s", diff)
				}
			})
		}
	}
}
