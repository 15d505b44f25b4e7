package compiler

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"cuelang.org/go/cue"

	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/model"
)

// The address rules: mistakes in where an address is declared that the
// schema cannot see (it checks one field at a time) and the kernel would
// refuse at apply time or, worse, accept and break traffic with. They are
// Go rather than rules.cue because each needs every host's addresses at
// once, which no cached per-service input of the CUE checks holds; both
// compile paths run them from the same code (checkHostAddresses from
// compile, checkServiceAddresses from runRules). Each names, as a related
// position, the host fact it found the conflict with.

// hostAddr is one interface address declared on a host.
type hostAddr struct {
	host, iface string
	// index is the address's index in the interface's addresses list.
	index  int
	prefix netip.Prefix
}

// path is where the address is declared.
func (a hostAddr) path() cue.Path {
	return cue.MakePath(cue.Str("hosts"), cue.Str(a.host), cue.Str("interfaces"), cue.Str(a.iface), cue.Str("addresses"), cue.Index(a.index))
}

// addressIndex is every interface address of the declared hosts, in the
// order of hosts, interfaces and addresses, and by what a service's
// addresses are looked up with: each service costs a few map lookups,
// however many hosts there are.
type addressIndex struct {
	all []hostAddr
	// byAddr holds the declarations of each address.
	byAddr map[netip.Addr][]hostAddr
	// edges holds, for each network and broadcast address of a declared
	// IPv4 subnet, the declarations on that subnet and which edge it is.
	edges map[netip.Addr][]subnetEdgeOf
}

// subnetEdgeOf is a declared address whose subnet has an edge address.
type subnetEdgeOf struct {
	hostAddr
	edge string // "network" or "broadcast"
}

func newAddressIndex(cfg *model.Config) *addressIndex {
	ix := &addressIndex{byAddr: map[netip.Addr][]hostAddr{}, edges: map[netip.Addr][]subnetEdgeOf{}}
	for _, name := range sortedKeys(cfg.Hosts) {
		for _, ifc := range cfg.Hosts[name].Interfaces {
			for i, p := range ifc.Addresses {
				a := hostAddr{host: name, iface: ifc.Name, index: i, prefix: p}
				ix.all = append(ix.all, a)
				ix.byAddr[p.Addr()] = append(ix.byAddr[p.Addr()], a)
				for _, e := range SubnetEdges(p) {
					ix.edges[e.Addr] = append(ix.edges[e.Addr], subnetEdgeOf{a, e.Name})
				}
			}
		}
	}
	return ix
}

// SubnetEdge is the network or broadcast address of an IPv4 subnet,
// which rules real-subnet-edge and vip-subnet-edge refuse as a real
// server or VIP on a director's subnet.
type SubnetEdge struct {
	Addr netip.Addr
	// Name is "network" or "broadcast".
	Name string
}

// SubnetEdges returns the network and broadcast addresses of the IPv4
// subnet p. A /31 or /32 has neither (RFC 3021), nor has IPv6 (no
// broadcast; the kernel takes its subnet-router anycast address as a
// destination). The importer asks it too, to infer director subnets the
// rules take.
func SubnetEdges(p netip.Prefix) []SubnetEdge {
	if !p.Addr().Is4() || p.Bits() > 30 {
		return nil
	}
	network := p.Masked().Addr()
	b := network.As4()
	host := 32 - p.Bits()
	for i := 3; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	return []SubnetEdge{{network, "network"}, {netip.AddrFrom4(b), "broadcast"}}
}

// Unusable says why a cannot be a VIP or a destination whatever the
// subnets around it (rule vip-unicast), or "" when it can. The importer
// asks it too, to leave out what validate would refuse.
func Unusable(a netip.Addr) string {
	switch {
	case a.IsUnspecified():
		return "the unspecified address"
	case a.IsMulticast():
		return "a multicast address"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the limited broadcast address"
	}
	return ""
}

// relatedAt is a related position at path in the user's config: the
// deepest value that exists along it. Hosts and clusters are in the
// user's CUE value on both compile paths, services in the tree on the
// plain-data one.
func (c *compilation) relatedAt(path cue.Path, format string, args ...any) diag.Related {
	msg := fmt.Sprintf(format, args...)
	if sels := path.Selectors(); c.tree != nil && len(sels) > 0 && sels[0].String() == "services" {
		p := toPos(c.tree.Lookup(sels).Pos())
		return diag.Related{File: p.File, Line: p.Line, Col: p.Column, Message: msg}
	}
	v := c.user.LookupPath(path)
	for s := path.Selectors(); !v.Exists() && len(s) > 0; s = s[:len(s)-1] {
		v = c.user.LookupPath(cue.MakePath(s[:len(s)-1]...))
	}
	p := toPos(valuePos(v))
	return diag.Related{File: p.File, Line: p.Line, Col: p.Column, Message: msg}
}

