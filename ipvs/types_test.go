package ipvs

import (
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
