package importer

import (
	"net/netip"
	"slices"
	"strconv"

	"github.com/lvsgen/lvsgen/compiler"
)

// The subnets the import declares the director on. DR and NAT real
// servers must share a subnet with the director, and neither source tells
// the director's subnets, so the import infers them from the real servers:
// the narrowest that hold them and that lvsgen's address rules take as they
// stand.
const (
	// baseBits4 and baseBits6 are where the inference starts: the /24 and
	// the /64 are the subnets a director most commonly shares with its real
	// servers.
	baseBits4 = 24
	baseBits6 = 64
	// widestBits4 is the widest IPv4 subnet the import declares. A pool of
	// real servers wider than a /24 is common (10,000 of them fill most of a
	// /18); one wider than a /16 (65,534 hosts) on one link is not, and
	// widening further would mostly hide an address that is wrong. Only an
	// address at the edge of every subnet from the /24 to the /16 holding
	// it (x.y.0.0, x.y.255.255) stops the inference.
	widestBits4 = 16
	// widestBits6 is the widest IPv6 subnet. IPv6 subnets have no network
	// or broadcast address lvsgen refuses (the kernel takes the
	// subnet-router anycast address as a destination), so a /64 widens
	// only when every one of its addresses is a real server or VIP: never,
	// in practice.
	widestBits6 = 48
)

// inferredInterface is a director interface the import declares because
// its DR or NAT real servers must share a subnet with the director.
type inferredInterface struct {
	name   string
	prefix netip.Prefix // masked
	// addr is the director's address on prefix as the import writes it:
	// a placeholder, since the source does not tell it, that lvsgen's
	// address rules take: neither prefix's network or broadcast address
	// nor a real server's or a VIP.
	addr  netip.Addr
	reals []netip.Addr // the real servers that implied it, sorted
}

// stranding is why an address cannot be on any subnet the import may
// declare the director on.
type stranding struct {
	// prefix is the widest subnet the inference tried for the address.
	prefix netip.Prefix
	// edge is "network" or "broadcast" when the address is that address
	// of prefix (and so of every narrower subnet holding it), "" when
	// prefix leaves no address for the director.
	edge string
}

// inferInterfaces returns the director's interfaces the import declares:
// one per subnet of members, the DR and NAT real servers and sorry servers,
// each the narrowest subnet from a /24 (IPv4) or /64 (IPv6) that has
// neither a member nor one of others (VIPs, tunnel real servers: the
// addresses that must not be at a director subnet's edge either) at its
// network or broadcast address, and that leaves an address for the
// director. Where a /24 has one at an edge, it widens a bit at a time,
// taking in the subnets it then covers, down to a /16 (/48): rules
// real-subnet-edge and vip-subnet-edge refuse a real server or VIP at the
// edge of a director's subnet. The interfaces are named todo0, todo1, ...
// in address order, and carry a placeholder for the director's address
// (directorAddr): its real names and addresses are unknown to the import.
//
// stranded are the addresses that no such subnet holds, with why: the
// services that have them cannot be imported as they are. With stranded
// addresses, the interfaces are for the caller to throw away: it leaves
// out those services and asks again.
func inferInterfaces(members, others []netip.Addr) (ifaces []inferredInterface, stranded map[netip.Addr]stranding) {
	occupied := make(map[netip.Addr]bool, len(members)+len(others))
	for _, a := range others {
		occupied[a] = true
	}
	for _, a := range members {
		occupied[a] = true
	}
	ms := slices.Clone(members)
	slices.SortFunc(ms, netip.Addr.Compare)
	ms = slices.Compact(ms)

	// Prefixes are laminar (two are disjoint or one holds the other) and
	// each widening is forced: a subnet with an address at an edge has it
	// at the same edge of every narrower subnet holding it, so only a
	// wider one can take it. Going through the members in address order
	// and widening each one's subnet until it is valid, swallowing the
	// subnets found before it that it then holds, gives the narrowest
	// valid subnets whatever the order the source listed them in.
	var subnets []netip.Prefix // disjoint, in address order
	for _, a := range ms {
		if n := len(subnets); n > 0 && subnets[n-1].Contains(a) {
			continue
		}
		base, widest := baseBits4, widestBits4
		if a.Is6() {
			base, widest = baseBits6, widestBits6
		}
		p, _ := a.Prefix(base)
		for {
			for n := len(subnets); n > 0 && p.Contains(subnets[n-1].Addr()); n-- {
				subnets = subnets[:n-1]
			}
			edge, ok := edgeTaken(p, occupied)
			if !ok {
				if _, ok = directorAddr(p, occupied); ok {
					break
				}
			}
			if p.Bits() > widest {
				p, _ = p.Addr().Prefix(p.Bits() - 1)
				continue
			}
			if stranded == nil {
				stranded = map[netip.Addr]stranding{}
			}
			if edge.IsValid() {
				for _, e := range compiler.SubnetEdges(p) {
					if occupied[e.Addr] {
						stranded[e.Addr] = stranding{prefix: p, edge: e.Name}
					}
				}
			} else {
				for x := range occupied {
					if p.Contains(x) {
						stranded[x] = stranding{prefix: p}
					}
				}
			}
			break
		}
		subnets = append(subnets, p)
	}

	ifaces = make([]inferredInterface, 0, len(subnets))
	i := 0
	for n, p := range subnets {
		j := i
		for j < len(ms) && p.Contains(ms[j]) {
			j++
		}
		addr, _ := directorAddr(p, occupied)
		ifaces = append(ifaces, inferredInterface{name: "todo" + strconv.Itoa(n), prefix: p, addr: addr, reals: ms[i:j:j]})
		i = j
	}
	return ifaces, stranded
}

// edgeTaken returns an address of occupied at an edge of p, if there is
// one.
func edgeTaken(p netip.Prefix, occupied map[netip.Addr]bool) (netip.Addr, bool) {
	for _, e := range compiler.SubnetEdges(p) {
		if occupied[e.Addr] {
			return e.Addr, true
		}
	}
	return netip.Addr{}, false
}

// directorAddr returns the first address of p after its network address
// that is not occupied and not p's broadcast address, if p has one. It
// walks past occupied addresses only, so it costs at most the number of
// them in p.
func directorAddr(p netip.Prefix, occupied map[netip.Addr]bool) (netip.Addr, bool) {
	var broadcast netip.Addr
	if e := compiler.SubnetEdges(p); e != nil {
		broadcast = e[1].Addr
	}
	for a := p.Masked().Addr().Next(); a.IsValid() && p.Contains(a) && a != broadcast; a = a.Next() {
		if !occupied[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}
