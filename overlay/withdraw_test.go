package overlay_test

import (
	"net/netip"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/health"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/overlay"
)

// TestWithdraw: an active-active cluster's VIP (Announced) leaves the
// desired state while no real server of its services is up, so that
// BIRD withdraws it; a VIP of another cluster, one with a sorry server or
// an unchecked real server, and the host's other addresses stay. A
// fwmark service serves the addresses it declares; with one that
// declares none, nothing is withdrawn.
func TestWithdraw(t *testing.T) {
	vip := hoststate.Address{Address: kernel.Address{Device: "lvs0", Prefix: netip.MustParsePrefix("192.0.2.9/32")}, Announced: true}
	other := hoststate.Address{Address: kernel.Address{Device: "lvs0", Prefix: netip.MustParsePrefix("192.0.2.99/32")}, Announced: true}
	allDown := map[health.Key]health.Status{k("web1"): down(3, "503"), k("web2"): down(3, "503")}
	oneUp := map[health.Key]health.Status{k("web1"): down(3, "503"), k("web2"): upSt()}
	with := func(h *hoststate.Host, addrs ...hoststate.Address) *hoststate.Host {
		h.Addresses = addrs
		return h
	}
	notAnnounced := vip
	notAnnounced.Announced = false
	fw := func(addrs ...string) hoststate.Service {
		s := hoststate.Service{Name: "fw", Service: ipvs.Service{
			ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, FWMark: 5}, Scheduler: "mh", Destinations: []ipvs.Destination{dest(a1, 1)}}}
		for _, a := range addrs {
			s.Addresses = append(s.Addresses, netip.MustParseAddr(a))
		}
		return s
	}
	alongside := func(h *hoststate.Host, s hoststate.Service) *hoststate.Host {
		h.Services = append(h.Services, s)
		return h
	}
	// web as a checked fwmark service whose mark covers the VIP.
	markedWeb := func() *hoststate.Host {
		h := with(unchecked(host(false, 0, 0)), vip, other)
		h.Services[0].ServiceKey = ipvs.ServiceKey{Family: ipvs.IPv4, FWMark: 7}
		h.Services[0].Addresses = []netip.Addr{vip.Prefix.Addr()}
		return h
	}
	for _, tt := range []struct {
		name   string
		host   *hoststate.Host
		status map[health.Key]health.Status
		want   []string
	}{
		{"a real server up", with(unchecked(host(false, 0, 0)), vip, other), oneUp, []string{"192.0.2.9/32", "192.0.2.99/32"}},
		{"none up: withdrawn", with(unchecked(host(false, 0, 0)), vip, other), allDown, []string{"192.0.2.99/32"}},
		{"none up, not active-active", with(unchecked(host(false, 0, 0)), notAnnounced), allDown, []string{"192.0.2.9/32"}},
		{"none up, a sorry server", with(unchecked(host(true, 0, 0)), vip), allDown, []string{"192.0.2.9/32"}},
		{"an unchecked real server", with(host(false, 0, 0), vip), allDown, []string{"192.0.2.9/32"}},
		{"a fwmark service without addresses on the host", alongside(with(unchecked(host(false, 0, 0)), vip), fw()), allDown, []string{"192.0.2.9/32"}},
		{"a fwmark service covering the VIP, none up: withdrawn", markedWeb(), allDown, []string{"192.0.2.99/32"}},
		{"a fwmark service covering the VIP, one up", markedWeb(), oneUp, []string{"192.0.2.9/32", "192.0.2.99/32"}},
		{"none up, an unchecked fwmark service covering the VIP", alongside(with(unchecked(host(false, 0, 0)), vip), fw("192.0.2.9")), allDown, []string{"192.0.2.9/32"}},
		{"none up, a fwmark service covering another address", alongside(with(unchecked(host(false, 0, 0)), vip, other), fw("192.0.2.99")), allDown, []string{"192.0.2.99/32"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.host.Addresses)
			out := overlay.New().Apply(tt.host, tt.status)
			var got []string
			for _, a := range out.Addresses {
				got = append(got, a.Prefix.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("addresses %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("addresses %v, want %v", got, tt.want)
				}
			}
			if len(tt.host.Addresses) != before {
				t.Errorf("Apply changed its input's addresses")
			}
		})
	}
}
