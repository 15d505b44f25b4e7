//go:build e2eguest

package compile

import (
	"strings"
	"testing"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// TestTrafficTUN6BindInterface is IPv6 tunnelling (ipip, IPv6 in IPv6)
// with the director holding the VIP on its own interface (vip.bind:
// "interface", testdata/vipsource): the client fd00:1::10 and the director
// on the front LAN, the real server behind a router.
//
// As rendered (a plain /128 on eth0) the kernel picks the VIP as the
// source address of the director's own packets toward the real servers
// (it shares as long a prefix with them as the host's address and is
// newer), so the tunnelled requests leave from the VIP. The real server
// holds the VIP itself, and its ip6tnl receive path drops packets whose
// outer source is a local address: the VIP does not answer. (An IPv6 VIP
// added as deprecated, preferred_lft 0, is never picked as a source and
// still receives; with it the same setup answers. It must be so before
// the first packet: IPVS caches the route and source per real server.)
func TestTrafficTUN6BindInterface(t *testing.T) {
	guest.Require(t)
	const dir = "testdata/vipsource"
	tp := topo.New(t)
	front := tp.Subnet("front", "fd00:1::/64")
	back := tp.Subnet("back", "fd00:2::/64")
	client := tp.Client("client", front, "fd00:1::10")
	router := tp.Router("router", front, "fd00:1::1")
	router.Attach(back, "fd00:2::1")
	d := tp.Node("lb", front, "fd00:1::2")
	d.DefaultRoute("fd00:1::1") // lb's gateway6 in the config
	applyRendered(t, d, dir, "lb")
	rs := tp.RealServer("rs1", back, "fd00:2::11")
	rs.DefaultRoute("fd00:2::1")
	applyRendered(t, rs, dir, "rs1")
	rs.ServeHTTP(80)

	out := d.MustRun("/sbin/ip", "-6", "route", "get", "fd00:2::11").Stdout
	f := strings.Fields(out)
	var src string
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "src" {
			src = f[i+1]
		}
	}
	if src != "fd00:1::2" {
		t.Errorf("the director sends to its real server fd00:2::11 from %s, not from its own fd00:1::2 (ip -6 route get: %s)",
			src, strings.TrimSpace(out))
	}
	if name, err := probe(client, "[fd00:1::100]:80"); err != nil {
		t.Errorf("IPv6 TUN with the VIP on the director's interface: the VIP does not answer: %v", err)
	} else {
		t.Logf("the VIP answers: %s", name)
	}
}
