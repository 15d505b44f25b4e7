package watch

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// TestResyncFinishesServiceDrain: a service removed from the config with
// a live connection drains, its VIP kept; watch's resync deletes both
// once the connection ends, with no file change (issue 17, item 11).
func TestResyncFinishesServiceDrain(t *testing.T) {
	h := newHarness(t)
	h.start()
	web := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.168.1.101"), Port: 80}
	rs1 := netip.MustParseAddrPort("10.1.0.11:80")
	if err := h.k.SetConns(web, rs1, 2, 0); err != nil {
		t.Fatal(err)
	}
	there := func() (svc, vip bool) {
		svcs, err := h.k.Services(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		addrs, err := h.k.Addresses(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		svc = slices.ContainsFunc(svcs, func(s ipvs.Service) bool { return s.ServiceKey == web })
		vip = slices.ContainsFunc(addrs, func(a kernel.Address) bool { return a.Prefix.Addr() == web.Addr })
		return svc, vip
	}
	h.edit("services.cue", servicesCUE(1, false))
	if s := h.debounced(); s.Outcome != Applied {
		t.Fatalf("removing web: %+v", s)
	}
	if svc, vip := there(); !svc || !vip {
		t.Fatalf("web drains: service there %v, VIP there %v; want both", svc, vip)
	}
	if s := h.resync(); s.Outcome != Applied || s.Changes != 0 {
		t.Fatalf("resync while web drains: %+v", s)
	}
	if err := h.k.SetConns(web, rs1, 0, 1); err != nil {
		t.Fatal(err)
	}
	if s := h.resync(); s.Outcome != Applied || s.Changes == 0 {
		t.Fatalf("resync after web's connections ended: %+v", s)
	}
	if svc, vip := there(); svc || vip {
		t.Fatalf("after the drain: service there %v, VIP there %v; want neither", svc, vip)
	}
	h.converged()
	h.stop()
}
