package hoststate

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/ipvs"
)

// TestTunnelDevice: each tunnel type and pair of families lands on the
// device the kernel decapsulates it on.
func TestTunnelDevice(t *testing.T) {
	tests := []struct {
		typ          string
		outer, inner ipvs.Family
		dev, kind    string
	}{
		{"ipip", ipvs.IPv4, ipvs.IPv4, "tunl0", "ipip"},
		{"gue", ipvs.IPv4, ipvs.IPv4, "tunl0", "ipip"},
		{"ipip", ipvs.IPv4, ipvs.IPv6, "sit0", "sit"},
		{"gue", ipvs.IPv4, ipvs.IPv6, "sit0", "sit"},
		{"ipip", ipvs.IPv6, ipvs.IPv4, "ip6tnl0", "ip6tnl"},
		{"gue", ipvs.IPv6, ipvs.IPv6, "ip6tnl0", "ip6tnl"},
		{"gre", ipvs.IPv4, ipvs.IPv6, "gre0", "gre"},
		{"gre", ipvs.IPv6, ipvs.IPv4, "ip6gre0", "ip6gre"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.inner.String()+" in "+tt.outer.String(), func(t *testing.T) {
			dev, kind := tunnelDevice(tt.typ, tt.outer, tt.inner)
			if diff := cmp.Diff([]string{tt.dev, tt.kind}, []string{dev, kind}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
