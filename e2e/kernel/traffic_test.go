//go:build e2eguest

package kernel

import (
	"fmt"
	"testing"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// requests is how many requests each traffic test makes; rr over two real
// servers must split them evenly.
const requests = 20

// drLab is one subnet with a client, a director holding the VIP on eth0,
// and two real servers configured for direct routing, serving HTTP and UDP
// on port 80.
type drLab struct {
	client, dir *topo.Node
	vip         string
	rs          []string // real server addresses
}

func newDRLab(t *testing.T) *drLab {
	tp := topo.New(t)
	lan := tp.Subnet("lan", "10.0.0.0/24")
	l := &drLab{vip: "10.0.0.100", rs: []string{"10.0.0.11", "10.0.0.12"}}
	l.client = tp.Client("client", lan, "10.0.0.10")
	l.dir = tp.Director("dir", lan, "10.0.0.2")
	l.dir.AddAddr("eth0", l.vip)
	for i, addr := range l.rs {
		rs := tp.RealServer(fmt.Sprintf("rs%d", i+1), lan, addr)
		rs.ConfigureDR(l.vip)
		rs.ServeHTTP(80)
		rs.ServeUDP(80)
	}
	return l
}

func TestDirectRoutingRR(t *testing.T) {
	guest.Require(t)
	l := newDRLab(t)
	// Without a service the director, which owns the VIP, refuses.
	if name, err := l.client.HTTPGet(l.vip + ":80"); err == nil {
		t.Fatalf("the VIP answered (%s) before IPVS was configured", name)
	}
	for _, proto := range []string{"-t", "-u"} {
		l.dir.MustRun("ipvsadm", "-A", proto, l.vip+":80", "-s", "rr")
		for _, rs := range l.rs {
			l.dir.MustRun("ipvsadm", "-a", proto, l.vip+":80", "-r", rs+":80", "-g")
		}
	}
	want := map[string]int{"rs1": requests / 2, "rs2": requests / 2}
	topo.CheckSplit(t, "DR tcp rr", l.client.HTTPRequests(l.vip+":80", requests), want)
	topo.CheckSplit(t, "DR udp rr", l.client.UDPRequests(l.vip+":80", requests), want)
}

func TestDirectRoutingWRR(t *testing.T) {
	guest.Require(t)
	l := newDRLab(t)
	l.dir.MustRun("ipvsadm", "-A", "-t", l.vip+":80", "-s", "wrr")
	l.dir.MustRun("ipvsadm", "-a", "-t", l.vip+":80", "-r", l.rs[0]+":80", "-g", "-w", "3")
	l.dir.MustRun("ipvsadm", "-a", "-t", l.vip+":80", "-r", l.rs[1]+":80", "-g", "-w", "1")
	topo.CheckSplit(t, "DR tcp wrr 3:1", l.client.HTTPRequests(l.vip+":80", requests),
		map[string]int{"rs1": requests * 3 / 4, "rs2": requests / 4})
}

// TestNATPortMapping balances VIP:80 to real servers listening on 8080
// behind the director, which is their default gateway.
func TestNATPortMapping(t *testing.T) {
	guest.Require(t)
	tp := topo.New(t)
	front := tp.Subnet("front", "10.0.1.0/24")
	back := tp.Subnet("back", "10.0.2.0/24")
	client := tp.Client("client", front, "10.0.1.10")
	dir := tp.Director("dir", front, "10.0.1.2")
	dir.Attach(back, "10.0.2.1")
	vip := "10.0.1.100"
	dir.AddAddr("eth0", vip)
	rss := []string{"10.0.2.11", "10.0.2.12"}
	for i, addr := range rss {
		rs := tp.RealServer(fmt.Sprintf("rs%d", i+1), back, addr)
		rs.DefaultRoute("10.0.2.1")
		rs.ServeHTTP(8080)
		rs.ServeUDP(8080)
	}
	// Nothing listens on port 80 anywhere: an answer proves the mapping.
	for _, proto := range []string{"-t", "-u"} {
		dir.MustRun("ipvsadm", "-A", proto, vip+":80", "-s", "rr")
		for _, rs := range rss {
			dir.MustRun("ipvsadm", "-a", proto, vip+":80", "-r", rs+":8080", "-m")
		}
	}
	want := map[string]int{"rs1": requests / 2, "rs2": requests / 2}
	topo.CheckSplit(t, "NAT tcp rr 80->8080", client.HTTPRequests(vip+":80", requests), want)
	topo.CheckSplit(t, "NAT udp rr 80->8080", client.UDPRequests(vip+":80", requests), want)
}

// tunLab is a client and a director on the front subnet, real servers on
// the back subnet, and a router on both that carries the real servers'
// replies back to the client (the director holds the VIP, so replies from
// the VIP cannot go through it).
type tunLab struct {
	client, dir *topo.Node
	rs          []*topo.Node
	vip         string
	rsAddr      []string
}

func newTunLab(t *testing.T) *tunLab {
	tp := topo.New(t)
	front := tp.Subnet("front", "10.0.1.0/24")
	back := tp.Subnet("back", "10.0.2.0/24")
	l := &tunLab{vip: "10.0.1.100", rsAddr: []string{"10.0.2.11", "10.0.2.12"}}
	l.client = tp.Client("client", front, "10.0.1.10")
	l.dir = tp.Director("dir", front, "10.0.1.2")
	l.dir.Attach(back, "10.0.2.2")
	l.dir.AddAddr("eth0", l.vip)
	router := tp.Router("router", front, "10.0.1.1")
	router.Attach(back, "10.0.2.1")
	for i, addr := range l.rsAddr {
		rs := tp.RealServer(fmt.Sprintf("rs%d", i+1), back, addr)
		rs.DefaultRoute("10.0.2.1")
		rs.ServeHTTP(80)
		rs.ServeUDP(80)
		l.rs = append(l.rs, rs)
	}
	return l
}

// run adds a TCP and a UDP rr service with the tunnel destination options
// and checks both split evenly.
func (l *tunLab) run(t *testing.T, what string, tunOpts ...string) {
	t.Helper()
	if name, err := l.client.HTTPGet(l.vip + ":80"); err == nil {
		t.Fatalf("the VIP answered (%s) before IPVS was configured", name)
	}
	for _, proto := range []string{"-t", "-u"} {
		l.dir.MustRun("ipvsadm", "-A", proto, l.vip+":80", "-s", "rr")
		for _, rs := range l.rsAddr {
			args := append([]string{"-a", proto, l.vip + ":80", "-r", rs + ":80", "-i"}, tunOpts...)
			l.dir.MustRun("ipvsadm", args...)
		}
	}
	want := map[string]int{"rs1": requests / 2, "rs2": requests / 2}
	topo.CheckSplit(t, what+" tcp rr", l.client.HTTPRequests(l.vip+":80", requests), want)
	topo.CheckSplit(t, what+" udp rr", l.client.UDPRequests(l.vip+":80", requests), want)
}

// checkSave compares the director's ipvsadm -S -n with the services the
// tunnel tests made, each destination carrying destOpts. It pins how
// ipvsadm 1.31 on this kernel prints tunnel types (ipip included).
func (l *tunLab) checkSave(t *testing.T, destOpts string) {
	t.Helper()
	var want string
	for _, proto := range []string{"-t", "-u"} {
		want += "-A " + proto + " " + l.vip + ":80 -s rr\n"
		for _, rs := range l.rsAddr {
			want += "-a " + proto + " " + l.vip + ":80 -r " + rs + ":80 " + destOpts + "\n"
		}
	}
	if got := l.dir.MustRun("ipvsadm", "-S", "-n").Stdout; got != want {
		t.Errorf("ipvsadm -S -n:\n got %q\nwant %q", got, want)
	}
}

func TestTunnelIPIP(t *testing.T) {
	guest.Require(t)
	l := newTunLab(t)
	for _, rs := range l.rs {
		rs.ConfigureTUN(l.vip)
	}
	l.run(t, "TUN ipip")
	l.checkSave(t, "-i -w 1 --tun-type ipip")
}

func TestTunnelGUE(t *testing.T) {
	guest.Require(t)
	l := newTunLab(t)
	for _, rs := range l.rs {
		rs.ConfigureGUE(l.vip, 6080)
	}
	l.run(t, "TUN gue", "--tun-type", "gue", "--tun-port", "6080")
	// No checksum option given means none: ipvsadm prints --tun-nocsum.
	l.checkSave(t, "-i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum")
}

func TestTunnelGRE(t *testing.T) {
	guest.Require(t)
	l := newTunLab(t)
	for _, rs := range l.rs {
		rs.ConfigureGRE(l.vip)
	}
	l.run(t, "TUN gre", "--tun-type", "gre")
	l.checkSave(t, "-i -w 1 --tun-type gre --tun-nocsum")
}

// TestDirectRoutingIPv6 is DR over IPv6: NDP, not ARP, must keep the real
// servers quiet about the VIP, which holds because Linux answers neighbour
// solicitations only for addresses on the asking interface (the VIP is on
// lo).
func TestDirectRoutingIPv6(t *testing.T) {
	guest.Require(t)
	tp := topo.New(t)
	lan := tp.Subnet("lan", "fd00::/64")
	client := tp.Client("client", lan, "fd00::10")
	dir := tp.Director("dir", lan, "fd00::2")
	vip := "fd00::100"
	dir.AddAddr("eth0", vip)
	rss := []string{"fd00::11", "fd00::12"}
	for i, addr := range rss {
		rs := tp.RealServer(fmt.Sprintf("rs%d", i+1), lan, addr)
		rs.ConfigureDR(vip)
		rs.ServeHTTP(80)
		rs.ServeUDP(80)
	}
	svc := "[" + vip + "]:80"
	for _, proto := range []string{"-t", "-u"} {
		dir.MustRun("ipvsadm", "-A", proto, svc, "-s", "rr")
		for _, rs := range rss {
			dir.MustRun("ipvsadm", "-a", proto, svc, "-r", "["+rs+"]:80", "-g")
		}
	}
	want := map[string]int{"rs1": requests / 2, "rs2": requests / 2}
	topo.CheckSplit(t, "DR ipv6 tcp rr", client.HTTPRequests(svc, requests), want)
	topo.CheckSplit(t, "DR ipv6 udp rr", client.UDPRequests(svc, requests), want)
}
