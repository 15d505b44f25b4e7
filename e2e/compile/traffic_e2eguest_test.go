//go:build e2eguest

package compile

import (
	"testing"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// requests is how many requests each check makes: rr over two real
// servers splits them 10/10, wrr with weights 3:1 15/5.
const requests = 20

var (
	splitRR  = map[string]int{"rs1": requests / 2, "rs2": requests / 2}
	splitWRR = map[string]int{"rs1": requests * 3 / 4, "rs2": requests / 4}
)

// TestTrafficDR builds the LAN of testdata/dr (a client, the director and
// two real servers, all plain namespaces), configures the director and the
// real servers from their renders alone, and sends traffic to the VIPs,
// which the director holds on its dummy device.
func TestTrafficDR(t *testing.T) {
	guest.Require(t)
	const dir = "testdata/dr"
	tp := topo.New(t)
	lan := tp.Subnet("lan", "10.0.0.0/24")
	client := tp.Client("client", lan, "10.0.0.10")
	d := tp.Node("dir", lan, "10.0.0.2")
	applyRendered(t, d, dir, "dir")
	for _, name := range []string{"rs1", "rs2"} {
		addr := map[string]string{"rs1": "10.0.0.11", "rs2": "10.0.0.12"}[name]
		rs := tp.RealServer(name, lan, addr)
		applyRendered(t, rs, dir, name)
		rs.ServeHTTP(80)
		rs.ServeUDP(53)
	}
	topo.CheckSplit(t, "DR tcp rr", client.HTTPRequests("10.0.0.100:80", requests), splitRR)
	topo.CheckSplit(t, "DR tcp wrr 3:1", client.HTTPRequests("10.0.0.101:80", requests), splitWRR)
	topo.CheckSplit(t, "DR udp rr", client.UDPRequests("10.0.0.100:53", requests), splitRR)
}

// TestTrafficNAT builds testdata/nat: the client on the front LAN, the
// director on both, the real servers on the back LAN listening on 8080
// only. The render gives the director forwarding and the real servers
// their route back to the client network.
func TestTrafficNAT(t *testing.T) {
	guest.Require(t)
	const dir = "testdata/nat"
	tp := topo.New(t)
	front := tp.Subnet("front", "10.0.1.0/24")
	back := tp.Subnet("back", "10.0.2.0/24")
	client := tp.Client("client", front, "10.0.1.10")
	d := tp.Node("dir", front, "10.0.1.2")
	d.Attach(back, "10.0.2.1")
	applyRendered(t, d, dir, "dir")
	for _, name := range []string{"rs1", "rs2"} {
		addr := map[string]string{"rs1": "10.0.2.11", "rs2": "10.0.2.12"}[name]
		rs := tp.RealServer(name, back, addr)
		applyRendered(t, rs, dir, name)
		// Nothing listens on the service ports: an answer proves the
		// mapping 80 → 8080 (and 53 → 8080).
		rs.ServeHTTP(8080)
		rs.ServeUDP(8080)
	}
	topo.CheckSplit(t, "NAT tcp rr 80->8080", client.HTTPRequests("10.0.1.100:80", requests), splitRR)
	topo.CheckSplit(t, "NAT tcp wrr 3:1 80->8080", client.HTTPRequests("10.0.1.101:80", requests), splitWRR)
	topo.CheckSplit(t, "NAT udp rr 53->8080", client.UDPRequests("10.0.1.100:53", requests), splitRR)
}

// TestTrafficTUN builds testdata/tun: the client and the director on the
// front LAN, the real servers on the back LAN behind a router, which
// carries the tunnelled requests and the real servers' replies (from the
// VIPs, straight to the client). The director holds the VIPs on eth0; each
// real server gets tunl0, gre0, the GUE listener and the VIPs from its
// render. One rr and one wrr service per tunnel type.
func TestTrafficTUN(t *testing.T) {
	guest.Require(t)
	const dir = "testdata/tun"
	tp := topo.New(t)
	front := tp.Subnet("front", "10.0.1.0/24")
	back := tp.Subnet("back", "10.0.2.0/24")
	client := tp.Client("client", front, "10.0.1.10")
	router := tp.Router("router", front, "10.0.1.1")
	router.Attach(back, "10.0.2.1")
	d := tp.Node("dir", front, "10.0.1.2")
	d.DefaultRoute("10.0.1.1") // dir's gateway in the config
	applyRendered(t, d, dir, "dir")
	for _, name := range []string{"rs1", "rs2"} {
		addr := map[string]string{"rs1": "10.0.2.11", "rs2": "10.0.2.12"}[name]
		rs := tp.RealServer(name, back, addr)
		rs.DefaultRoute("10.0.2.1") // the real servers' gateway in the config
		applyRendered(t, rs, dir, name)
		rs.ServeHTTP(80)
	}
	for _, c := range []struct {
		tunnel  string
		rr, wrr string
	}{
		{"ipip", "10.0.1.100:80", "10.0.1.101:80"},
		{"gue", "10.0.1.102:80", "10.0.1.103:80"},
		{"gre", "10.0.1.104:80", "10.0.1.105:80"},
	} {
		topo.CheckSplit(t, "TUN "+c.tunnel+" tcp rr", client.HTTPRequests(c.rr, requests), splitRR)
		topo.CheckSplit(t, "TUN "+c.tunnel+" tcp wrr 3:1", client.HTTPRequests(c.wrr, requests), splitWRR)
	}
}
