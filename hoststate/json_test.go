package hoststate

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// TestKernelObjectJSON holds the JSON form of the objects that embed a
// kernel value to format 1: the kernel value's fields, then "reasons", and
// no "up" on a link.
func TestKernelObjectJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"link", Link{Link: kernel.Link{Name: "ip6tnl0", Kind: "ip6tnl", Mode: "any", Up: true}, Reasons: []string{"service a"}},
			`{"name":"ip6tnl0","kind":"ip6tnl","mode":"any","reasons":["service a"]}`},
		{"link without mode", Link{Link: kernel.Link{Name: "lvs0", Kind: "dummy", Up: true}, Reasons: []string{"cluster c"}},
			`{"name":"lvs0","kind":"dummy","reasons":["cluster c"]}`},
		{"address", Address{Address: kernel.Address{Device: "lo", Prefix: netip.MustParsePrefix("2001:db8::1/128"), NoDAD: true, Deprecated: true}, Reasons: []string{"service a"}},
			`{"device":"lo","prefix":"2001:db8::1/128","nodad":true,"deprecated":true,"reasons":["service a"]}`},
		{"fou", FOU{FOU: kernel.FOU{Port: 5555, IPv6: true}, Family: ipvs.IPv6, Reasons: []string{"service a"}},
			`{"port":5555,"ipv6":true,"reasons":["service a"]}`},
		{"route", Route{Route: kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.0.0.1")}, Reasons: []string{"service a"}},
			`{"dst":"0.0.0.0/0","gateway":"10.0.0.1","reasons":["service a"]}`},
		{"timeouts", Timeouts{Timeouts: kernel.Timeouts{TCP: 900, TCPFin: 120, UDP: 300}, Reason: []string{"cluster c"}},
			`{"tcp":900,"tcpfin":120,"udp":300,"reasons":["cluster c"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(b)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
		})
	}
}
