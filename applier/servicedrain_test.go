package applier

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/plan"
)

// actions lists a plan's operations as "action kind object".
func actions(p *plan.Plan) []string {
	var s []string
	for _, op := range p.Ops {
		s = append(s, opID(op))
	}
	return s
}

// TestServiceDrainsOnItsWayOut: a service that leaves the config with
// connections is drained — its destinations to weight 0, the service and
// its VIP kept — until its active connections end or the drain timeout
// passes; with no connection at all it goes, with its VIP, in one apply.
// Issue 17, item 11.
func TestServiceDrainsOnItsWayOut(t *testing.T) {
	const timeout = 5 * time.Minute
	// The director's own objects (lvs0, its sysctls) stay with the
	// cluster: the service's VIP is what leaves with it.
	drainOps := []string{
		"drain service tcp:192.0.2.10:80",
		"drain destination tcp:192.0.2.10:80 -> 10.0.0.11:80",
		"drain destination tcp:192.0.2.10:80 -> 10.0.0.12:80",
		"wait address 192.0.2.10/32 dev lvs0",
	}
	waitOps := []string{"wait service tcp:192.0.2.10:80", "wait address 192.0.2.10/32 dev lvs0"}
	deleteOps := []string{"delete service tcp:192.0.2.10:80", "delete address 192.0.2.10/32 dev lvs0"}
	web1 := netip.MustParseAddrPort("10.0.0.11:80")
	for _, tt := range []struct {
		name string
		// active, inactive are web1's connections when the service
		// leaves; then, after the first apply, at each later step.
		active, inactive uint32
		later            []uint32
		after            []time.Duration
		want             [][]string
	}{
		{name: "no connections", want: [][]string{deleteOps}},
		{name: "inactive only", inactive: 3, later: []uint32{0}, after: []time.Duration{time.Second},
			want: [][]string{drainOps, deleteOps}},
		{name: "until idle", active: 2, inactive: 1, later: []uint32{1, 0}, after: []time.Duration{time.Minute, 2 * time.Minute},
			want: [][]string{drainOps, waitOps, deleteOps}},
		{name: "until the timeout", active: 2, later: []uint32{2, 2}, after: []time.Duration{time.Minute, timeout},
			want: [][]string{drainOps, waitOps, deleteOps}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hosts, cfg := compile(t, web)
			empty, _ := compile(t, "")
			// What the host is with the empty config applied at once.
			base := hostKernel(t, cfg.Hosts["lb1"])
			stBase := plan.NewState("lb1")
			step(t, base, empty["lb1"], &stBase, plan.Options{Now: t0})
			k := hostKernel(t, cfg.Hosts["lb1"])
			dir := t.TempDir()
			now := t0
			r := &Runner{Kernel: k, StateDir: dir, DrainTimeout: timeout, MaxDeletes: -1, MaxDeleteFraction: DefaultMaxDeleteFraction, Now: func() time.Time { return now }}
			run := func(want *hoststate.Host) *plan.Plan {
				t.Helper()
				p, err := r.Plan(context.Background(), want)
				if err != nil {
					t.Fatalf("plan: %v", err)
				}
				if _, err := r.Apply(context.Background(), want, p); err != nil {
					t.Fatalf("apply: %v", err)
				}
				return p
			}
			run(hosts["lb1"])
			key := hosts["lb1"].Services[0].ServiceKey
			must(t, k.SetConns(key, web1, tt.active, tt.inactive))
			active := tt.active
			for i, want := range tt.want {
				if i > 0 {
					now = t0.Add(tt.after[i-1])
					active = tt.later[i-1]
					must(t, k.SetConns(key, web1, active, 0))
				}
				p := run(empty["lb1"])
				if diff := cmp.Diff(want, actions(p)); diff != "" {
					t.Fatalf("step %d (-want +got):\n%s\n%s", i, diff, planText(p))
				}
				if i < len(tt.want)-1 {
					// Still there, unweighted, with its VIP; with
					// active connections a plan now writes nothing
					// (plan --detailed-exitcode after apply).
					if w := destWeight(t, k, key, web1); w != 0 {
						t.Errorf("step %d: web1 weight %d, want 0", i, w)
					}
					addrs, _ := k.Addresses(context.Background())
					if !hasAddress(addrs, "192.0.2.10/32") {
						t.Errorf("step %d: the VIP is unbound while its service drains", i)
					}
					if p, _ := r.Plan(context.Background(), empty["lb1"]); active > 0 && p.Changes() != 0 {
						t.Errorf("step %d: the next plan writes:\n%s", i, planText(p))
					}
				}
			}
			if got, want := k.String(), base.String(); got != want {
				t.Errorf("the host is not as the empty config makes it (-want +got):\n%s", cmp.Diff(want, got))
			}
			st, err := LoadState(dir, "lb1")
			must(t, err)
			if len(st.ServiceDrains)+len(st.Services)+len(st.Addresses) != 0 {
				t.Errorf("state left: %+v", st)
			}
		})
	}
}

