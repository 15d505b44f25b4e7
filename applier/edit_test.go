package applier

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/gen"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/model"
	"github.com/lvsgen/lvsgen/plan"
)

// destReads counts the services whose destinations a partial read asks
// for.
type destReads struct {
	*counting
	read []ipvs.ServiceKey
}

func (d *destReads) ServicesWith(ctx context.Context, dests func(ipvs.ServiceKey) bool) ([]ipvs.Service, error) {
	return d.counting.ServicesWith(ctx, func(k ipvs.ServiceKey) bool {
		if dests == nil || dests(k) {
			d.read = append(d.read, k)
			return true
		}
		return false
	})
}

// cloneHost is a deep enough copy of h to change a destination's weight.
func cloneHost(h *hoststate.Host) *hoststate.Host {
	c := *h
	c.Services = slices.Clone(h.Services)
	for i := range c.Services {
		c.Services[i].Destinations = slices.Clone(c.Services[i].Destinations)
	}
	return &c
}

// TestPlanAfterEditReadsWhatChanged: with 2,000 services in the kernel,
// a plan after a one-weight edit reads the destinations of that service
// only and plans the one update; drift by hand in another service is left
// to the next full plan, which repairs it.
func TestPlanAfterEditReadsWhatChanged(t *testing.T) {
	want := gen.Director(2000, 10)
	k, _ := loaded(t, want)
	kern := &destReads{counting: &counting{Kernel: k}}
	r := &Runner{Kernel: kern, StateDir: t.TempDir(), MaxDeletes: -1, Now: func() time.Time { return t0 }}
	ctx := context.Background()
	p, err := r.Plan(ctx, want)
	must(t, err)
	if _, err := r.Apply(ctx, want, p); err != nil {
		t.Fatal(err)
	}

	edited := cloneHost(want)
	svc := &edited.Services[1234]
	svc.Destinations[3].Weight++
	kern.read = nil
	p, err = r.PlanAfterEdit(ctx, edited)
	must(t, err)
	if len(p.Ops) != 1 || p.Ops[0].Kind() != plan.KindDestination || !p.Ops[0].Service().Same(svc.ServiceKey) {
		t.Fatalf("plan after one weight changed:\n%s", planText(p))
	}
	if len(kern.read) != 1 || !kern.read[0].Same(svc.ServiceKey) {
		t.Fatalf("read the destinations of %d services (%v), want only %s", len(kern.read), kern.read[:min(3, len(kern.read))], svc.ServiceKey)
	}
	if _, err := r.Apply(ctx, edited, p); err != nil {
		t.Fatal(err)
	}

	// The service just written to is read again; nothing else.
	kern.read = nil
	p, err = r.PlanAfterEdit(ctx, edited)
	must(t, err)
	if len(p.Ops) != 0 || len(kern.read) != 1 {
		t.Fatalf("after the apply: %d services read, plan:\n%s", len(kern.read), planText(p))
	}

	// Someone changes a weight of a quiet service by hand.
	other := edited.Services[77]
	d := other.Destinations[0]
	d.Weight += 5
	must(t, k.UpdateDestination(ctx, other.ServiceKey, d))
	if p, err := r.PlanAfterEdit(ctx, edited); err != nil || len(p.Ops) != 0 {
		t.Fatalf("a plan after an edit should not see drift in a quiet service (%v):\n%s", err, planText(p))
	}
	p, err = r.Plan(ctx, edited)
	must(t, err)
	if len(p.Ops) != 1 || !p.Ops[0].Service().Same(other.ServiceKey) {
		t.Fatalf("the full plan should repair the drift:\n%s", planText(p))
	}
}

// TestPlanAfterEditMatchesPlan runs random edits, drains among them, with
// one Runner planning each after-edit, and requires its plan to be the one
// a full Plan of the same kernel gives, while nobody else touches it.
func TestPlanAfterEditMatchesPlan(t *testing.T) {
	configs := []string{
		"",
		web,
		`services: web: {cluster: "dr", vip: "192.0.2.10", port: 80, scheduler: "rr", reals: [{host: "web2"}, {host: "web3", weight: 2}]}
`,
		web + `services: dns: {cluster: "dr", vip: "192.0.2.10", protocol: "udp", port: 53, onePacket: true, reals: [{host: "web1"}]}
`,
		`services: web: {cluster: "dr", vip: "192.0.2.10", port: 80, scheduler: "sh", flags: ["sh-fallback"], persistence: {timeout: 60, netmask: 24}, reals: [{host: "web1"}]}
`,
		web + `services: web6: {cluster: "dr", fwmark: 7, addresses: ["192.0.2.12"], scheduler: "mh", reals: [{host: "web1"}, {host: "web2"}]}
`,
	}
	var hosts []*hoststate.Host
	var cfg *model.Config
	for _, c := range configs {
		var h map[string]*hoststate.Host
		h, cfg = compile(t, c)
		hosts = append(hosts, h["lb1"])
	}
	k := hostKernel(t, cfg.Hosts["lb1"])
	now := t0
	clock := func() time.Time { return now }
	dir := t.TempDir()
	edits := &Runner{Kernel: k, StateDir: dir, MaxDeletes: -1, DrainTimeout: 2 * time.Minute, Now: clock}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	drains := 0
	for i := range 60 {
		want := hosts[rng.IntN(len(hosts))]
		got, err := edits.PlanAfterEdit(ctx, want)
		must(t, err)
		// A fresh Runner has no recall: its plan reads everything.
		full, err := (&Runner{Kernel: k, StateDir: dir, MaxDeletes: -1, DrainTimeout: 2 * time.Minute, Now: clock}).Plan(ctx, want)
		must(t, err)
		if diff := cmp.Diff(planText(full), planText(got)); diff != "" {
			t.Fatalf("step %d: plan after edit differs from the full plan (-full +after edit):\n%s", i, diff)
		}
		for _, op := range got.Ops {
			if op.Action == plan.Drain {
				drains++
			}
		}
		if _, err := edits.Apply(ctx, want, got); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		// Connections come and go, so that some leaving destinations
		// drain and others, with none, go at once.
		svcs, err := k.Services(ctx)
		must(t, err)
		for _, s := range svcs {
			for _, d := range s.Destinations {
				if rng.IntN(2) == 0 {
					must(t, k.SetConns(s.ServiceKey, d.AddrPort(), uint32(rng.IntN(3)), 0))
				}
			}
		}
		now = now.Add(time.Duration(rng.IntN(90)) * time.Second)
	}
	if drains == 0 {
		t.Error("no drain happened: the test does not cover them")
	}
}
