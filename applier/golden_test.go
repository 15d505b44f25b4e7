package applier

import (
	"bytes"
	"context"
	"flag"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/applier/kernel/memory"
	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/goldentest"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/plan"
	"github.com/lvsgen/lvsgen/plan/planfmt"
)

var update = flag.Bool("update", false, "rewrite the golden plans under testdata/golden")

// goldenPlan compares p's text (plain and, with colour, coloured) and
// JSON renderings with testdata/golden/NAME.{txt,json}: the plan's
// output is pinned byte for byte.
func goldenPlan(t *testing.T, name string, p *plan.Plan, colour bool) {
	t.Helper()
	var txt, js bytes.Buffer
	if err := planfmt.WriteText(&txt, p, false); err != nil {
		t.Fatal(err)
	}
	if colour {
		txt.WriteString("--- with colour:\n")
		if err := planfmt.WriteText(&txt, p, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := planfmt.WriteJSON(&js, p); err != nil {
		t.Fatal(err)
	}
	golden(t, name+".txt", txt.Bytes())
	golden(t, name+".json", js.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldentest.Check(t, filepath.Join("testdata", "golden", name), got, *update)
}

// TestGoldenExamples pins the plan of every example host, from a kernel
// that looks like the host before lvsgen touched it and from an empty
// one (no devices: the plan has problems).
func TestGoldenExamples(t *testing.T) {
	res, err := compiler.Compile("../examples")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid() {
		t.Fatalf("examples invalid: %v", res.Diagnostics)
	}
	var names []string
	for name := range res.Hosts {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			opt := plan.Options{DrainTimeout: plan.DefaultDrainTimeout, Now: t0}
			p := replan(t, hostKernel(t, res.Config.Hosts[name]), res.Hosts[name], plan.NewState(name), opt)
			goldenPlan(t, "examples-"+name, p, false)
			p = replan(t, memory.New(), res.Hosts[name], plan.NewState(name), opt)
			goldenPlan(t, "examples-"+name+"-empty", p, false)
		})
	}
}

// changesBefore and changesAfter are two configs of site; going from one
// to the other updates, drains, waits for, deletes and tears down.
const changesBefore = `services: web: {cluster: "dr", vip: "192.0.2.10", port: 80, scheduler: "wrr", reals: [{host: "web1", weight: 3}, {host: "web2"}, {host: "web3"}]}
services: tun: {cluster: "dr", vip: "192.0.2.20", port: 80, forwarding: "tun", reals: [{host: "web1"}]}
services: api: {cluster: "nat", vip: "192.168.1.20", port: 80, forwarding: "nat", reals: [{host: "app1", port: 8080}]}
services: dns: {cluster: "dr", vip: "192.0.2.53", port: 53, protocol: "udp", reals: [{host: "web1"}, {host: "web2"}]}
`

// changesMiddle drains web3.
const changesMiddle = `services: web: {cluster: "dr", vip: "192.0.2.10", port: 80, scheduler: "wrr", reals: [{host: "web1", weight: 3}, {host: "web2"}]}
services: tun: {cluster: "dr", vip: "192.0.2.20", port: 80, forwarding: "tun", reals: [{host: "web1"}]}
services: api: {cluster: "nat", vip: "192.168.1.20", port: 80, forwarding: "nat", reals: [{host: "app1", port: 8080}]}
services: dns: {cluster: "dr", vip: "192.0.2.53", port: 53, protocol: "udp", reals: [{host: "web1"}, {host: "web2"}]}
`

const changesAfter = `services: web: {cluster: "dr", vip: "192.0.2.10", port: 80, scheduler: "rr", reals: [{host: "web1", weight: 5}]}
services: dns: {cluster: "dr", vip: "192.0.2.53", port: 53, protocol: "udp", reals: [{host: "web1"}]}
services: mail: {cluster: "dr", vip: "192.0.2.25", port: 25, reals: [{host: "web1"}, {host: "web2"}]}
`

// TestGoldenChanges pins plans with every action: a service updated, a
// destination changed, one drained, one waited for, UDP ones deleted at
// once, services deleted, one drained with its VIP kept, an unmanaged service (and, pruned, its
// deletion), and the teardown of links, addresses, routes and sysctls.
func TestGoldenChanges(t *testing.T) {
	before, cfg := compile(t, changesBefore)
	middle, _ := compile(t, changesMiddle)
	after, _ := compile(t, changesAfter)
	ctx := context.Background()
	for _, name := range []string{"lb1", "nat1", "web1", "app1"} {
		t.Run(name, func(t *testing.T) {
			k := hostKernel(t, cfg.Hosts[name])
			st := plan.NewState(name)
			opt := plan.Options{DrainTimeout: plan.DefaultDrainTimeout, Now: t0}
			if name == "app1" {
				// Someone else's default route, which the NAT
				// service replaces and its removal restores.
				must(t, k.AddRoute(ctx, kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.1.0.254")}))
			}
			goldenPlan(t, "changes-"+name+"-first", step(t, k, before[name], &st, opt), false)
			var web ipvs.ServiceKey
			if name == "lb1" {
				// Connections, so that the middle step drains it
				// (without, it deletes it) and the last waits.
				web = before[name].Services[slices.IndexFunc(before[name].Services, func(s hoststate.Service) bool { return s.Name == "web" })].ServiceKey
				must(t, k.SetConns(web, netip.MustParseAddrPort("10.0.0.13:80"), 4, 2))
			}
			step(t, k, middle[name], &st, opt)
			if name == "lb1" {
				// And so that the last drains this one, and the tun
				// service, which leaves the config, with its VIP kept.
				must(t, k.SetConns(web, netip.MustParseAddrPort("10.0.0.12:80"), 3, 0))
				tun := before[name].Services[slices.IndexFunc(before[name].Services, func(s hoststate.Service) bool { return s.Name == "tun" })].ServiceKey
				must(t, k.SetConns(tun, netip.MustParseAddrPort("10.0.0.11:80"), 1, 2))
				other := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.99"), Port: 22}, Scheduler: "rr", NetmaskBits: 32}
				must(t, k.AddService(ctx, other))
			}
			later := plan.Options{DrainTimeout: plan.DefaultDrainTimeout, Now: t0.Add(time.Minute)}
			goldenPlan(t, "changes-"+name, replan(t, k, after[name], st, later), name == "lb1")
			if name == "lb1" {
				later.Prune = true
				goldenPlan(t, "changes-"+name+"-prune", replan(t, k, after[name], st, later), false)
			}
		})
	}
}
