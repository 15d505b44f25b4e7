package importer

import (
	"net/netip"
	"slices"
	"strconv"
)

// inferredInterface is a director interface the import declares because
// its DR or NAT real servers must share a subnet with the director.
type inferredInterface struct {
	name   string
	prefix netip.Prefix
	reals  []netip.Addr // the real servers that implied it, sorted
}

// inferInterfaces returns an interface per /24 (IPv4) or /64 (IPv6) that
// holds a DR or NAT real server of specs: the narrowest subnet a director
// commonly shares with its real servers. They are named todo0, todo1, ...
// in address order, and carry the subnet's first address: the director's
// own address on it, and its interface names, are unknown to the import.
//
// sorry are the sorry servers of DR and NAT services, which must share a
// subnet with the director as their real servers do.
func inferInterfaces(specs []*serviceSpec, sorry []netip.Addr) []inferredInterface {
	byPrefix := map[netip.Prefix][]netip.Addr{}
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr) {
		if seen[a] {
			return
		}
		seen[a] = true
		bits := 24
		if a.Is6() {
			bits = 64
		}
		p, _ := a.Prefix(bits)
		byPrefix[p] = append(byPrefix[p], a)
	}
	for _, s := range specs {
		if s.forwarding != "dr" && s.forwarding != "nat" {
			continue
		}
		for _, r := range s.reals {
			add(r.addr)
		}
	}
	for _, a := range sorry {
		add(a)
	}
	prefixes := make([]netip.Prefix, 0, len(byPrefix))
	for p := range byPrefix {
		prefixes = append(prefixes, p)
	}
	slices.SortFunc(prefixes, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	out := make([]inferredInterface, 0, len(prefixes))
	for i, p := range prefixes {
		reals := byPrefix[p]
		slices.SortFunc(reals, netip.Addr.Compare)
		out = append(out, inferredInterface{name: "todo" + strconv.Itoa(i), prefix: p, reals: reals})
	}
	return out
}
