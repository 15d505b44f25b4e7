//go:build linux

package topo

import (
	"strconv"
)

// ConfigureDR prepares a real server for direct routing: the VIP on lo (as
// a host address), and ARP kept quiet about it (arp_ignore=1,
// arp_announce=2 on all and on every ethN) so only the director answers
// for the VIP.
func (n *Node) ConfigureDR(vip string) {
	n.topo.t.Helper()
	n.AddAddr("lo", vip)
	n.quietARP()
}

func (n *Node) quietARP() {
	n.topo.t.Helper()
	devs := []string{"all"}
	for i := 0; i < n.nifs; i++ {
		devs = append(devs, "eth"+strconv.Itoa(i))
	}
	for _, d := range devs {
		n.Sysctl("net.ipv4.conf."+d+".arp_ignore", "1")
		n.Sysctl("net.ipv4.conf."+d+".arp_announce", "2")
	}
}

// noRPFilter turns reverse-path filtering off on all and on dev: a
// tunnelled request arrives on the tunnel device from a client the routing
// table reaches through ethN.
func (n *Node) noRPFilter(dev string) {
	n.topo.t.Helper()
	n.Sysctl("net.ipv4.conf.all.rp_filter", "0")
	n.Sysctl("net.ipv4.conf."+dev+".rp_filter", "0")
}

// tunnelVIP puts vip on the fallback tunnel device dev (which the module
// creates in every namespace) and brings it up.
func (n *Node) tunnelVIP(dev, vip string) {
	n.topo.t.Helper()
	n.AddAddr(dev, vip)
	n.LinkUp(dev)
	n.noRPFilter(dev)
	n.quietARP()
}

// ConfigureTUN prepares a real server for IPVS tunnelling with ipip (the
// default tunnel type): the VIP on tunl0, tunl0 up, rp_filter off. The real
// server's replies must leave through a router, not the director (give it a
// DefaultRoute through one).
func (n *Node) ConfigureTUN(vip string) {
	n.topo.t.Helper()
	n.tunnelVIP("tunl0", vip)
}

// ConfigureGUE prepares a real server for IPVS tunnelling with GUE on UDP
// port: a fou receive port in GUE mode (through /sbin/ip, as netlink has no
// fou support here) plus what ConfigureTUN does, since GUE carries the
// packet to the ipip handler.
func (n *Node) ConfigureGUE(vip string, port int) {
	n.topo.t.Helper()
	n.MustRun("/sbin/ip", "fou", "add", "port", strconv.Itoa(port), "gue")
	n.tunnelVIP("tunl0", vip)
}

// ConfigureGRE prepares a real server for IPVS tunnelling with GRE: the VIP
// on gre0, gre0 up, rp_filter off.
func (n *Node) ConfigureGRE(vip string) {
	n.topo.t.Helper()
	n.tunnelVIP("gre0", vip)
}
