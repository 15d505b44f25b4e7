package applier

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/applier/kernel/memory"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/gen"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/plan"
)

// counting counts the writes that reach a memory kernel through the
// Kernel interface, one by one or in batches.
type counting struct {
	*memory.Kernel
	writes  int
	batches [][]kernel.IPVSWrite
}

var _ kernel.BatchWriter = (*counting)(nil)

func (c *counting) WriteBatch(ctx context.Context, ws []kernel.IPVSWrite) ([]error, error) {
	c.writes += len(ws)
	c.batches = append(c.batches, ws)
	return c.Kernel.WriteBatch(ctx, ws)
}

func (c *counting) AddService(ctx context.Context, s ipvs.Service) error {
	c.writes++
	return c.Kernel.AddService(ctx, s)
}

func (c *counting) UpdateService(ctx context.Context, s ipvs.Service) error {
	c.writes++
	return c.Kernel.UpdateService(ctx, s)
}

func (c *counting) DelService(ctx context.Context, k ipvs.ServiceKey) error {
	c.writes++
	return c.Kernel.DelService(ctx, k)
}

func (c *counting) AddDestination(ctx context.Context, k ipvs.ServiceKey, d ipvs.Destination) error {
	c.writes++
	return c.Kernel.AddDestination(ctx, k, d)
}

func (c *counting) UpdateDestination(ctx context.Context, k ipvs.ServiceKey, d ipvs.Destination) error {
	c.writes++
	return c.Kernel.UpdateDestination(ctx, k, d)
}

func (c *counting) DelDestination(ctx context.Context, k ipvs.ServiceKey, d ipvs.Destination) error {
	c.writes++
	return c.Kernel.DelDestination(ctx, k, d)
}

func (c *counting) SetTimeouts(ctx context.Context, t kernel.Timeouts) error {
	c.writes++
	return c.Kernel.SetTimeouts(ctx, t)
}

func (c *counting) AddLink(ctx context.Context, l kernel.Link) error {
	c.writes++
	return c.Kernel.AddLink(ctx, l)
}

func (c *counting) SetLinkUp(ctx context.Context, name string) error {
	c.writes++
	return c.Kernel.SetLinkUp(ctx, name)
}

func (c *counting) DelLink(ctx context.Context, name string) error {
	c.writes++
	return c.Kernel.DelLink(ctx, name)
}

func (c *counting) AddAddress(ctx context.Context, a kernel.Address) error {
	c.writes++
	return c.Kernel.AddAddress(ctx, a)
}

func (c *counting) DelAddress(ctx context.Context, a kernel.Address) error {
	c.writes++
	return c.Kernel.DelAddress(ctx, a)
}

func (c *counting) ReplaceAddress(ctx context.Context, a kernel.Address) error {
	c.writes++
	return c.Kernel.ReplaceAddress(ctx, a)
}

func (c *counting) AddRoute(ctx context.Context, r kernel.Route) error {
	c.writes++
	return c.Kernel.AddRoute(ctx, r)
}

func (c *counting) DelRoute(ctx context.Context, r kernel.Route) error {
	c.writes++
	return c.Kernel.DelRoute(ctx, r)
}

func (c *counting) ChangeRoute(ctx context.Context, r kernel.Route) error {
	c.writes++
	return c.Kernel.ChangeRoute(ctx, r)
}

func (c *counting) AddFOU(ctx context.Context, f kernel.FOU) error {
	c.writes++
	return c.Kernel.AddFOU(ctx, f)
}

func (c *counting) DelFOU(ctx context.Context, f kernel.FOU) error {
	c.writes++
	return c.Kernel.DelFOU(ctx, f)
}

func (c *counting) SetSysctl(ctx context.Context, key, value string) error {
	c.writes++
	return c.Kernel.SetSysctl(ctx, key, value)
}

// loaded returns a memory kernel holding want, applied by lvsgen, and the
// ownership state that apply left.
func loaded(t testing.TB, want *hoststate.Host) (*memory.Kernel, *plan.State) {
	t.Helper()
	k := memory.New()
	p := replan(t, k, want, plan.NewState(want.Name), plan.Options{Now: t0})
	if _, err := Apply(context.Background(), k, p); err != nil {
		t.Fatal(err)
	}
	k.Writes = 0
	return k, p.State
}

