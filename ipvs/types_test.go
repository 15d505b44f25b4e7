package ipvs

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestCanonicalAgreesWithSame: Canonical keys are equal exactly when Same
// says so, for every pair of a set of keys that differ in each field.
func TestCanonicalAgreesWithSame(t *testing.T) {
	a4, b4 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	a6 := netip.MustParseAddr("2001:db8::1")
	keys := []ServiceKey{
		{Family: IPv4, Protocol: TCP, Addr: a4, Port: 80},
		{Family: IPv4, Protocol: UDP, Addr: a4, Port: 80},
		{Family: IPv4, Protocol: TCP, Addr: b4, Port: 80},
		{Family: IPv4, Protocol: TCP, Addr: a4, Port: 81},
		{Family: IPv6, Protocol: TCP, Addr: a6, Port: 80},
		{FWMark: 1, Family: IPv4},
		{FWMark: 1, Family: IPv6},
		{FWMark: 2, Family: IPv4},
		// A fwmark key with leftovers of an address: the same service
		// as the clean one.
		{FWMark: 1, Family: IPv4, Protocol: TCP, Addr: a4, Port: 80},
	}
	for _, k := range keys {
		for _, o := range keys {
			if got, want := k.Canonical() == o.Canonical(), k.Same(o); got != want {
				t.Errorf("%+v, %+v: Canonical equal %v, Same %v", k, o, got, want)
			}
		}
	}
}

// TestServiceKeyString: a key's text, which plans and diagnostics show
// and host states order services by, is written as fmt wrote it before
// it was appended by hand.
func TestServiceKeyString(t *testing.T) {
	for _, k := range []ServiceKey{
		{Family: IPv4, Protocol: TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80},
		{Family: IPv4, Protocol: UDP, Addr: netip.MustParseAddr("192.0.2.255"), Port: 65535},
		{Family: IPv4, Protocol: SCTP, Addr: netip.MustParseAddr("0.0.0.0"), Port: 0},
		{Family: IPv6, Protocol: TCP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 443},
		{Family: IPv6, Protocol: UDP, Addr: netip.MustParseAddr("::ffff:10.0.0.1"), Port: 53},
		{Family: IPv6, Protocol: TCP, Addr: netip.MustParseAddr("fe80::1%eth0"), Port: 8080},
		{Family: IPv4, Protocol: Protocol(99), Addr: netip.MustParseAddr("10.0.0.1"), Port: 1},
		{Family: IPv4, Protocol: TCP},
		{FWMark: 1, Family: IPv4},
		{FWMark: 4294967295, Family: IPv6},
		{FWMark: 7, Family: Family(3)},
	} {
		want := fmt.Sprintf("%s:%s", k.Protocol, netip.AddrPortFrom(k.Addr, k.Port))
		if k.FWMark != 0 {
			want = fmt.Sprintf("fwm:%d/%s", k.FWMark, k.Family)
		}
		if got := k.String(); got != want {
			t.Errorf("%#v: %q, want %q", k, got, want)
		}
	}
}
