package applier

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/applier/kernel/memory"
	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/model"
	"github.com/lvsgen/lvsgen/plan"
)

// hostSnapshot is everything of a host's kernel an apply may change and
// lvsgen owns: the IPVS table, links, addresses, routes and fou ports (the
// in-memory kernel's listing, a line each, sorted: the order addresses
// were bound in is not state) and the sysctls keys names.
type hostSnapshot struct {
	Objects []string
	Sysctls map[string]string
}

// snapshot reads k. A tunnel module's fallback device (tunl0, gre0, ...)
// is left out, with its sysctls: the module makes it when it loads, and
// the kernel refuses to delete it (the request succeeds, the device
// stays), so no apply can make a host without one again.
func snapshot(t *testing.T, k *memory.Kernel, keys []string) hostSnapshot {
	t.Helper()
	s := hostSnapshot{Sysctls: map[string]string{}}
	for _, line := range strings.Split(strings.TrimSpace(k.String()), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "link" && fallbackDevice[f[1]] {
			continue
		}
		s.Objects = append(s.Objects, line)
	}
	slices.Sort(s.Objects)
	for _, key := range keys {
		if dev, ok := strings.CutPrefix(key, "net.ipv4.conf."); ok && fallbackDevice[strings.Split(dev, ".")[0]] {
			continue
		}
		v, err := k.Sysctl(context.Background(), key)
		if err != nil {
			v = "(none)"
		}
		s.Sysctls[key] = v
	}
	return s
}

// fallbackDevice are the tunnel modules' fallback devices.
var fallbackDevice = map[string]bool{"tunl0": true, "sit0": true, "gre0": true, "ip6tnl0": true, "ip6gre0": true}

// killableRunner is a Runner on k with its state in dir, as `lvsgen apply`
// makes one; each run of the process is a new one.
func killableRunner(k kernel.Kernel, dir string) *Runner {
	return &Runner{Kernel: k, StateDir: dir, DrainTimeout: plan.DefaultDrainTimeout, MaxDeletes: -1, Now: func() time.Time { return t0 }}
}

// killedApply plans and applies want as a process would, and kills it
// before its kernel write number kill (from 0), or, when kill is the
// plan's number of writes, between its last write and its final state
// save. Killed, the goroutine stops where it is: no error handling, no
// state saved but what was on disk already. It returns the plan's number
// of writes.
func killedApply(t *testing.T, mk *memory.Kernel, k kernel.Kernel, dir string, want *hoststate.Host, kill int) int {
	t.Helper()
	r := killableRunner(k, dir)
	p, err := r.Plan(context.Background(), want)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	writes := writesOf(p.Ops)
	n := 0
	mk.Fail = func(string) error {
		if n == kill {
			runtime.Goexit()
		}
		n++
		return nil
	}
	defer func() { mk.Fail = nil }()
	r.applied = func() {
		if kill == writes {
			runtime.Goexit()
		}
	}
	var applyErr error
	finished := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, applyErr = r.Apply(context.Background(), want, p)
		finished = true
	}()
	<-done
	if finished {
		t.Fatalf("not killed at write %d of %d (apply error: %v)", kill, writes, applyErr)
	}
	return writes
}

// applyOnce plans and applies want as a new process would.
func applyOnce(t *testing.T, k kernel.Kernel, dir string, want *hoststate.Host) {
	t.Helper()
	r := killableRunner(k, dir)
	p, err := r.Plan(context.Background(), want)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if _, err := r.Apply(context.Background(), want, p); err != nil {
		t.Fatalf("apply: %v\nplan:\n%s", err, planText(p))
	}
}

