package importer

// This file reads a virtual_server_group: its address ranges (A-B, A/BITS)
// with their ports, and its fwmarks, which the group's virtual servers
// expand into one service each (kaprogram.go).

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lvsgen/lvsgen/ipvs"
)

// kaGroup is a virtual_server_group: address ranges and fwmarks.
type kaGroup struct {
	st     *kaStmt
	ranges []kaRange
	marks  []kaMark
	v4, v6 bool
	// markNoFamily is set when a fwmark entry has no family.
	markNoFamily bool
}

// kaRange is one address entry of a group: first to end, inclusive, each
// with port.
type kaRange struct {
	pos        kaPos
	first, end netip.Addr
	port       uint16
}

// kaMark is one fwmark entry of a group.
type kaMark struct {
	pos    kaPos
	mark   uint32
	family ipvs.Family // 0: not given
}

// parseGroup reads a virtual_server_group's entries.
func parseGroup(st *kaStmt) (*kaGroup, error) {
	g := &kaGroup{st: st}
	for _, e := range st.block {
		if e.hasBlock {
			return nil, errAt(e, 0, "a virtual_server_group entry has no block")
		}
		if e.keyword() == "fwmark" {
			if len(e.words) < 2 || len(e.words) > 3 {
				return nil, errAt(e, 0, "want fwmark N [inet|inet6]")
			}
			n, err := strconv.ParseUint(e.words[1], 10, 32)
			if err != nil || n == 0 {
				return nil, errAt(e, 1, "fwmark %q: want 1..4294967295", e.words[1])
			}
			m := kaMark{pos: e.pos, mark: uint32(n)}
			if len(e.words) == 3 {
				switch e.words[2] {
				case "inet":
					m.family, g.v4 = ipvs.IPv4, true
				case "inet6":
					m.family, g.v6 = ipvs.IPv6, true
				default:
					return nil, errAt(e, 2, "fwmark family %q: want inet or inet6", e.words[2])
				}
			} else {
				g.markNoFamily = true
			}
			g.marks = append(g.marks, m)
			continue
		}
		if len(e.words) > 2 {
			return nil, errAt(e, 2, "want ADDRESS[-END|/BITS] [PORT]")
		}
		port, err := kaPort(e, 1)
		if err != nil {
			return nil, err
		}
		r, err := parseRange(e, e.words[0])
		if err != nil {
			return nil, err
		}
		r.port = port
		if r.first.Is4() {
			g.v4 = true
		} else {
			g.v6 = true
		}
		g.ranges = append(g.ranges, r)
	}
	return g, nil
}

// parseRange reads an address, a range (A-B with B the last byte of an
// IPv4 address in decimal, the last 16 bits of an IPv6 address in hex, or
// a whole address) or a prefix (A/BITS, host bits zero).
func parseRange(st *kaStmt, s string) (kaRange, error) {
	r := kaRange{pos: st.pos}
	bad := func(why string) (kaRange, error) { return kaRange{}, errAt(st, 0, "address range %q: %s", s, why) }
	if a, bits, ok := strings.Cut(s, "/"); ok {
		p, err := netip.ParsePrefix(a + "/" + bits)
		if err != nil || p.Bits() == 0 || p.Addr().Zone() != "" {
			return bad("not an address with a prefix length of 1..32 or 1..128")
		}
		if p.Masked() != p {
			return bad("address bits beyond the prefix length are set")
		}
		r.first = p.Addr()
		r.end = lastAddr(p)
		if rangeSize(r.first, r.end) > maxGroupServices {
			return bad(fmt.Sprintf("more than %d addresses", maxGroupServices))
		}
		return r, nil
	}
	a, endStr, isRange := strings.Cut(s, "-")
	first, err := netip.ParseAddr(a)
	if err != nil || first.Zone() != "" || first.Is4In6() {
		return bad("not a numeric IPv4 or IPv6 address")
	}
	r.first, r.end = first, first
	if !isRange {
		return r, nil
	}
	if (first.Is4() && strings.Contains(endStr, ".")) || (first.Is6() && strings.Contains(endStr, ":")) {
		end, err := netip.ParseAddr(endStr)
		if err != nil || end.Is4() != first.Is4() || end.Zone() != "" {
			return bad("the end is not an address of the same family")
		}
		if end.Less(first) {
			return bad("the end is below the start")
		}
		r.end = end
	} else {
		base, limit := 10, uint64(255)
		if first.Is6() {
			base, limit = 16, 0xffff
		}
		n, err := strconv.ParseUint(endStr, base, 64)
		if err != nil || n > limit {
			return bad("the end is not a number up to " + strconv.FormatUint(limit, base))
		}
		b := first.AsSlice()
		var start uint64
		if first.Is4() {
			start = uint64(b[3])
			b[3] = byte(n)
		} else {
			start = uint64(b[14])<<8 | uint64(b[15])
			b[14], b[15] = byte(n>>8), byte(n)
		}
		if start >= n {
			return bad("the end is not above the start")
		}
		r.end, _ = netip.AddrFromSlice(b)
	}
	if rangeSize(r.first, r.end) > maxGroupServices {
		return bad(fmt.Sprintf("more than %d addresses", maxGroupServices))
	}
	return r, nil
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rangeSize counts the addresses from a to b, capped above
// maxGroupServices.
func rangeSize(a, b netip.Addr) int {
	n := 1
	for x := a; x != b && n <= maxGroupServices; x = x.Next() {
		n++
	}
	return n
}
