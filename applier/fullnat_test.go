package applier

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/plan"
)

// TestFullNAT: a fullnat service is an IPVS masq service, conntrack on,
// and lvsgen's nft table; a flushed table is drift that the next apply
// repairs; removing the service deletes the table and puts conntrack
// back as lvsgen found it.
func TestFullNAT(t *testing.T) {
	// app9 is behind nat1's gateway: reached by a route, not a subnet.
	svc := `services: full: {cluster: "nat", vip: "192.168.1.30", port: 80, forwarding: "fullnat", reals: [{host: "app1", port: 8080}, {address: "172.16.5.9", port: 8080}]}
`
	hosts, cfg := compile(t, svc)
	k := hostKernel(t, cfg.Hosts["nat1"])
	st := plan.NewState("nat1")
	opt := plan.Options{DrainTimeout: plan.DefaultDrainTimeout, Now: t0}
	step(t, k, hosts["nat1"], &st, opt)

	ctx := context.Background()
	got, err := k.NFTable(ctx, kernel.NFTIPv4, kernel.NFTTableName)
	if err != nil {
		t.Fatal(err)
	}
	vip := netip.MustParseAddr("192.168.1.30")
	want := kernel.NFTTable{Family: kernel.NFTIPv4, Name: "lvsgen", Chains: []kernel.NFTChain{kernel.SNATChain([]kernel.SNATRule{
		// app1 on nat1's eth1 subnet: nat1's address there.
		{Protocol: ipvs.TCP, VIP: vip, Port: 80, Real: netip.MustParseAddr("10.1.0.11"), To: netip.MustParseAddr("10.1.0.1")},
		// 172.16.5.9 through the gateway 192.168.1.1 on eth0.
		{Protocol: ipvs.TCP, VIP: vip, Port: 80, Real: netip.MustParseAddr("172.16.5.9"), To: netip.MustParseAddr("192.168.1.2")},
	})}}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Fatalf("nft table (-want +got):\n%s", d)
	}
	if v, _ := k.Sysctl(ctx, "net.ipv4.vs.conntrack"); v != "1" {
		t.Errorf("conntrack = %s, want 1", v)
	}
	svcs, _ := k.Services(ctx)
	if len(svcs) != 1 || len(svcs[0].Destinations) != 2 || svcs[0].Destinations[0].Forward != ipvs.Masq {
		t.Errorf("IPVS services: %+v, want one masq service with two destinations", svcs)
	}
	if p := replan(t, k, hosts["nat1"], st, opt); p.Changes() != 0 {
		t.Fatalf("second plan not empty:\n%s", planText(p))
	}

	// Drift: the table flushed by hand.
	k.FlushNFTable(kernel.NFTIPv4, kernel.NFTTableName)
	p := step(t, k, hosts["nat1"], &st, opt)
	text := planText(p)
	if p.Changes() != 1 || !strings.Contains(text, "ip lvsgen") || !strings.Contains(text, "+ chain postrouting: meta l4proto tcp ct original ip daddr 192.168.1.30") {
		t.Fatalf("plan after a flush:\n%s", text)
	}
	if got, _ := k.NFTable(ctx, kernel.NFTIPv4, kernel.NFTTableName); !got.Equal(want) {
		t.Fatalf("table not repaired: %+v", got)
	}

	// Another table is never touched.
	other := kernel.NFTTable{Family: kernel.NFTIPv4, Name: "filter", Chains: []kernel.NFTChain{kernel.SNATChain(nil)}}
	if err := k.ReplaceNFTable(ctx, other); err != nil {
		t.Fatal(err)
	}

	// The last fullnat service gone: table deleted, conntrack restored.
	empty, _ := compile(t, "")
	p = step(t, k, empty["nat1"], &st, opt)
	if _, err := k.NFTable(ctx, kernel.NFTIPv4, kernel.NFTTableName); err == nil {
		t.Fatalf("table still there after:\n%s", planText(p))
	}
	if v, _ := k.Sysctl(ctx, "net.ipv4.vs.conntrack"); v != "0" {
		t.Errorf("conntrack = %s after removal, want 0 as found", v)
	}
	if _, err := k.NFTable(ctx, kernel.NFTIPv4, "filter"); err != nil {
		t.Errorf("another table: %v", err)
	}
	if len(st.NFTables) != 0 {
		t.Errorf("state still owns %v", st.NFTables)
	}
}