func hasAddress(addrs []kernel.Address, prefix string) bool {
	for _, a := range addrs {
		if a.Prefix == netip.MustParsePrefix(prefix) {
			return true
		}
	}
	return false
}

// TestServiceDrainBackInConfig: a draining service that comes back to the
// config gets its weights back and its drain record is dropped.
func TestServiceDrainBackInConfig(t *testing.T) {
	hosts, cfg := compile(t, web)
	empty, _ := compile(t, "")
	k := hostKernel(t, cfg.Hosts["lb1"])
	st := plan.NewState("lb1")
	opt := plan.Options{DrainTimeout: time.Hour, Now: t0}
	step(t, k, hosts["lb1"], &st, opt)
	key := hosts["lb1"].Services[0].ServiceKey
	must(t, k.SetConns(key, netip.MustParseAddrPort("10.0.0.11:80"), 1, 0))
	step(t, k, empty["lb1"], &st, opt)
	if len(st.ServiceDrains) != 1 {
		t.Fatalf("service drains %v, want one", st.ServiceDrains)
	}
	p := step(t, k, hosts["lb1"], &st, opt)
	if diff := cmp.Diff([]string{
		"update destination tcp:192.0.2.10:80 -> 10.0.0.11:80",
		"update destination tcp:192.0.2.10:80 -> 10.0.0.12:80",
	}, actions(p)); diff != "" {
		t.Fatalf("(-want +got):\n%s\n%s", diff, planText(p))
	}
	if len(st.ServiceDrains) != 0 {
		t.Errorf("service drains left: %v", st.ServiceDrains)
	}
	checkMatches(t, k, hosts["lb1"])
}

// TestServiceDrainCountsAsLeaving: --max-delete-fraction counts a service
// that starts draining as leaving, and lets it go at the drain's end
// without counting it again.
func TestServiceDrainCountsAsLeaving(t *testing.T) {
	two := web + `services: api: {cluster: "dr", vip: "192.0.2.11", port: 80, reals: [{host: "web1"}]}
`
	hosts, cfg := compile(t, two)
	one, _ := compile(t, web)
	none, _ := compile(t, "")
	k := hostKernel(t, cfg.Hosts["lb1"])
	now := t0
	r := &Runner{Kernel: k, StateDir: t.TempDir(), DrainTimeout: time.Hour, MaxDeletes: -1, MaxDeleteFraction: 0.5, Now: func() time.Time { return now }}
	apply := func(want *hoststate.Host) error {
		p, err := r.Plan(context.Background(), want)
		if err != nil {
			return err
		}
		_, err = r.Apply(context.Background(), want, p)
		return err
	}
	must(t, apply(hosts["lb1"]))
	for _, s := range hosts["lb1"].Services {
		must(t, k.SetConns(s.ServiceKey, netip.MustParseAddrPort("10.0.0.11:80"), 1, 0))
	}
	// Both leaving: two drains of two managed services, more than half.
	if err := apply(none["lb1"]); err == nil {
		t.Fatal("draining every service was not refused")
	}
	// One drains (half is allowed); at its end it goes, and the other
	// may then start draining: the first is not counted twice.
	must(t, apply(one["lb1"]))
	api := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.11"), Port: 80}
	must(t, k.SetConns(api, netip.MustParseAddrPort("10.0.0.11:80"), 0, 0))
	must(t, apply(one["lb1"]))
	svcs, _ := k.Services(context.Background())
	if len(svcs) != 1 {
		t.Fatalf("services %v, want web alone", svcs)
	}
}
