//go:build e2eguest

// Package bench measures lvsgen against ipvsadm on the real kernel in the
// e2e VM, in the same run, and prints their times side by side:
//
//	make bench-e2e    # LVSGEN_E2E_RUN='^$' LVSGEN_E2E_BENCH=. go test ./e2e/ -run TestGuest -count=1 -v
//
// The desired state is director lb1 of internal/gen's generated config,
// built by gen.Director rather than compiled: compiling 1,000 services
// takes about 100 s under TCG, 10,000 far longer (gen's tests hold
// Director equal to the compiler's output). lvsgen's side is the applier
// in this process — netlink.New, Observe, Diff and Apply, what `lvsgen
// apply` runs after its compile — and ipvsadm's is the ipvsadm command on
// the same rules, rendered by ipvs.FormatSave.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/applier"
	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/applier/kernel/netlink"
	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/gen"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/plan"
)

// reps is how many times each measurement is repeated in the one VM run.
const reps = 5

// settle is the pause after deleting a namespace with IPVS services, per
// 1,000 services (at least 2 s): the kernel frees them in a worker, which
// must not run during the next measurement.
func settle(services int) time.Duration {
	return max(2*time.Second, time.Duration(services)*time.Millisecond)
}

// long runs a command in n's namespace, with stdin if not nil, bounded by
// ten minutes (guest.Run's minute does not fit 110,000 rules under TCG).
// It returns the command's output and how long it ran.
func long(n *topo.Node, stdin []byte, name string, args ...string) (string, time.Duration, error) {
	var out, stderr bytes.Buffer
	var d time.Duration
	err := n.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		cmd.Stdout, cmd.Stderr = &out, &stderr
		start := time.Now()
		err := cmd.Run()
		d = time.Since(start)
		if err != nil {
			return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, stderr.String())
		}
		return nil
	})
	return out.String(), d, err
}

// namespace returns a node in a fresh network namespace and a function
// that deletes it and lets the kernel finish freeing its table of that
// many services.
func namespace(b *testing.B, name string, services int) (*topo.Node, func()) {
	tp := topo.New(b)
	n := tp.Node(name, nil, "")
	return n, func() {
		tp.Close()
		time.Sleep(settle(services))
	}
}