// TestKillAtEveryWrite kills an apply of every host of the examples and of
// the e2e apply configs at each of its kernel writes in turn (and between
// the last write and the state save), keeps only what the state file on disk says, and then either
// applies the config again and then an empty one, or applies an empty one
// at once: the host's kernel must be exactly as it was before the first
// apply. Issue 17: ownership is a superset of what lvsgen made at every
// instant.
func TestKillAtEveryWrite(t *testing.T) {
	for _, dir := range []string{"../examples", "../e2e/apply/testdata/nat", "../e2e/apply/testdata/dr", "../e2e/apply/testdata/tun", "../e2e/apply/testdata/crash"} {
		res, err := compiler.Compile(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Valid() {
			t.Fatalf("%s invalid: %v", dir, res.Diagnostics)
		}
		var names []string
		for name := range res.Hosts {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			killEveryWrite(t, filepath.Base(dir)+"/"+name, res.Hosts[name], res.Config.Hosts[name])
		}
	}
}

// killEveryWrite is TestKillAtEveryWrite for one host.
func killEveryWrite(t *testing.T, test string, want *hoststate.Host, h *model.Host) {
	name := want.Name
	empty := &hoststate.Host{Name: name}
	var keys []string
	for _, s := range want.Sysctls {
		keys = append(keys, s.Key)
	}
	probe := hostKernel(t, h)
	p, err := killableRunner(probe, t.TempDir()).Plan(context.Background(), want)
	if err != nil {
		t.Fatalf("%s: plan: %v", test, err)
	}
	writes := writesOf(p.Ops)
	if writes == 0 {
		// A FULLNAT real server needs nothing of lvsgen: there is
		// nothing to kill.
		if len(want.Services) != 0 || len(want.Sysctls) != 0 {
			t.Fatalf("%s: the first apply writes nothing", test)
		}
		return
	}
	for _, batched := range []bool{true, false} {
		for kill := 0; kill <= writes; kill++ {
			for _, then := range []string{"again then empty", "empty"} {
				t.Run(fmt.Sprintf("%s/batched=%v/kill at %d of %d/%s", test, batched, kill, writes, then), func(t *testing.T) {
					mk := hostKernel(t, h)
					var k kernel.Kernel = mk
					if !batched {
						k = oneAtATime{mk}
					}
					before := snapshot(t, mk, keys)
					dir := t.TempDir()
					killedApply(t, mk, k, dir, want, kill)
					if then == "again then empty" {
						applyOnce(t, k, dir, want)
						checkMatches(t, mk, want)
					}
					applyOnce(t, k, dir, empty)
					if diff := cmp.Diff(before, snapshot(t, mk, keys)); diff != "" {
						t.Errorf("the host is not as before the first apply (-want +got):\n%s", diff)
					}
					st, err := LoadState(dir, name)
					must(t, err)
					if diff := cmp.Diff(plan.NewState(name), st, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("lvsgen still owns something (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

// TestUnwritableStateDirWritesNothing: a state directory apply cannot
// write fails the apply before its first kernel write, saying why (it
// failed after all of them, losing what they made).
func TestUnwritableStateDirWritesNothing(t *testing.T) {
	hosts, cfg := compile(t, web)
	k := hostKernel(t, cfg.Hosts["lb1"])
	before := k.String()
	dir := filepath.Join(t.TempDir(), "state")
	must(t, os.Mkdir(dir, 0o700))
	r := killableRunner(k, dir)
	p, err := r.Plan(context.Background(), hosts["lb1"])
	must(t, err)
	// Gone, and a file in its place: root writes a read-only
	// directory, but no one makes a directory through a file.
	must(t, os.Remove(dir))
	must(t, os.WriteFile(dir, nil, 0o600))
	res, err := r.Apply(context.Background(), hosts["lb1"], p)
	if err == nil || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("apply error %v, want one saying nothing was changed", err)
	}
	if k.Writes != 0 || k.String() != before {
		t.Errorf("%d kernel writes; kernel now:\n%s", k.Writes, k.String())
	}
	if len(res.NotDone) != len(p.Ops) {
		t.Errorf("result: %d not done of %d", len(res.NotDone), len(p.Ops))
	}
}
