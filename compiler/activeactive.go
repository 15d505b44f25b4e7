package compiler

import (
	"fmt"

	"cuelang.org/go/cue"

	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/model"
)

// checkActiveActive checks a cluster's mode and bgp against the rest of
// the config.
//
//   - active-active: an active-active cluster declares bgp, binds its
//     VIPs (vip.bind "dummy" or "interface": BIRD announces what is bound)
//     and has no vrrp (VRRP would give the VIPs to one director); bgp
//     belongs to active-active clusters; a NAT service cannot be
//     active-active (its replies go back through the real server's one
//     gateway, not the director that took the flow).
//   - bgp-peer: every peer is on a subnet of every director (the
//     sessions are single-hop), and every director has an IPv4 address
//     for BIRD's router id.
//   - active-active-scheduler (warning): a service of an active-active
//     cluster uses a consistent hash (mh or sh).
func (c *compilation) checkActiveActive(cfg *model.Config, cl *model.Cluster, base cue.Path) {
	if cl.Mode != model.ActiveActive {
		if cl.BGP != nil {
			c.errorf("active-active", base, "bgp", "set mode: \"active-active\", or remove bgp", "cluster %s declares bgp but is not active-active: its directors would announce VIPs only one of them holds", cl.Name)
		}
		return
	}
	if cl.VRRP != nil {
		c.errorf("active-active", base, "vrrp", "remove vrrp: in active-active every director holds the VIPs, and BGP, not VRRP, sends clients to them", "cluster %s is active-active and declares vrrp, which gives the VIPs to one director", cl.Name)
	}
	if cl.VIPBind == "none" {
		c.errorf("active-active", base, "vip.bind", "set vip.bind: \"dummy\" (the default): BIRD announces the VIPs bound on the VIP device", "cluster %s is active-active but binds no VIP (vip.bind \"none\"): its directors would announce addresses they do not hold", cl.Name)
	}
	if cl.BGP == nil {
		c.errorf("active-active", base, "mode", "declare bgp: {asn: 65010, peers: [{address: \"10.0.0.1\", asn: 65000}]}", "cluster %s is active-active but declares no bgp to announce its VIPs with", cl.Name)
	} else {
		for _, d := range cl.Directors {
			h := cfg.Hosts[d]
			if h == nil {
				continue // reported as unknown-host
			}
			if _, ok := routerID(h); !ok {
				c.errorf("bgp-peer", base, "directors", "give "+d+" an IPv4 interface address", "director %s of cluster %s has no IPv4 address for BIRD's router id", d, cl.Name)
			}
			for i, p := range cl.BGP.Peers {
				if _, _, ok := h.InterfaceFor(p.Address); !ok {
					c.errorf("bgp-peer", base, fmt.Sprintf("bgp.peers[%d].address", i), "peer with a router on a subnet of every director (multihop sessions are not rendered)", "BGP peer %s of cluster %s is on no subnet of director %s", p.Address, cl.Name, d)
				}
			}
		}
	}
}

// checkActiveActiveServices checks the services of active-active
// clusters, once every service is decoded: no NAT, and a consistent-hash
// scheduler (a warning).
func (c *compilation) checkActiveActiveServices(cfg *model.Config) {
	for _, s := range cfg.Services {
		cl := cfg.Clusters[s.Cluster]
		if cl == nil || cl.Mode != model.ActiveActive {
			continue
		}
		path := cue.MakePath(cue.Str("services"), cue.Str(s.Name))
		if s.Forwarding == "nat" {
			c.errorf("active-active", path, "forwarding", "use dr, tun or fullnat, or a cluster that is not active-active", "service %s is NAT in active-active cluster %s: its real servers answer through one gateway, not the director each flow came through", s.Name, cl.Name)
		}
		if s.Scheduler != "mh" && s.Scheduler != "sh" {
			c.addIssue(diag.Warning, "active-active-scheduler", path, "scheduler",
				fmt.Sprintf("service %s of active-active cluster %s uses scheduler %s: when the routers move a flow to another director (one added, or lost), that director picks a real server of its own and the connection breaks; mh and sh pick the same real server on every director", s.Name, cl.Name, s.Scheduler),
				"use scheduler: \"mh\" (Maglev hashing: least disruption when real servers change) or \"sh\"")
		}
	}
}

// routerID is the router id BIRD runs a director with: its first IPv4
// interface address, in the order of its interfaces and their addresses.
func routerID(h *model.Host) (string, bool) {
	for _, ifc := range h.Interfaces {
		for _, p := range ifc.Addresses {
			if p.Addr().Is4() {
				return p.Addr().String(), true
			}
		}
	}
	return "", false
}