// open returns lvsgen's kernel in n's namespace.
func open(b *testing.B, n *topo.Node) *netlink.Kernel {
	k, err := netlink.New(netlink.WithNetNSPath(n.NsPath()))
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// rules is the ipvsadm-save text of want's services: what ipvsadm -R
// loads, and what ipvsadm -S -n prints once they are in the kernel.
func rules(b *testing.B, want *hoststate.Host) []byte {
	svcs := make([]ipvs.Service, len(want.Services))
	for i, s := range want.Services {
		svcs[i] = s.Service
	}
	var buf bytes.Buffer
	if err := ipvs.FormatSave(&buf, svcs); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// applyTimes is one apply from an empty kernel by lvsgen.
type applyTimes struct {
	plan  time.Duration // netlink.New, Observe and Diff
	apply time.Duration // Apply of the plan
	ops   int
	state *plan.State
}

// lvsgenApply plans want against n's kernel and applies the plan.
func lvsgenApply(b *testing.B, n *topo.Node, want *hoststate.Host) applyTimes {
	runtime.GC()
	start := time.Now()
	k := open(b, n)
	defer k.Close()
	p, res, planned, err := planApply(b, k, want, plan.NewState(want.Name))
	done := time.Now()
	if err != nil || len(res.Done) != len(p.Ops) {
		b.Fatalf("apply: %v (%d of %d operations done)", err, len(res.Done), len(p.Ops))
	}
	return applyTimes{plan: planned.Sub(start), apply: done.Sub(planned), ops: len(p.Ops), state: p.State}
}

// planApply reads k, plans want against it and st, and applies the
// plan, as lvsgen apply does in process. It returns the plan, the
// apply's result and error, and when planning ended, for the caller to
// time both halves; a read error fails b.
func planApply(b *testing.B, k kernel.IPVS, want *hoststate.Host, st *plan.State) (*plan.Plan, *applier.Result, time.Time, error) {
	ctx := context.Background()
	obs, err := applier.Observe(ctx, k, want, st)
	if err != nil {
		b.Fatal(err)
	}
	p := plan.Diff(want, obs, st, plan.Options{Now: time.Now()})
	planned := time.Now()
	res, err := applier.Apply(ctx, k, p)
	return p, res, planned, err
}

// noopTimes is one plan of a kernel that matches the config.
type noopTimes struct{ observe, diff time.Duration }

func (t noopTimes) total() time.Duration { return t.observe + t.diff }

// lvsgenNoop reads n's kernel and plans want against it, which must give
// an empty plan.
func lvsgenNoop(b *testing.B, n *topo.Node, want *hoststate.Host, st *plan.State) noopTimes {
	runtime.GC()
	ctx := context.Background()
	start := time.Now()
	k := open(b, n)
	defer k.Close()
	obs, err := applier.Observe(ctx, k, want, st)
	if err != nil {
		b.Fatal(err)
	}
	observed := time.Now()
	p := plan.Diff(want, obs, st, plan.Options{Now: time.Now()})
	done := time.Now()
	if len(p.Ops) != 0 {
		b.Fatalf("no-op plan has %d operations: %s", len(p.Ops), plan.Summary(p.Ops))
	}
	return noopTimes{observe: observed.Sub(start), diff: done.Sub(observed)}
}

// ipvsadmSave runs ipvsadm -S -n in n and checks that it prints want.
func ipvsadmSave(b *testing.B, n *topo.Node, want []byte) time.Duration {
	out, d, err := long(n, nil, "ipvsadm", "-S", "-n")
	if err != nil {
		b.Fatal(err)
	}
	if out != string(want) {
		b.Fatalf("ipvsadm -S -n does not print the desired rules (%d bytes, want %d)", len(out), len(want))
	}
	return d
}

// ipvsadmRestore loads rules into n with ipvsadm -R.
func ipvsadmRestore(b *testing.B, n *topo.Node, rules []byte) time.Duration {
	_, d, err := long(n, rules, "ipvsadm", "-R")
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// stats are the minimum and median of repeated measurements.
type stats struct{ min, median time.Duration }

func statsOf(ds []time.Duration) stats {
	s := slices.Clone(ds)
	slices.Sort(s)
	return stats{s[0], s[len(s)/2]}
}

// table prints measurements side by side.
type table struct{ lines []string }

func (t *table) row(name string, ds ...time.Duration) {
	s := statsOf(ds)
	t.lines = append(t.lines, fmt.Sprintf("  %-52s %10s %10s   (%d runs)", name, round(s.min), round(s.median), len(ds)))
}

func (t *table) ratio(name string, num, den []time.Duration, target string) {
	a, b := statsOf(num), statsOf(den)
	t.lines = append(t.lines, fmt.Sprintf("  %-52s %9.2fx %9.2fx   target %s", name, a.min.Seconds()/b.min.Seconds(), a.median.Seconds()/b.median.Seconds(), target))
}

func (t *table) note(format string, args ...any) {
	t.lines = append(t.lines, "  "+fmt.Sprintf(format, args...))
}

func (t *table) print(title string) {
	fmt.Printf("\n%s\n  %-52s %10s %10s\n%s\n", title, "", "min", "median", strings.Join(t.lines, "\n"))
}

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Millisecond)
}

// BenchmarkApplyAndNoop measures, at 100 and 1,000 services x 10 real
// servers, reps times each, interleaved: lvsgen applying the desired state
// to an empty kernel against ipvsadm -R of the same rules in another
// empty one, and lvsgen's no-op plan of the loaded kernel (what every
// later apply and watch resync does) against ipvsadm -S -n of it.
func BenchmarkApplyAndNoop(b *testing.B) {
	guest.Require(b)
	for b.Loop() {
		for _, n := range []int{100, 1000} {
			measureApplyAndNoop(b, n)
		}
	}
}

func measureApplyAndNoop(b *testing.B, services int) {
	want := gen.Director(services, 10)
	text := rules(b, want)
	var plan, apply, lvsgenTotal, restore, noop, observe, diff, save []time.Duration
	ops := 0
	for range reps {
		lb, drop := namespace(b, "lvsgen", services)
		t := lvsgenApply(b, lb, want)
		ops = t.ops
		plan, apply, lvsgenTotal = append(plan, t.plan), append(apply, t.apply), append(lvsgenTotal, t.plan+t.apply)
		nt := lvsgenNoop(b, lb, want, t.state)
		noop, observe, diff = append(noop, nt.total()), append(observe, nt.observe), append(diff, nt.diff)
		save = append(save, ipvsadmSave(b, lb, text))
		drop()

		other, drop := namespace(b, "ipvsadm", services)
		restore = append(restore, ipvsadmRestore(b, other, text))
		ipvsadmSave(b, other, text)
		drop()
	}
	var tb table
	tb.row(fmt.Sprintf("lvsgen apply from empty (%d operations)", ops), apply...)
	tb.row("  before it: open, read the kernel, plan", plan...)
	tb.row("  the whole: open, read, plan, apply", lvsgenTotal...)
	tb.row("ipvsadm -R of the same rules", restore...)
	tb.ratio("ipvsadm -R / lvsgen apply", restore, apply, ">= 3x at 1,000")
	tb.ratio("ipvsadm -R / lvsgen open+read+plan+apply", restore, lvsgenTotal, "")
	tb.row("lvsgen no-op plan: open, read the kernel, plan", noop...)
	tb.row("  of which reading (Observe)", observe...)
	tb.row("  of which planning (Diff)", diff...)
	tb.row("ipvsadm -S -n", save...)
	tb.ratio("lvsgen no-op plan / ipvsadm -S -n", noop, save, "<= 1.5x at 10,000")
	tb.print(fmt.Sprintf("%d services x 10 destinations, e2e VM (qemu TCG, one vCPU); lvsgen is the applier in-process on gen.Director's desired state:", services))
	b.ReportMetric(statsOf(apply).min.Seconds(), fmt.Sprintf("apply-%d-s", services))
	b.ReportMetric(statsOf(restore).min.Seconds(), fmt.Sprintf("ipvsadm-R-%d-s", services))
	b.ReportMetric(statsOf(noop).min.Seconds(), fmt.Sprintf("noop-%d-s", services))
	b.ReportMetric(statsOf(save).min.Seconds(), fmt.Sprintf("ipvsadm-S-%d-s", services))
}

// countingKernel counts the IPVS writes that reach the kernel.
type countingKernel struct {
	*netlink.Kernel
	writes, batches int
}

func (c *countingKernel) WriteBatch(ctx context.Context, ws []kernel.IPVSWrite) ([]error, error) {
	c.writes += len(ws)
	c.batches++
	return c.Kernel.WriteBatch(ctx, ws)
}

// Benchmark10000x10 loads 10,000 services x 10 real servers once with
// lvsgen and once with ipvsadm -R (one run each: ipvsadm takes about a
// minute), then, reps times each, interleaved: lvsgen's no-op plan
// against ipvsadm -S -n of the same table, and one weight changed in the
// config, planned and applied by lvsgen as one kernel write (checked with
// ipvsadm -L) against ipvsadm -e of the same destination.
func Benchmark10000x10(b *testing.B) {
	guest.Require(b)
	const services = 10000
	for b.Loop() {
		want := gen.Director(services, 10)
		text := rules(b, want)

		other, drop := namespace(b, "ipvsadm", services)
		restore := ipvsadmRestore(b, other, text)
		drop()
		lb, drop := namespace(b, "lvsgen", services)
		defer drop()
		load := lvsgenApply(b, lb, want)
		st := load.state

		var noop, observe, diff, save []time.Duration
		var change, changePlan, changeApply, edit, saveEdit []time.Duration
		for r := range reps {
			nt := lvsgenNoop(b, lb, want, st)
			noop, observe, diff = append(noop, nt.total()), append(observe, nt.observe), append(diff, nt.diff)
			save = append(save, ipvsadmSave(b, lb, text))

			// Change one weight in the config; lvsgen plans and applies it.
			svc := &want.Services[(r*1999+123)%services]
			d := &svc.Destinations[r%10]
			d.Weight += 10
			text = rules(b, want)
			runtime.GC()
			start := time.Now()
			k := &countingKernel{Kernel: open(b, lb)}
			p, res, planned, err := planApply(b, k, want, st)
			done := time.Now()
			k.Close()
			if err != nil || len(p.Ops) != 1 || p.Ops[0].Kind() != plan.KindDestination || p.Ops[0].Action != plan.Update || len(res.Done) != 1 || k.writes != 1 || k.batches != 1 {
				b.Fatalf("one weight changed: plan %s, apply %v, %d writes in %d batches; want 1 destination update in 1 write", plan.Summary(p.Ops), err, k.writes, k.batches)
			}
			st = p.State
			change, changePlan, changeApply = append(change, done.Sub(start)), append(changePlan, planned.Sub(start)), append(changeApply, done.Sub(planned))

			// ipvsadm shows it, and makes the same write by hand.
			flag := map[ipvs.Protocol]string{ipvs.TCP: "-t", ipvs.UDP: "-u"}[svc.Protocol]
			vip, rip := fmt.Sprintf("%s:%d", svc.Addr, svc.Port), d.AddrPort().String()
			out, _, err := long(lb, nil, "ipvsadm", "-L", "-n", flag, vip)
			if err != nil {
				b.Fatal(err)
			}
			if !weightShown(out, rip, d.Weight) {
				b.Fatalf("ipvsadm -L -n %s %s does not show %s at weight %d:\n%s", flag, vip, rip, d.Weight, out)
			}
			_, e, err := long(lb, nil, "ipvsadm", "-e", flag, vip, "-r", rip, "-g", "-w", fmt.Sprint(d.Weight))
			if err != nil {
				b.Fatal(err)
			}
			edit = append(edit, e)
			saveEdit = append(saveEdit, save[r]+e)
		}

		// watch after an edit: the Runner's plan reads the destinations
		// of what the edit changed, and takes the rest from its last
		// plan (applier.Runner.PlanAfterEdit).
		ctx := context.Background()
		wk := open(b, lb)
		r := &applier.Runner{Kernel: wk, StateDir: b.TempDir(), MaxDeletes: -1}
		if err := applier.SaveState(r.StateDir, st); err != nil {
			b.Fatal(err)
		}
		if p, err := r.Plan(ctx, want); err != nil || len(p.Ops) != 0 {
			b.Fatalf("full plan before the edits: %v, %s", err, plan.Summary(p.Ops))
		}
		var afterEdit, afterEditPlan []time.Duration
		for rep := range reps {
			svc := &want.Services[(rep*2999+456)%services]
			svc.Destinations[rep%10].Weight += 10
			runtime.GC()
			start := time.Now()
			p, err := r.PlanAfterEdit(ctx, want)
			planned := time.Now()
			if err == nil {
				_, err = r.Apply(ctx, want, p)
			}
			done := time.Now()
			if err != nil || len(p.Ops) != 1 || p.Ops[0].Action != plan.Update {
				b.Fatalf("one weight changed, planned after the edit: plan %s, %v", plan.Summary(p.Ops), err)
			}
			afterEdit, afterEditPlan = append(afterEdit, done.Sub(start)), append(afterEditPlan, planned.Sub(start))
		}
		wk.Close()

		var tb table
		tb.row(fmt.Sprintf("lvsgen apply from empty (%d operations)", load.ops), load.apply)
		tb.row("  the whole: open, read, plan, apply", load.plan+load.apply)
		tb.row("ipvsadm -R of the same rules", restore)
		tb.ratio("ipvsadm -R / lvsgen apply", []time.Duration{restore}, []time.Duration{load.apply}, "")
		tb.row("lvsgen no-op plan: open, read the kernel, plan", noop...)
		tb.row("  of which reading (Observe)", observe...)
		tb.row("  of which planning (Diff)", diff...)
		tb.row("ipvsadm -S -n", save...)
		tb.ratio("lvsgen no-op plan / ipvsadm -S -n", noop, save, "<= 1.5x")
		tb.row("one weight changed: lvsgen read, plan, apply", change...)
		tb.row("  of which open, read, plan", changePlan...)
		tb.row("  of which apply: 1 operation, 1 kernel write", changeApply...)
		tb.row("ipvsadm -e of the same destination", edit...)
		tb.row("ipvsadm -S -n, then ipvsadm -e", saveEdit...)
		tb.ratio("lvsgen read+plan+apply / ipvsadm -S -n + -e", change, saveEdit, "")
		tb.ratio("lvsgen apply / ipvsadm -e", changeApply, edit, "")
		tb.row("one weight changed, as watch after an edit: plan, apply", afterEdit...)
		tb.row("  of which read what changed, plan", afterEditPlan...)
		tb.ratio("watch after an edit / ipvsadm -S -n + -e", afterEdit, saveEdit, "")
		tb.note("each weight change planned exactly 1 operation, written as 1 kernel write, and ipvsadm -L -n showed it")
		tb.print(fmt.Sprintf("%d services x 10 destinations, e2e VM (qemu TCG, one vCPU); lvsgen is the applier in-process on gen.Director's desired state:", services))
		b.ReportMetric(statsOf(noop).min.Seconds(), "noop-s")
		b.ReportMetric(statsOf(save).min.Seconds(), "ipvsadm-S-s")
		b.ReportMetric(statsOf(changeApply).min.Seconds(), "one-change-apply-s")
	}
}

// weightShown reports whether ipvsadm -L -n output lists rip with weight w.
func weightShown(out, rip string, w int32) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "->" && f[1] == rip && f[3] == fmt.Sprint(w) {
			return true
		}
	}
	return false
}
