package plan

import (
	"net/netip"
	"testing"

	"github.com/lvsgen/lvsgen/ipvs"
)

// TestKeyNames: the state file's order is by key name, made without fmt.
func TestKeyNames(t *testing.T) {
	for _, k := range []ipvs.ServiceKey{
		{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80},
		{Family: ipvs.IPv6, Protocol: ipvs.UDP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 53},
		{Family: ipvs.IPv4, Protocol: ipvs.SCTP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 0},
		{Family: ipvs.IPv4, Protocol: 99, Addr: netip.MustParseAddr("192.0.2.1"), Port: 1},
		{Family: ipvs.IPv6, FWMark: 7},
	} {
		if got := string(appendKeyName([]byte("x"), k)); got != "x"+k.String() {
			t.Errorf("appendKeyName(%v) = %q, want %q", k, got, "x"+k.String())
		}
	}
}
