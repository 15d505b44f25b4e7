package applier

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/health"
	"github.com/lvsgen/lvsgen/overlay"
	"github.com/lvsgen/lvsgen/plan"
)

// TestActiveActiveWithdraw: an active-active director unbinds a VIP,
// which BIRD then withdraws, while none of its real servers is up, keeps
// its IPVS service, and binds the VIP again when one comes back.
func TestActiveActiveWithdraw(t *testing.T) {
	hosts, cfg := compile(t, `clusters: aa: {directors: ["lb1"], mode: "active-active", bgp: {asn: 65010, peers: [{address: "10.0.0.1", asn: 65000}]}}
services: web: {cluster: "aa", vip: "192.0.2.30", port: 80, scheduler: "mh", check: {type: "tcp"}, reals: [{host: "web1"}, {host: "web2"}]}
`)
	k := hostKernel(t, cfg.Hosts["lb1"])
	st := plan.NewState("lb1")
	opt := plan.Options{DrainTimeout: plan.DefaultDrainTimeout, Now: t0}
	ov := overlay.New()
	up := health.Status{Type: health.TCP, Up: true, Since: t0, Passes: 2, Checks: 2}
	down := health.Status{Type: health.TCP, Up: false, Since: t0, Fails: 3, Checks: 5}
	key := func(real string) health.Key { return health.Key{Service: "web", Real: real} }
	vip := kernel.Address{Device: "lvs0", Prefix: netip.MustParsePrefix("192.0.2.30/32")}
	bound := func() bool {
		as, err := k.Addresses(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(as, func(a kernel.Address) bool { return a.Device == vip.Device && a.Prefix == vip.Prefix })
	}
	step(t, k, ov.Apply(hosts["lb1"], map[health.Key]health.Status{key("web1"): up, key("web2"): up}), &st, opt)
	if !bound() {
		t.Fatalf("VIP not bound with both real servers up:\n%s", k)
	}
	opt.Now = t0.Add(time.Minute)
	p := step(t, k, ov.Apply(hosts["lb1"], map[health.Key]health.Status{key("web1"): down, key("web2"): down}), &st, opt)
	if bound() {
		t.Fatalf("VIP still bound with no real server up:\n%s\nplan:\n%s", k, planText(p))
	}
	if text := planText(p); !strings.Contains(text, "health: no real server of 192.0.2.30 up: unbound, so that BGP withdraws it") {
		t.Errorf("the plan does not say why the VIP goes:\n%s", text)
	}
	if svcs, _ := k.Services(context.Background()); len(svcs) != 1 {
		t.Fatalf("the service went with its VIP: %v", svcs)
	}
	step(t, k, ov.Apply(hosts["lb1"], map[health.Key]health.Status{key("web1"): up, key("web2"): down}), &st, opt)
	if !bound() {
		t.Fatalf("VIP not bound again with web1 up:\n%s", k)
	}
}