// TestOneWeightChangeIsOneWrite: with 10,000 services of 10 real servers
// each in the kernel, changing one weight in the config plans exactly one
// operation, and applying it makes exactly one kernel write.
func TestOneWeightChangeIsOneWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 services")
	}
	want := gen.Director(10000, 10)
	k, st := loaded(t, want)
	c := &counting{Kernel: k}
	ctx := context.Background()

	// The config changes one weight; the kernel still has the old one.
	svc := &want.Services[4321]
	d := &svc.Destinations[7]
	d.Weight++
	p := replan(t, c, want, st, plan.Options{Now: t0})
	if len(p.Ops) != 1 || p.Ops[0].Action != plan.Update || p.Ops[0].Kind() != plan.KindDestination || !p.Ops[0].Service().Same(svc.ServiceKey) {
		t.Fatalf("plan for one changed weight:\n%s", planText(p))
	}
	res, err := Apply(ctx, c, p)
	must(t, err)
	if c.writes != 1 || k.Writes != 1 || len(res.Done) != 1 {
		t.Fatalf("applying one weight: %d writes through the interface, %d in the kernel, %d done; want 1", c.writes, k.Writes, len(res.Done))
	}
	if got := destWeight(t, k, svc.ServiceKey, d.AddrPort()); got != d.Weight {
		t.Fatalf("weight %d after apply, want %d", got, d.Weight)
	}
	// And nothing more to do.
	if p := replan(t, k, want, st, plan.Options{Now: t0}); len(p.Ops) != 0 {
		t.Fatalf("not converged:\n%s", planText(p))
	}
}

// TestFailureStopsAfterItsBatch: a failure in the middle of a batch lets
// the kernel finish that batch, and no later batch is sent.
func TestFailureStopsAfterItsBatch(t *testing.T) {
	want := gen.Director(4, 40) // 164 IPVS writes: batches of 64, 64 and 36
	k := memory.New()
	c := &counting{Kernel: k}
	dests := 0
	k.Fail = func(op string) error {
		if strings.HasPrefix(op, "adding destination") {
			dests++
			if dests == 20 {
				return fmt.Errorf("%s: %w", op, syscall.ENOMEM)
			}
		}
		return nil
	}
	st := plan.NewState(want.Name)
	p := replan(t, c, want, st, plan.Options{Now: t0})
	res, err := Apply(context.Background(), c, p)
	if !errors.Is(err, syscall.ENOMEM) {
		t.Fatalf("apply: %v, want ENOMEM", err)
	}
	checkResult(t, p, res)
	if len(c.batches) != 1 || len(c.batches[0]) != batchSize {
		t.Fatalf("%d batches sent, want 1 of %d", len(c.batches), batchSize)
	}
	// The batch went on after the failure: all its other writes are done.
	if ipvsDone := writesOf(res.Done) - (len(p.Ops) - 164); ipvsDone != batchSize-1 {
		t.Fatalf("%d IPVS operations done, want %d", ipvsDone, batchSize-1)
	}
	if len(res.NotDone) != 164-batchSize || len(res.AlsoFailed)+len(res.Unknown) != 0 {
		t.Fatalf("not done %d, also failed %d, unknown %d", len(res.NotDone), len(res.AlsoFailed), len(res.Unknown))
	}
	k.Fail = nil
	st = p.StateAfter(res.Undone())
	step(t, k, want, &st, plan.Options{Now: t0})
	if p := replan(t, k, want, st, plan.Options{Now: t0}); len(p.Ops) != 0 {
		t.Fatalf("not converged:\n%s", planText(p))
	}
	checkMatches(t, k, want)
}

// lossy is a kernel whose batch exchange fails after sending: of the
// batch, the first ok writes are answered, the next two reach the kernel
// but their answers are lost (the first is done, the second is not), and
// the rest are never sent.
type lossy struct {
	*memory.Kernel
	ok int
}

func (l *lossy) WriteBatch(ctx context.Context, ws []kernel.IPVSWrite) ([]error, error) {
	if len(ws) <= l.ok+2 {
		return l.Kernel.WriteBatch(ctx, ws)
	}
	errs, err := l.Kernel.WriteBatch(ctx, ws[:l.ok+1])
	if err != nil {
		return nil, err
	}
	errs[l.ok] = kernel.ErrNoAnswer
	errs = append(errs, kernel.ErrNoAnswer)
	for range ws[l.ok+2:] {
		errs = append(errs, kernel.ErrNotSent)
	}
	return errs, context.DeadlineExceeded
}

