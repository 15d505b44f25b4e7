package applier

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/applier/kernel/memory"
	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/model"
	"github.com/lvsgen/lvsgen/plan"
	"github.com/lvsgen/lvsgen/plan/planfmt"
)

// site is a small config; tests vary its services.
const site = `package t
hosts: {
	lb1: {interfaces: eth0: addresses: ["10.0.0.2/24"], gateway: "10.0.0.1"}
	web1: {interfaces: eth0: addresses: ["10.0.0.11/24"], gateway: "10.0.0.1"}
	web2: {interfaces: eth0: addresses: ["10.0.0.12/24"], gateway: "10.0.0.1"}
	web3: {interfaces: eth0: addresses: ["10.0.0.13/24"], gateway: "10.0.0.1"}
	nat1: {interfaces: {eth0: addresses: ["192.168.1.2/24"], eth1: addresses: ["10.1.0.1/24"]}, gateway: "192.168.1.1"}
	app1: {interfaces: eth0: addresses: ["10.1.0.11/24"]}
}
clusters: {
	dr: directors: ["lb1"]
	nat: directors: ["nat1"]
}
`

// compile compiles site plus services and returns the desired state of
// every managed host and the model.
func compile(t *testing.T, services string) (map[string]*hoststate.Host, *model.Config) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.cue"), []byte(site+services), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid() {
		t.Fatalf("config invalid: %v", res.Diagnostics)
	}
	return res.Hosts, res.Config
}

