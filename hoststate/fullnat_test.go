package hoststate

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/model"
)

// TestFullNAT: a fullnat director gets masq destinations, conntrack on
// over its cluster's 0, forwarding, and one SNAT rule per real server
// with the source the director has towards it; its real servers get
// nothing.
func TestFullNAT(t *testing.T) {
	pfx := netip.MustParsePrefix
	addr := netip.MustParseAddr
	cfg := &model.Config{
		Hosts: map[string]*model.Host{
			"lb": {Name: "lb", Managed: true, Gateway: addr("10.0.3.1"), Interfaces: []model.Interface{
				{Name: "eth0", Addresses: []netip.Prefix{pfx("192.0.2.2/24")}},
				{Name: "eth1", Addresses: []netip.Prefix{pfx("10.0.3.2/24")}},
			}},
			"rs": {Name: "rs", Managed: true, Gateway: addr("10.0.2.1"), Interfaces: []model.Interface{
				{Name: "eth0", Addresses: []netip.Prefix{pfx("10.0.2.11/24")}},
			}},
		},
		Clusters: map[string]*model.Cluster{"c": {Name: "c", Directors: []string{"lb"}, VIPBind: "none", Sysctl: map[string]int{"conntrack": 0}}},
		Services: []*model.Service{
			{Name: "full", Cluster: "c", VIP: addr("192.0.2.20"), Protocol: "tcp", Port: 80, Family: ipvs.IPv4, Forwarding: "fullnat", Scheduler: "rr",
				Reals: []model.Real{{Host: "rs", Address: addr("10.0.2.11"), Port: 8080, Weight: 1}, {Address: addr("192.0.2.30"), Port: 8080, Weight: 1}}},
			{Name: "own", Cluster: "c", VIP: addr("192.0.2.21"), Protocol: "udp", Port: 53, Family: ipvs.IPv4, Forwarding: "fullnat", Scheduler: "rr",
				SNAT: addr("192.0.2.2"), Reals: []model.Real{{Host: "rs", Address: addr("10.0.2.11"), Port: 53, Weight: 1}}},
		},
	}
	hosts, conflicts := Build(cfg)
	if len(conflicts) > 0 {
		t.Fatalf("conflicts: %v", conflicts)
	}
	lb := hosts["lb"]
	for _, s := range lb.Services {
		for _, d := range s.Destinations {
			if d.Forward != ipvs.Masq {
				t.Errorf("%s -> %s: forward %s, want masq", s.ServiceKey, d.AddrPort(), d.Forward)
			}
		}
	}
	sysctl := func(key string) string {
		i := slices.IndexFunc(lb.Sysctls, func(s Sysctl) bool { return s.Key == key })
		if i < 0 {
			return ""
		}
		return lb.Sysctls[i].Value + " " + lb.Sysctls[i].Reasons[0]
	}
	for key, want := range map[string]string{
		"net.ipv4.vs.conntrack": "1 service full", "net.ipv4.ip_forward": "1 service full",
		"net.ipv4.conf.eth1.send_redirects": "0 service full",
	} {
		if got := sysctl(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	want := []NFTable{{NFTTable: kernel.NFTTable{Family: kernel.NFTIPv4, Name: "lvsgen", Chains: []kernel.NFTChain{kernel.SNATChain([]kernel.SNATRule{
		// Through the gateway on eth1: the director's address there.
		{Protocol: ipvs.TCP, VIP: addr("192.0.2.20"), Port: 80, Real: addr("10.0.2.11"), To: addr("10.0.3.2")},
		// On eth0's subnet.
		{Protocol: ipvs.TCP, VIP: addr("192.0.2.20"), Port: 80, Real: addr("192.0.2.30"), To: addr("192.0.2.2")},
		// The service's own snat.
		{Protocol: ipvs.UDP, VIP: addr("192.0.2.21"), Port: 53, Real: addr("10.0.2.11"), To: addr("192.0.2.2")},
	})}}, Reasons: []string{"service full", "service own"}}}
	if d := cmp.Diff(want, lb.NFTables, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("nftables (-want +got):\n%s", d)
	}
	rs := hosts["rs"]
	if len(rs.Sysctls)+len(rs.Addresses)+len(rs.Routes)+len(rs.Links)+len(rs.NFTables) != 0 {
		t.Errorf("a fullnat real server gets %+v, want nothing", rs)
	}
}