// TestLostAnswers: writes sent without an answer are Unknown, the unsent
// ones NotDone, ownership is kept for both, and the next run converges.
func TestLostAnswers(t *testing.T) {
	want := gen.Director(3, 10)
	k := &lossy{Kernel: memory.New(), ok: 12}
	st := plan.NewState(want.Name)
	p := replan(t, k, want, st, plan.Options{Now: t0})
	res, err := Apply(context.Background(), k, p)
	var ae *ApplyError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ae) {
		t.Fatalf("apply: %v, want the exchange's deadline and no ApplyError", err)
	}
	checkResult(t, p, res)
	if res.Failed != nil || len(res.Unknown) != 2 || len(res.NotDone) != 33-14 {
		t.Fatalf("failed %v, unknown %d, not done %d", res.Failed, len(res.Unknown), len(res.NotDone))
	}
	st = p.StateAfter(res.Undone())
	if len(st.Services) != 3 {
		t.Fatalf("state owns %d services, want all 3", len(st.Services))
	}
	step(t, k.Kernel, want, &st, plan.Options{Now: t0})
	if p := replan(t, k.Kernel, want, st, plan.Options{Now: t0}); len(p.Ops) != 0 {
		t.Fatalf("not converged:\n%s", planText(p))
	}
	checkMatches(t, k.Kernel, want)
}

// TestBatchesKeepDirection: creations and changes go in batches of their
// own, before any batch that drains or deletes.
func TestBatchesKeepDirection(t *testing.T) {
	before := gen.Director(2, 5)
	k, st := loaded(t, before)
	c := &counting{Kernel: k}
	after := gen.Director(2, 5)
	// One service gains a destination and loses another (drained), the
	// other changes a weight.
	s0, s1 := &after.Services[0], &after.Services[1]
	leaving := s0.Destinations[0].AddrPort()
	s0.Destinations[0].Addr = netip.MustParseAddr("10.0.9.9")
	s1.Destinations[1].Weight += 2
	// With connections, so that it drains (without, it is deleted).
	if err := k.SetConns(s0.ServiceKey, leaving, 3, 0); err != nil {
		t.Fatal(err)
	}
	p := replan(t, c, after, st, plan.Options{Now: t0, DrainTimeout: plan.DefaultDrainTimeout})
	if _, err := Apply(context.Background(), c, p); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, b := range c.batches {
		var ops []string
		for _, w := range b {
			ops = append(ops, w.Op.String())
		}
		dirs = append(dirs, strings.Join(ops, ", "))
	}
	wantDirs := []string{"add destination, update destination", "update destination"}
	if strings.Join(dirs, " | ") != strings.Join(wantDirs, " | ") {
		t.Fatalf("batches %q, want %q\n%s", dirs, wantDirs, planText(p))
	}
}

// TestMaxDeleteFraction: a Runner with MaxDeleteFraction refuses a plan
// that deletes more than that fraction of the managed services, one
// always allowed; without it (0) there is no limit.
func TestMaxDeleteFraction(t *testing.T) {
	for _, tt := range []struct {
		name          string
		services, cut int
		fraction      float64
		refused       bool
	}{
		{"a quarter of 8", 8, 2, 0.25, false},
		{"more than a quarter of 8", 8, 3, 0.25, true},
		{"the only service", 1, 1, 0.25, false},
		{"both of 2", 2, 2, 0.25, true},
		{"all of 8, no limit", 8, 8, 0, false},
		{"all of 8, fraction 1", 8, 8, 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := gen.Director(tt.services, 2)
			k, st := loaded(t, before)
			dir := t.TempDir()
			if err := SaveState(dir, st); err != nil {
				t.Fatal(err)
			}
			after := gen.Director(tt.services, 2)
			after.Services = after.Services[tt.cut:]
			r := &Runner{Kernel: k, StateDir: dir, MaxDeletes: -1, MaxDeleteFraction: tt.fraction}
			_, err := r.Plan(context.Background(), after)
			if refused := errors.Is(err, ErrRefused); refused != tt.refused {
				t.Fatalf("deleting %d of %d at fraction %g: %v, want refused %v", tt.cut, tt.services, tt.fraction, err, tt.refused)
			}
		})
	}
}