// relatedValue is relatedAt the list element under path whose address or
// prefix is value (a host's interface address, a client network), or at
// path when there is none.
func (c *compilation) relatedValue(path cue.Path, value string, format string, args ...any) diag.Related {
	if at, ok := findAddress(c.user.LookupPath(path), path, value); ok {
		path = at
	}
	return c.relatedAt(path, format, args...)
}

// findAddress finds under v (at path) a string that is the address or
// prefix value, however the user spelt it.
func findAddress(v cue.Value, path cue.Path, value string) (cue.Path, bool) {
	same := func(s string) bool {
		if p, err := netip.ParsePrefix(s); err == nil {
			q, err := netip.ParsePrefix(value)
			return (err == nil && p == q) || p.Addr().String() == value
		}
		a, err := netip.ParseAddr(s)
		return err == nil && a.String() == value
	}
	switch v.IncompleteKind() {
	case cue.StringKind:
		s, err := v.String()
		return path, err == nil && same(s)
	case cue.StructKind:
		it, err := v.Fields()
		if err != nil {
			return cue.Path{}, false
		}
		for it.Next() {
			if p, ok := findAddress(it.Value(), cue.MakePath(append(slices.Clone(path.Selectors()), it.Selector())...), value); ok {
				return p, true
			}
		}
	case cue.ListKind:
		it, err := v.List()
		if err != nil {
			return cue.Path{}, false
		}
		for i := 0; it.Next(); i++ {
			if p, ok := findAddress(it.Value(), cue.MakePath(append(slices.Clone(path.Selectors()), cue.Index(i))...), value); ok {
				return p, true
			}
		}
	}
	return cue.Path{}, false
}

// checkHostAddresses checks what the hosts and clusters declare together:
// an address on two hosts, and a cluster whose directors would all bind
// its VIPs.
func (c *compilation) checkHostAddresses(cfg *model.Config) {
	// A floating address (a cluster's natGateway) may be declared on
	// each director that can hold it.
	floating := func(a netip.Addr, on []hostAddr) bool {
		for _, cl := range cfg.Clusters {
			if a != cl.NATGateway && a != cl.NATGateway6 {
				continue
			}
			if !slices.ContainsFunc(on, func(h hostAddr) bool { return !slices.Contains(cl.Directors, h.host) }) {
				return true
			}
		}
		return false
	}
	for _, a := range c.addrs.all {
		on := c.addrs.byAddr[a.prefix.Addr()]
		var others []diag.Related
		for _, o := range on {
			if o.host != a.host {
				others = append(others, c.relatedAt(o.path(), "%s is declared on host %s here too", a.prefix.Addr(), o.host))
			}
		}
		// Loopback and link-local addresses are the host's or the
		// link's own: every host may have 127.0.0.1 or fe80::1.
		if len(others) == 0 || floating(a.prefix.Addr(), on) || a.prefix.Addr().IsLoopback() ||
			a.prefix.Addr().IsLinkLocalUnicast() {
			continue
		}
		c.addIssue(diag.Error, "address-duplicate", a.path(), "",
			fmt.Sprintf("address %s of host %s is declared on another host too", a.prefix.Addr(), a.host),
			"an address belongs to one host: fix the typo; an address that floats between directors (VRRP) is the cluster's natGateway or keepalived's, not an interface address",
			others...)
	}

	for _, name := range sortedKeys(cfg.Clusters) {
		cl := cfg.Clusters[name]
		if len(cl.Directors) < 2 || cl.VIPBind == "none" || cl.Mode == model.ActiveActive {
			// Active-active directors all bind the VIPs: BGP and the
			// router's ECMP, not ARP, send clients to them.
			continue
		}
		base := cue.MakePath(cue.Str("clusters"), cue.Str(name))
		rel := "directors"
		if c.user.LookupPath(cue.MakePath(cue.Str("clusters"), cue.Str(name), cue.Str("vip"), cue.Str("bind"))).Exists() {
			rel = "vip.bind"
		}
		c.addIssue(diag.Warning, "vip-bind-shared", base, rel,
			fmt.Sprintf("cluster %s has %d directors and binds its VIPs on every one of them (vip.bind %q): each answers ARP for the VIPs, and clients flap between them", name, len(cl.Directors), cl.VIPBind),
			"set vip.bind: \"none\" and let keepalived (VRRP) move the VIPs to the active director")
	}
}

