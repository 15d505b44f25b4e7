//go:build e2eguest

package compile

import (
	"testing"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// hostInterfaces are the interfaces of the hosts of testdata/reals, as
// declared there, and their default gateways.
var hostInterfaces = map[string]struct {
	addrs []string
	gw    string
}{
	"d1":    {addrs: []string{"10.3.0.2/24", "2001:db8:3::2/64"}},
	"rdr":   {addrs: []string{"10.3.0.11/24", "2001:db8:3::11/64"}},
	"rnat":  {addrs: []string{"10.3.0.12/24", "2001:db8:3::12/64"}},
	"rtun4": {addrs: []string{"10.4.0.11/24"}, gw: "10.4.0.1"},
	"rtun6": {addrs: []string{"2001:db8:4::11/64"}, gw: "2001:db8:4::1"},
}

// TestHostStates applies the render of every host of testdata/reals (a
// director with DR, NAT and TUN services of both families, and real
// servers of each kind: DR and NAT on both families, tunnels with IPv4
// and IPv6 outer addresses, every tunnel type) in a namespace that holds
// the host's interfaces as dummy devices: the kernel must take every
// link, sysctl, address, fou listener, route and IPVS rule lvsgen renders.
func TestHostStates(t *testing.T) {
	guest.Require(t)
	const dir = "testdata/reals"
	tp := topo.New(t)
	for host, hi := range hostInterfaces {
		t.Run(host, func(t *testing.T) {
			n := tp.Node(host, nil, "")
			n.AddDummy("eth0")
			for _, a := range hi.addrs {
				n.AddAddr("eth0", a)
			}
			if hi.gw != "" {
				n.DefaultRoute(hi.gw)
			}
			applyRendered(t, n, dir, host)
		})
	}
}