// hostKernel returns an in-memory kernel that looks like h before lvsgen
// touched it: its interfaces, addresses and default route.
func hostKernel(t *testing.T, h *model.Host) *memory.Kernel {
	t.Helper()
	k := memory.New()
	ctx := context.Background()
	for _, ifc := range h.Interfaces {
		k.AddDevice(ifc.Name)
		for _, p := range ifc.Addresses {
			if err := k.AddAddress(ctx, kernel.Address{Device: ifc.Name, Prefix: p}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if h.Gateway.IsValid() {
		if err := k.AddRoute(ctx, kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: h.Gateway}); err != nil {
			t.Fatal(err)
		}
	}
	k.Writes = 0
	return k
}

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// step plans and applies want on k with state st, returning the plan.
func step(t *testing.T, k kernel.Kernel, want *hoststate.Host, st **plan.State, opt plan.Options) *plan.Plan {
	t.Helper()
	p := replan(t, k, want, *st, opt)
	if _, err := Apply(context.Background(), k, p); err != nil {
		t.Fatalf("apply: %v\nplan:\n%s", err, planText(p))
	}
	*st = p.State
	return p
}

func planText(p *plan.Plan) string {
	var b strings.Builder
	planfmt.WriteText(&b, p, false)
	return b.String()
}

// replan reads k for want and plans against it with st: the plan that
// the next Apply would execute.
func replan(t testing.TB, k kernel.IPVS, want *hoststate.Host, st *plan.State, opt plan.Options) *plan.Plan {
	t.Helper()
	obs, err := Observe(context.Background(), k, want, st)
	if err != nil {
		t.Fatal(err)
	}
	return plan.Diff(want, obs, st, opt)
}

const web = `services: web: {cluster: "dr", vip: "192.0.2.10", port: 80, scheduler: "wrr", reals: [{host: "web1", weight: 3}, {host: "web2"}]}
`

func TestApplyFromEmptyThenNoop(t *testing.T) {
	hosts, cfg := compile(t, web+`services: api: {cluster: "nat", vip: "192.168.1.20", port: 80, forwarding: "nat", reals: [{host: "app1", port: 8080}]}
`)
	for _, name := range []string{"lb1", "web1", "nat1", "app1"} {
		t.Run(name, func(t *testing.T) {
			k := hostKernel(t, cfg.Hosts[name])
			st := plan.NewState(name)
			opt := plan.Options{DrainTimeout: plan.DefaultDrainTimeout, Now: t0}
			p := step(t, k, hosts[name], &st, opt)
			if p.Changes() == 0 {
				t.Fatal("first apply changed nothing")
			}
			k.Writes = 0
			again := replan(t, k, hosts[name], st, opt)
			if len(again.Ops) != 0 {
				t.Errorf("second plan is not empty:\n%s", planText(again))
			}
			if _, err := Apply(context.Background(), k, again); err != nil {
				t.Fatal(err)
			}
			if k.Writes != 0 {
				t.Errorf("no-op apply made %d kernel writes", k.Writes)
			}
			checkMatches(t, k, hosts[name])
		})
	}
}

// checkMatches asserts that the kernel holds everything want says.
func checkMatches(t *testing.T, k *memory.Kernel, want *hoststate.Host) {
	t.Helper()
	ctx := context.Background()
	got, _ := k.Services(ctx)
	ipvs.Sort(got)
	var ws []ipvs.Service
	for _, s := range want.Services {
		ws = append(ws, s.Service)
	}
	if diff := cmp.Diff(ipvs.SaveString(ws), ipvs.SaveString(got)); diff != "" {
		t.Errorf("IPVS table (-want +got):\n%s", diff)
	}
	for _, s := range want.Sysctls {
		if v, err := k.Sysctl(ctx, s.Key); err != nil || v != s.Value {
			t.Errorf("sysctl %s = %q, %v; want %q", s.Key, v, err, s.Value)
		}
	}
	addrs, _ := k.Addresses(ctx)
	for _, a := range want.Addresses {
		found := false
		for _, x := range addrs {
			found = found || (x.Device == a.Device && x.Prefix == a.Prefix)
		}
		if !found {
			t.Errorf("address %s dev %s missing", a.Prefix, a.Device)
		}
	}
	routes, _ := k.Routes(ctx)
	for _, r := range want.Routes {
		found := false
		for _, x := range routes {
			found = found || (x.Dst == r.Dst && x.Gateway == r.Gateway)
		}
		if !found {
			t.Errorf("route %s via %s missing; have %v", r.Dst, r.Gateway, routes)
		}
	}
}

func TestOrderVIPBeforeServiceAndLast(t *testing.T) {
	hosts, cfg := compile(t, `services: api: {cluster: "nat", vip: "192.168.1.20", port: 80, forwarding: "nat", reals: [{host: "app1", port: 8080}]}
`)
	k := hostKernel(t, cfg.Hosts["nat1"])
	st := plan.NewState("nat1")
	opt := plan.Options{Now: t0}
	p := step(t, k, hosts["nat1"], &st, opt)
	idx := func(p *plan.Plan, kind plan.Kind) int {
		for i, o := range p.Ops {
			if o.Kind() == kind {
				return i
			}
		}
		return -1
	}
	if a, s := idx(p, plan.KindAddress), idx(p, plan.KindService); a < 0 || s < 0 || a > s {
		t.Errorf("the VIP (op %d) must be bound before the service (op %d):\n%s", a, s, planText(p))
	}
	if s, d := idx(p, plan.KindService), idx(p, plan.KindDestination); s > d {
		t.Errorf("service (op %d) must come before its destinations (op %d)", s, d)
	}
	// Remove the service: destinations, then the service, then the VIP.
	empty, _ := compile(t, "")
	p = step(t, k, empty["nat1"], &st, opt)
	var kinds []string
	for _, o := range p.Ops {
		kinds = append(kinds, string(o.Action)+" "+string(o.Kind()))
	}
	// lvs0 stays: nat1 still directs cluster nat.
	want := []string{"delete service", "delete address", "update sysctl", "update sysctl", "update sysctl"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("teardown order (-want +got):\n%s\n%s", diff, planText(p))
	}
	if v, _ := k.Sysctl(context.Background(), "net.ipv4.ip_forward"); v != "0" {
		t.Errorf("ip_forward = %s after teardown, want the 0 lvsgen found", v)
	}
}

func TestDriftIsRepaired(t *testing.T) {
	hosts, cfg := compile(t, web)
	k := hostKernel(t, cfg.Hosts["lb1"])
	st := plan.NewState("lb1")
	opt := plan.Options{DrainTimeout: plan.DefaultDrainTimeout, Now: t0}
	step(t, k, hosts["lb1"], &st, opt)
	ctx := context.Background()
	key := hosts["lb1"].Services[0].ServiceKey
	// By hand: ipvsadm -e ... -w 9; ipvsadm -E ... -s rr; ipvsadm -a ... 10.0.0.13.
	must(t, k.UpdateDestination(ctx, key, ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.11"), Port: 80, Forward: ipvs.Route, Weight: 9}))
	svc := hosts["lb1"].Services[0].Service
	svc.Scheduler = "rr"
	must(t, k.UpdateService(ctx, svc))
	must(t, k.AddDestination(ctx, key, ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.13"), Port: 80, Forward: ipvs.Route, Weight: 1}))
	p := replan(t, k, hosts["lb1"], st, plan.Options{DrainTimeout: 0, Now: t0})
	var got []string
	for _, o := range p.Ops {
		got = append(got, fmt.Sprintf("%s %s %s", o.Action, o.Kind(), o.Object()))
	}
	want := []string{
		"update service tcp:192.0.2.10:80",
		"update destination tcp:192.0.2.10:80 -> 10.0.0.11:80",
		"delete destination tcp:192.0.2.10:80 -> 10.0.0.13:80",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("drift plan (-want +got):\n%s", diff)
	}
	if _, err := Apply(ctx, k, p); err != nil {
		t.Fatal(err)
	}
	checkMatches(t, k, hosts["lb1"])
}

func TestUnmanagedServiceSurvivesUnlessPruned(t *testing.T) {
	hosts, cfg := compile(t, web)
	k := hostKernel(t, cfg.Hosts["lb1"])
	ctx := context.Background()
	other := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.99"), Port: 22}, Scheduler: "rr", NetmaskBits: 32}
	must(t, k.AddService(ctx, other))
	st := plan.NewState("lb1")
	p := step(t, k, hosts["lb1"], &st, plan.Options{Now: t0})
	if len(p.Unmanaged) != 1 || !p.Unmanaged[0].ServiceKey.Same(other.ServiceKey) {
		t.Errorf("unmanaged = %v, want the hand-made service", p.Unmanaged)
	}
	if svcs, _ := k.Services(ctx); len(svcs) != 2 {
		t.Fatalf("the unmanaged service was touched: %v", svcs)
	}
	p = replan(t, k, hosts["lb1"], st, plan.Options{Now: t0, Prune: true})
	if len(p.Ops) != 1 || p.Ops[0].Action != plan.Delete || p.Deletes() != 1 {
		t.Fatalf("prune plan:\n%s", planText(p))
	}
}

// threeThenTwo applies lb1's web service with web1, web2 and web3 to a
// new kernel, and returns it with the state, the plan options, and the
// desired states with all three and with web3 gone.
func threeThenTwo(t *testing.T) (*memory.Kernel, *plan.State, plan.Options, *hoststate.Host, *hoststate.Host) {
	t.Helper()
	hosts3, cfg := compile(t, `services: web: {cluster: "dr", vip: "192.0.2.10", port: 80, reals: [{host: "web1"}, {host: "web2"}, {host: "web3", weight: 4}]}
`)
	hosts2, _ := compile(t, `services: web: {cluster: "dr", vip: "192.0.2.10", port: 80, reals: [{host: "web1"}, {host: "web2"}]}
`)
	k := hostKernel(t, cfg.Hosts["lb1"])
	st := plan.NewState("lb1")
	opt := plan.Options{DrainTimeout: 10 * time.Minute, Now: t0}
	step(t, k, hosts3["lb1"], &st, opt)
	return k, st, opt, hosts3["lb1"], hosts2["lb1"]
}

// TestLeaveWithoutConnections checks that a destination with no active
// connection leaves in one apply — removed from the config, or added by
// hand inside a managed service — so that the plan after it is empty.
func TestLeaveWithoutConnections(t *testing.T) {
	k, st, opt, three, two := threeThenTwo(t)
	key := three.Services[0].ServiceKey

	// web3 leaves the config with no connection: deleted at once.
	p := step(t, k, two, &st, opt)
	if len(p.Ops) != 1 || p.Ops[0].Action != plan.Delete || !strings.Contains(p.Ops[0].Reason, "no connections to drain") {
		t.Fatalf("leaving with no connection:\n%s", planText(p))
	}
	if p := replan(t, k, two, st, opt); len(p.Ops) != 0 {
		t.Fatalf("the plan after the apply is not empty:\n%s", planText(p))
	}

	// One that served recently (inactive connections, TIME_WAIT) goes to
	// weight 0 first: a new connection between the plan's read and the
	// delete would be cut (expire_nodest_conn).
	k4, st4, opt4, three4, two4 := threeThenTwo(t)
	must(t, k4.SetConns(three4.Services[0].ServiceKey, netip.MustParseAddrPort("10.0.0.13:80"), 0, 2))
	if p := step(t, k4, two4, &st4, opt4); len(p.Ops) != 1 || p.Ops[0].Action != plan.Drain {
		t.Fatalf("leaving with inactive connections only:\n%s", planText(p))
	}

	// A destination added by hand, with no connection: the same.
	hand := ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.99"), Port: 80, Forward: ipvs.Route, Weight: 1}
	must(t, k.AddDestination(context.Background(), key, hand))
	if p := step(t, k, two, &st, opt); len(p.Ops) != 1 || p.Ops[0].Action != plan.Delete {
		t.Fatalf("a destination added by hand:\n%s", planText(p))
	}
	if p := replan(t, k, two, st, opt); len(p.Ops) != 0 {
		t.Fatalf("the plan after the apply is not empty:\n%s", planText(p))
	}
	if len(st.Drains) != 0 {
		t.Errorf("drain records left: %v", st.Drains)
	}
}

func TestDrainAcrossRuns(t *testing.T) {
	k, st, opt, three, two := threeThenTwo(t)
	_, cfg := compile(t, "") // lb1, for more kernels
	key := three.Services[0].ServiceKey
	web3 := netip.MustParseAddrPort("10.0.0.13:80")
	must(t, k.SetConns(key, web3, 5, 2))

	// Run 1: web3 leaves the config: weight 0, not deleted.
	p := step(t, k, two, &st, opt)
	if len(p.Ops) != 1 || p.Ops[0].Action != plan.Drain {
		t.Fatalf("run 1:\n%s", planText(p))
	}
	if w := destWeight(t, k, key, web3); w != 0 {
		t.Fatalf("web3 weight %d after drain, want 0", w)
	}
	// The state survives the process: reload it from disk.
	dir := t.TempDir()
	must(t, SaveState(dir, st))
	st, err := LoadState(dir, "lb1")
	must(t, err)

	// Run 2, 5 minutes later, connections still open: wait.
	opt.Now = t0.Add(5 * time.Minute)
	p = step(t, k, two, &st, opt)
	if len(p.Ops) != 1 || p.Ops[0].Action != plan.Wait || p.Changes() != 0 {
		t.Fatalf("run 2:\n%s", planText(p))
	}
	// Run 3: connections ended: delete.
	must(t, k.SetConns(key, web3, 0, 2))
	p = step(t, k, two, &st, opt)
	if len(p.Ops) != 1 || p.Ops[0].Action != plan.Delete {
		t.Fatalf("run 3:\n%s", planText(p))
	}
	if len(st.Drains) != 0 {
		t.Errorf("drain records left: %v", st.Drains)
	}
	checkMatches(t, k, two)

	// A drain that outlives its timeout is deleted with connections open.
	k2 := hostKernel(t, cfg.Hosts["lb1"])
	st2 := plan.NewState("lb1")
	opt.Now = t0
	step(t, k2, three, &st2, opt)
	must(t, k2.SetConns(key, web3, 5, 0))
	step(t, k2, two, &st2, opt)
	opt.Now = t0.Add(11 * time.Minute)
	p = step(t, k2, two, &st2, opt)
	if len(p.Ops) != 1 || p.Ops[0].Action != plan.Delete {
		t.Fatalf("after the timeout:\n%s", planText(p))
	}

	// A destination that comes back while draining gets its weight back.
	k3 := hostKernel(t, cfg.Hosts["lb1"])
	st3 := plan.NewState("lb1")
	opt.Now = t0
	step(t, k3, three, &st3, opt)
	must(t, k3.SetConns(key, web3, 5, 0))
	step(t, k3, two, &st3, opt)
	p = step(t, k3, three, &st3, opt)
	if w := destWeight(t, k3, key, web3); w != 4 || len(st3.Drains) != 0 {
		t.Fatalf("web3 weight %d, drains %v after coming back:\n%s", w, st3.Drains, planText(p))
	}
}

func TestUDPLeavesAtOnce(t *testing.T) {
	hosts2, cfg := compile(t, `services: dns: {cluster: "dr", vip: "192.0.2.10", protocol: "udp", port: 53, reals: [{host: "web1"}, {host: "web2"}]}
`)
	hosts1, _ := compile(t, `services: dns: {cluster: "dr", vip: "192.0.2.10", protocol: "udp", port: 53, reals: [{host: "web1"}]}
`)
	k := hostKernel(t, cfg.Hosts["lb1"])
	st := plan.NewState("lb1")
	opt := plan.Options{DrainTimeout: time.Hour, Now: t0}
	step(t, k, hosts2["lb1"], &st, opt)
	p := step(t, k, hosts1["lb1"], &st, opt)
	if len(p.Ops) != 1 || p.Ops[0].Action != plan.Delete {
		t.Fatalf("udp destination should be deleted at once:\n%s", planText(p))
	}
}

func TestNATRouteReplacedAndRestored(t *testing.T) {
	hosts, cfg := compile(t, `services: api: {cluster: "nat", vip: "192.168.1.20", port: 80, forwarding: "nat", reals: [{host: "app1", port: 8080}]}
`)
	empty, _ := compile(t, "")
	// A kernel whose default route has another metric cannot change it
	// in place (ENOENT): the applier deletes and adds it instead.
	for _, otherMetric := range []bool{false, true} {
		// app1 routes through 10.1.0.254 before lvsgen (a config that
		// says so is rejected by nat-gateway; the kernel's route is what
		// matters).
		k := &routeLog{Kernel: hostKernel(t, cfg.Hosts["app1"]), otherMetric: otherMetric}
		ctx := context.Background()
		must(t, k.AddRoute(ctx, kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.1.0.254")}))
		k.calls = nil
		st := plan.NewState("app1")
		step(t, k, hosts["app1"], &st, plan.Options{Now: t0})
		routes, _ := k.Routes(ctx)
		if len(routes) != 1 || routes[0].Gateway != netip.MustParseAddr("10.1.0.1") {
			t.Fatalf("routes after apply: %v", routes)
		}
		step(t, k, empty["app1"], &st, plan.Options{Now: t0})
		routes, _ = k.Routes(ctx)
		if len(routes) != 1 || routes[0].Gateway != netip.MustParseAddr("10.1.0.254") {
			t.Fatalf("routes after removal: %v, want the original default route back", routes)
		}
		want := []string{"change 0.0.0.0/0 via 10.1.0.1", "change 0.0.0.0/0 via 10.1.0.254"}
		if otherMetric {
			want = []string{
				"change 0.0.0.0/0 via 10.1.0.1", "del 0.0.0.0/0 via 10.1.0.254", "add 0.0.0.0/0 via 10.1.0.1",
				"change 0.0.0.0/0 via 10.1.0.254", "del 0.0.0.0/0 via 10.1.0.1", "add 0.0.0.0/0 via 10.1.0.254",
			}
		}
		if diff := cmp.Diff(want, k.calls); diff != "" {
			t.Errorf("route writes, other metric %v (-want +got):\n%s", otherMetric, diff)
		}
	}
}

// routeLog records a kernel's route writes; with otherMetric, its routes
// cannot be changed in place, as a route of a metric other than 0.
type routeLog struct {
	kernel.Kernel
	otherMetric bool
	calls       []string
}

func (k *routeLog) AddRoute(ctx context.Context, r kernel.Route) error {
	k.calls = append(k.calls, "add "+r.String())
	return k.Kernel.AddRoute(ctx, r)
}

func (k *routeLog) DelRoute(ctx context.Context, r kernel.Route) error {
	k.calls = append(k.calls, "del "+r.String())
	return k.Kernel.DelRoute(ctx, r)
}

func (k *routeLog) ChangeRoute(ctx context.Context, r kernel.Route) error {
	k.calls = append(k.calls, "change "+r.String())
	if k.otherMetric {
		return fmt.Errorf("changing route %s: %w", r, syscall.ENOENT)
	}
	return k.Kernel.ChangeRoute(ctx, r)
}

// oneAtATime hides a kernel's WriteBatch: Apply sends it one operation at
// a time.
type oneAtATime struct{ kernel.Kernel }

// TestFailureAtEveryStep injects a kernel error at each write of a plan in
// turn, with the writes pipelined in batches and one at a time; Result
// must say exactly what the kernel did, and the next run, from a fresh
// observation, must converge.
func TestFailureAtEveryStep(t *testing.T) {
	hosts, cfg := compile(t, web+`services: web6: {cluster: "dr", vip: "192.0.2.11", port: 443, scheduler: "sh", flags: ["sh-port"], persistence: {}, reals: [{host: "web1"}, {host: "web2"}, {host: "web3"}]}
`)
	want := hosts["lb1"]
	probe := hostKernel(t, cfg.Hosts["lb1"])
	stp := plan.NewState("lb1")
	n := len(step(t, probe, want, &stp, plan.Options{Now: t0}).Ops)
	for _, batched := range []bool{true, false} {
		for fail := 0; fail < n; fail++ {
			t.Run(fmt.Sprintf("batched=%v/fail at write %d", batched, fail), func(t *testing.T) {
				k := hostKernel(t, cfg.Hosts["lb1"])
				var kk kernel.Kernel = k
				if !batched {
					kk = oneAtATime{k}
				}
				writes := 0
				k.Fail = func(op string) error {
					writes++
					if writes == fail+1 {
						return fmt.Errorf("%s: %w", op, syscall.EIO)
					}
					return nil
				}
				st := plan.NewState("lb1")
				ctx := context.Background()
				p := replan(t, kk, want, st, plan.Options{Now: t0})
				res, err := Apply(ctx, kk, p)
				var ae *ApplyError
				if !errors.As(err, &ae) || !errors.Is(err, syscall.EIO) {
					t.Fatalf("apply error %v, want an ApplyError wrapping EIO", err)
				}
				if res.Failed == nil || opID(*res.Failed) != opID(p.Ops[fail]) || opID(ae.Op) != opID(p.Ops[fail]) {
					t.Fatalf("failed %v (error about %v), want op %d: %v", res.Failed, ae.Op, fail, opID(p.Ops[fail]))
				}
				checkResult(t, p, res)
				if !batched && (len(res.Done) != fail || len(res.NotDone) != n-fail-1 || len(res.AlsoFailed)+len(res.Unknown) != 0) {
					t.Fatalf("one at a time: done %d, also failed %d, unknown %d, not done %d", len(res.Done), len(res.AlsoFailed), len(res.Unknown), len(res.NotDone))
				}
				// Every write the kernel saw is accounted for, and nothing
				// after the failed batch was sent.
				if sent := writesOf(res.Done) + 1 + len(res.AlsoFailed); writes != sent {
					t.Fatalf("the kernel saw %d writes, Result accounts for %d", writes, sent)
				}
				if f := p.Ops[fail]; batched && f.Kind() == plan.KindService && f.Action == plan.Create {
					// Its destinations, in the same batch, fail in the
					// kernel after it.
					for _, o := range p.Ops[fail+1:] {
						if o.Kind() == plan.KindDestination && o.Service().Same(f.Service()) && !slices.ContainsFunc(res.AlsoFailed, func(x OpError) bool {
							return opID(x.Op) == opID(o) && errors.Is(x.Err, syscall.ESRCH)
						}) {
							t.Errorf("%s: not among the also-failed with ESRCH: %v", opID(o), res.AlsoFailed)
						}
					}
				}
				// Replaying what Result says was done, on a kernel as it
				// was before, gives the kernel the failed apply left.
				replay := hostKernel(t, cfg.Hosts["lb1"])
				for _, op := range res.Done {
					must(t, applyOp(ctx, replay, op))
				}
				if got, wantK := k.String(), replay.String(); got != wantK {
					t.Fatalf("the kernel is not what Result says was done:\n%s", cmp.Diff(wantK, got))
				}
				k.Fail = nil
				// The state the failed run leaves is the one it started
				// with, plus what plan.Diff of the next run re-derives.
				step(t, k, want, &st, plan.Options{Now: t0})
				if p := replan(t, k, want, st, plan.Options{Now: t0}); len(p.Ops) != 0 {
					t.Fatalf("not converged:\n%s", planText(p))
				}
				checkMatches(t, k, want)
			})
		}
	}
}

// opID names an operation within a plan.
func opID(o plan.Op) string { return fmt.Sprintf("%s %s %s", o.Action, o.Kind(), o.Object()) }

// writesOf counts the kernel writes of ops (a Wait writes nothing).
func writesOf(ops []plan.Op) int {
	n := 0
	for _, o := range ops {
		if o.Action != plan.Wait {
			n++
		}
	}
	return n
}

// checkResult asserts that every operation of p is in exactly one part of
// res, that Done and NotDone keep the plan's order, and that NotDone ends
// with the plan's tail.
func checkResult(t *testing.T, p *plan.Plan, res *Result) {
	t.Helper()
	seen := map[string]int{}
	count := func(ops []plan.Op) {
		for _, o := range ops {
			seen[opID(o)]++
		}
	}
	count(res.Done)
	count(res.Undone())
	for _, o := range p.Ops {
		if seen[opID(o)] != 1 {
			t.Fatalf("%s is in %d parts of the result", opID(o), seen[opID(o)])
		}
	}
	if len(seen) != len(p.Ops) {
		t.Fatalf("the result has %d operations, the plan %d", len(seen), len(p.Ops))
	}
	inOrder := func(name string, ops []plan.Op) {
		j := 0
		for _, o := range ops {
			for j < len(p.Ops) && opID(p.Ops[j]) != opID(o) {
				j++
			}
			if j == len(p.Ops) {
				t.Fatalf("%s are not in plan order: %s", name, opID(o))
			}
		}
	}
	inOrder("done", res.Done)
	inOrder("not done", res.NotDone)
	if k := len(res.NotDone); k > 0 && opID(res.NotDone[k-1]) != opID(p.Ops[len(p.Ops)-1]) {
		t.Fatalf("not done ends with %s, not the plan's last operation", opID(res.NotDone[k-1]))
	}
}

// TestTransitions applies named configs in random order; after each the
// kernel matches that config and a re-plan is empty (tailscale's router
// test does the same for its routes).
func TestTransitions(t *testing.T) {
	configs := map[string]string{
		"empty": "",
		"web":   web,
		"web-rr": `services: web: {cluster: "dr", vip: "192.0.2.10", port: 80, scheduler: "rr", reals: [{host: "web2"}, {host: "web3", weight: 2}]}
`,
		"two": web + `services: dns: {cluster: "dr", vip: "192.0.2.10", protocol: "udp", port: 53, onePacket: true, reals: [{host: "web1"}]}
`,
		"persistent": `services: web: {cluster: "dr", vip: "192.0.2.10", port: 80, scheduler: "sh", flags: ["sh-fallback"], persistence: {timeout: 60, netmask: 24}, reals: [{host: "web1"}]}
`,
		"v6": `services: web6: {cluster: "dr", fwmark: 7, addresses: ["192.0.2.12"], scheduler: "mh", reals: [{host: "web1"}, {host: "web2"}]}
`,
	}
	names := []string{"empty", "web", "web-rr", "two", "persistent", "v6"}
	hosts := map[string]map[string]*hoststate.Host{}
	var cfg *model.Config
	for _, n := range names {
		hosts[n], cfg = compile(t, configs[n])
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, host := range []string{"lb1", "web1"} {
		k := hostKernel(t, cfg.Hosts[host])
		st := plan.NewState(host)
		opt := plan.Options{Now: t0}
		for i := 0; i < 30; i++ {
			n := names[rng.IntN(len(names))]
			step(t, k, hosts[n][host], &st, opt)
			if p := replan(t, k, hosts[n][host], st, opt); len(p.Ops) != 0 {
				t.Fatalf("%s after %s: not converged:\n%s", host, n, planText(p))
			}
			checkMatches(t, k, hosts[n][host])
		}
		// Back to empty: everything lvsgen made is gone.
		step(t, k, hosts["empty"][host], &st, opt)
		if svcs, _ := k.Services(context.Background()); len(svcs) != 0 {
			t.Errorf("%s: services left after empty config: %v", host, svcs)
		}
		// lb1 still directs cluster dr, so its dummy device stays.
		if len(st.Services)+len(st.Addresses)+len(st.Routes) != 0 || (host == "web1" && len(st.Links) != 0) {
			t.Errorf("%s: state not empty: %+v", host, st)
		}
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := Lock(dir, "lb1")
	must(t, err)
	if _, err := Lock(dir, "lb1"); err == nil || !strings.Contains(err.Error(), "another lvsgen") {
		t.Errorf("second lock: %v", err)
	}
	unlock()
	unlock2, err := Lock(dir, "lb1")
	must(t, err)
	unlock2()
}

func destWeight(t *testing.T, k kernel.Kernel, key ipvs.ServiceKey, a netip.AddrPort) int32 {
	t.Helper()
	svcs, _ := k.Services(context.Background())
	for _, s := range svcs {
		if s.ServiceKey.Same(key) {
			for _, d := range s.Destinations {
				if d.AddrPort() == a {
					return d.Weight
				}
			}
		}
	}
	t.Fatalf("no destination %s", a)
	return -1
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDiffDeterministic: the same inputs give the same plan, whatever the
// order maps are walked in.
func TestDiffDeterministic(t *testing.T) {
	hosts, cfg := compile(t, `services: api: {cluster: "nat", vip: "192.168.1.20", port: 80, forwarding: "nat", reals: [{host: "app1", port: 8080}]}
`)
	empty, _ := compile(t, "")
	k := hostKernel(t, cfg.Hosts["nat1"])
	st := plan.NewState("nat1")
	step(t, k, hosts["nat1"], &st, plan.Options{Now: t0})
	first := planText(replan(t, k, empty["nat1"], st, plan.Options{Now: t0}))
	for i := 0; i < 20; i++ {
		if got := planText(replan(t, k, empty["nat1"], st, plan.Options{Now: t0})); got != first {
			t.Fatalf("plans differ:\n%s\n---\n%s", first, got)
		}
	}
}

// TestFailedTeardownKeepsOwnership: a removal that fails half-way must not
// leave lvsgen's objects unowned (they would then be "unmanaged" forever).
func TestFailedTeardownKeepsOwnership(t *testing.T) {
	hosts, cfg := compile(t, `services: api: {cluster: "nat", vip: "192.168.1.20", port: 80, forwarding: "nat", reals: [{host: "app1", port: 8080}]}
services: api2: {cluster: "nat", vip: "192.168.1.21", port: 80, forwarding: "nat", reals: [{host: "app1", port: 8080}]}
`)
	empty, _ := compile(t, "")
	probe := hostKernel(t, cfg.Hosts["nat1"])
	stp := plan.NewState("nat1")
	step(t, probe, hosts["nat1"], &stp, plan.Options{Now: t0})
	n := len(replan(t, probe, empty["nat1"], stp, plan.Options{Now: t0}).Ops)
	for fail := 0; fail < n; fail++ {
		t.Run(fmt.Sprintf("fail at removal %d", fail), func(t *testing.T) {
			k := hostKernel(t, cfg.Hosts["nat1"])
			st := plan.NewState("nat1")
			step(t, k, hosts["nat1"], &st, plan.Options{Now: t0})
			writes := 0
			k.Fail = func(op string) error {
				writes++
				if writes == fail+1 {
					return syscall.EIO
				}
				return nil
			}
			p := replan(t, k, empty["nat1"], st, plan.Options{Now: t0})
			res, err := Apply(context.Background(), k, p)
			if err == nil {
				t.Fatal("no error injected")
			}
			dir := t.TempDir()
			must(t, SaveState(dir, p.StateAfter(res.Undone())))
			st, err = LoadState(dir, "nat1")
			must(t, err)
			k.Fail = nil
			step(t, k, empty["nat1"], &st, plan.Options{Now: t0})
			if svcs, _ := k.Services(context.Background()); len(svcs) != 0 {
				t.Errorf("services left behind: %v", svcs)
			}
			addrs, _ := k.Addresses(context.Background())
			for _, a := range addrs {
				if a.Device == "lvs0" {
					t.Errorf("VIP left behind: %v", a)
				}
			}
			if v, _ := k.Sysctl(context.Background(), "net.ipv4.ip_forward"); v != "0" {
				t.Errorf("ip_forward not restored: %s", v)
			}
		})
	}
}

// TestServiceDrainTimeout: a service's own drain timeout beats the
// applier's default — "0s" deletes at once, "1m" expires after a minute.
func TestServiceDrainTimeout(t *testing.T) {
	for _, tt := range []struct {
		timeout string
		after   time.Duration
		want    plan.Action
	}{{"0s", 0, plan.Delete}, {"1m", 0, plan.Drain}} {
		t.Run(tt.timeout, func(t *testing.T) {
			two, cfg := compile(t, `services: web: {cluster: "dr", vip: "192.0.2.10", port: 80, drainTimeout: "`+tt.timeout+`", reals: [{host: "web1"}, {host: "web2"}]}
`)
			one, _ := compile(t, `services: web: {cluster: "dr", vip: "192.0.2.10", port: 80, drainTimeout: "`+tt.timeout+`", reals: [{host: "web1"}]}
`)
			k := hostKernel(t, cfg.Hosts["lb1"])
			st := plan.NewState("lb1")
			opt := plan.Options{DrainTimeout: time.Hour, Now: t0}
			step(t, k, two["lb1"], &st, opt)
			must(t, k.SetConns(two["lb1"].Services[0].ServiceKey, netip.MustParseAddrPort("10.0.0.12:80"), 3, 0))
			p := step(t, k, one["lb1"], &st, opt)
			if len(p.Ops) != 1 || p.Ops[0].Action != tt.want {
				t.Fatalf("plan:\n%s", planText(p))
			}
		})
	}
}

// TestTunnelModeAndV6Flags: an IPv6-outer tunnel real server gets ip6tnl0
// in mode any, repaired when changed by hand; IPv6 VIPs are added nodad
// and deprecated.
func TestTunnelModeAndV6Flags(t *testing.T) {
	hosts, cfg := compile(t, `hosts: far6: interfaces: eth0: addresses: ["2001:db8:2::11/64"]
services: t: {cluster: "dr", vip: "192.0.2.20", port: 80, forwarding: "tun", reals: [{host: "far6"}]}
services: v6: {cluster: "dr", vip: "2001:db8:1::20", port: 80, reals: [{host: "web1", address: "10.0.0.11"}], forwarding: "tun"}
`)
	k := hostKernel(t, cfg.Hosts["far6"])
	st := plan.NewState("far6")
	step(t, k, hosts["far6"], &st, plan.Options{Now: t0})
	ctx := context.Background()
	links, _ := k.Links(ctx)
	var mode string
	for _, l := range links {
		if l.Name == "ip6tnl0" {
			mode = l.Mode
		}
	}
	if mode != "any" {
		t.Fatalf("ip6tnl0 mode %q, want any; links %v", mode, links)
	}
	must(t, k.AddLink(ctx, kernel.Link{Name: "ip6tnl0", Kind: "ip6tnl", Mode: "ip6ip6"}))
	p := step(t, k, hosts["far6"], &st, plan.Options{Now: t0})
	if len(p.Ops) != 1 || p.Ops[0].Kind() != plan.KindLink || p.Ops[0].Action != plan.Update {
		t.Fatalf("mode drift plan:\n%s", planText(p))
	}
	// web1 gets the IPv6 VIP on sit0 (IPv6 inside IPv4), flagged.
	k2 := hostKernel(t, cfg.Hosts["web1"])
	st2 := plan.NewState("web1")
	step(t, k2, hosts["web1"], &st2, plan.Options{Now: t0})
	addrs, _ := k2.Addresses(ctx)
	found := false
	for _, a := range addrs {
		if a.Device == "sit0" && a.Prefix.Addr() == netip.MustParseAddr("2001:db8:1::20") {
			found = a.NoDAD && a.Deprecated
		}
	}
	if !found {
		t.Errorf("IPv6 VIP on sit0 with nodad and deprecated missing: %v", addrs)
	}
	if p := replan(t, k2, hosts["web1"], st2, plan.Options{Now: t0}); len(p.Ops) != 0 {
		t.Errorf("not converged:\n%s", planText(p))
	}
	// Someone binds the VIP again without its flags: it would become
	// web1's source address. The flags are repaired in place, in one
	// write, without the VIP going away.
	vip := kernel.Address{Device: "sit0", Prefix: netip.MustParsePrefix("2001:db8:1::20/128")}
	must(t, k2.ReplaceAddress(ctx, vip))
	p = replan(t, k2, hosts["web1"], st2, plan.Options{Now: t0})
	text := planText(p)
	if len(p.Ops) != 1 || p.Ops[0].Kind() != plan.KindAddress || p.Ops[0].Action != plan.Update ||
		!strings.Contains(text, "nodad: false → true") || !strings.Contains(text, "deprecated: false → true") {
		t.Fatalf("flag drift plan:\n%s", text)
	}
	counted := &counting{Kernel: k2}
	if _, err := Apply(ctx, counted, p); err != nil {
		t.Fatal(err)
	}
	if counted.writes != 1 {
		t.Errorf("%d writes to repair the flags, want 1", counted.writes)
	}
	if p := replan(t, k2, hosts["web1"], p.State, plan.Options{Now: t0}); len(p.Ops) != 0 {
		t.Errorf("not converged after the repair:\n%s", planText(p))
	}
}

// TestMissingSchedulerIsNamed: the kernel's ENOENT for a scheduler it
// lacks (twos on Linux 6.1) becomes an error that says so.
func TestMissingSchedulerIsNamed(t *testing.T) {
	hosts, cfg := compile(t, `services: w: {cluster: "dr", vip: "192.0.2.10", port: 80, scheduler: "twos", reals: [{host: "web1"}]}
`)
	k := hostKernel(t, cfg.Hosts["lb1"])
	st := plan.NewState("lb1")
	p := replan(t, k, hosts["lb1"], st, plan.Options{Now: t0})
	_, err := Apply(context.Background(), k, p)
	if err == nil || !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "module ip_vs_twos is missing; twos needs Linux 6.2 or later") {
		t.Fatalf("error %v", err)
	}
}