// checkServiceAddresses checks the addresses of one service against the
// hosts' addresses: its VIP (or a fwmark service's addresses) and each
// real server, the sorry server included.
func (c *compilation) checkServiceAddresses(in ruleInput) {
	var vip netip.Addr
	if in.hasVIP {
		s, _ := in.data["vip"].(string)
		vip, _ = netip.ParseAddr(s)
		if vip.IsValid() {
			c.checkVIP(in.base, "vip", vip)
		}
	}
	if addrs, ok := in.data["addresses"].([]any); ok && !in.hasVIP {
		for i, x := range addrs {
			s, _ := x.(string)
			if a, err := netip.ParseAddr(s); err == nil {
				c.checkVIP(in.base, fmt.Sprintf("addresses[%d]", i), a)
			}
		}
	}
	var directors []string
	if in.cluster != nil {
		directors = in.cluster.Directors
	}
	// i is the real server's index, -1 for the sorry server; its path
	// is written only for a problem (10,000 services of 10 real servers
	// would otherwise format 100,000 paths for nothing).
	check := func(ref realRef, i int) {
		if !ref.ok {
			return
		}
		path := func() string {
			if i < 0 {
				return "sorry"
			}
			return "reals[" + strconv.Itoa(i) + "]"
		}
		if vip.IsValid() && ref.addr == vip {
			c.addIssue(diag.Error, "real-vip", in.base, path(),
				fmt.Sprintf("real server %s is the service's own VIP", ref.addr),
				"a real server is another host's address: the VIP is the director's (IPVS would send each packet back to itself)",
				c.relatedAt(cue.MakePath(append(in.base.Selectors(), cue.Str("vip"))...), "the service's VIP %s", vip))
		}
		if ref.host != nil {
			if j := slices.Index(directors, ref.host.Name); j >= 0 {
				c.addIssue(diag.Error, "real-director", in.base, path(),
					fmt.Sprintf("real server %s is director %s of cluster %s, which carries this service", ref.host.Name, ref.host.Name, in.cluster.Name),
					"serve the service from hosts other than its directors: lvsgen would configure "+ref.host.Name+" as a real server (VIP, ARP settings) against its director role",
					c.relatedAt(cue.MakePath(cue.Str("clusters"), cue.Str(in.cluster.Name), cue.Str("directors"), cue.Index(j)), "%s is a director of cluster %s here", ref.host.Name, in.cluster.Name))
			}
		}
		for _, e := range c.addrs.edges[ref.addr] {
			if slices.Contains(directors, e.host) {
				c.addIssue(diag.Error, "real-subnet-edge", in.base, path(),
					fmt.Sprintf("real server %s is the %s address of %s, director %s's subnet: the kernel refuses it as a destination", ref.addr, e.edge, e.prefix.Masked(), e.host),
					"use the real server's own unicast address on the subnet",
					c.relatedAt(e.path(), "director %s's subnet %s", e.host, e.prefix.Masked()))
				return
			}
		}
	}
	for i, ref := range in.refs {
		check(ref, i)
	}
	if in.sorry != nil {
		check(*in.sorry, -1)
	}
}

// checkVIP checks one address a service binds on its directors: a VIP,
// or one of a fwmark service's addresses (at rel).
func (c *compilation) checkVIP(base cue.Path, rel string, vip netip.Addr) {
	if why := Unusable(vip); why != "" {
		c.addIssue(diag.Error, "vip-unicast", base, rel,
			fmt.Sprintf("VIP %s is %s, not a unicast address clients can connect to", vip, why),
			"use the unicast address clients connect to, e.g. \"192.0.2.10\"")
		return
	}
	if on := c.addrs.byAddr[vip]; len(on) > 0 {
		var rel2 []diag.Related
		var hosts []string
		for _, a := range on {
			rel2 = append(rel2, c.relatedAt(a.path(), "%s is an interface address of host %s", vip, a.host))
			hosts = append(hosts, a.host)
		}
		c.addIssue(diag.Error, "vip-host-address", base, rel,
			fmt.Sprintf("VIP %s is an interface address of host %s", vip, strings.Join(slices.Compact(hosts), ", ")),
			"a VIP is an address of its own, bound by lvsgen (vip.bind) or keepalived: pick an unused address, or remove it from the host's interfaces",
			rel2...)
		return
	}
	if on := c.addrs.edges[vip]; len(on) > 0 {
		e := on[0]
		c.addIssue(diag.Error, "vip-subnet-edge", base, rel,
			fmt.Sprintf("VIP %s is the %s address of subnet %s (host %s)", vip, e.edge, e.prefix.Masked(), e.host),
			"use a host address inside the subnet: not its first (network) or last (broadcast) address",
			c.relatedAt(e.path(), "subnet %s of host %s", e.prefix.Masked(), e.host))
	}
}
