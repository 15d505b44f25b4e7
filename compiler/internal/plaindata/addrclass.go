package plaindata

import (
	"net/netip"
	"strings"

	"cuelang.org/go/cue/token"
)

// Every service holds addresses — its VIP, its real servers' — and most
// are distinct, so checking each against its field's constraint once per
// literal is, at 10,000 services, 10,000 CUE evaluations (about 15 µs
// each) that all say the same. A field whose constraint is exactly the
// schema's #IP (vip, snat, a real server's address, an fwmark service's
// addresses) therefore shares a valid verdict across a class of
// addresses: those of the same family and kind, written canonically. CUE
// still judges the first of each class, and every literal it finds
// invalid, or that is not a canonical address, is judged on its own, so
// every error is CUE's message about that literal.
//
// This holds while #IP judges every canonical address of a family and
// kind alike, which the schema says beside #IP; TestAddrClasses holds
// the schema to it over addresses of every kind.

// addrDef is the definition whose shapes share verdicts by class.
const addrDef = "#IP"

// addrClass is a class of addresses: family and kind.
type addrClass struct {
	is4                                                   bool
	unspecified, loopback, multicast, linkLocal, llMcast  bool
	ifLocalMcast, private, global, broadcast, doc, shared bool
}

// addrClassOf returns the class of literal k for shape sh, or false when
// sh is not #IP or k is not a canonical address without zone (written as
// netip writes it, so that no two texts stand for one address).
func addrClassOf(sh *Shape, k litKey) (addrClass, bool) {
	if sh.addrs == nil || k.tok != token.STRING || k.neg || len(k.val) < 2 || k.val[0] != '"' || k.val[len(k.val)-1] != '"' {
		return addrClass{}, false
	}
	text := k.val[1 : len(k.val)-1]
	if strings.ContainsAny(text, `\"`) {
		return addrClass{}, false
	}
	a, err := netip.ParseAddr(text)
	if err != nil || a.Zone() != "" || a.Is4In6() || a.String() != text {
		return addrClass{}, false
	}
	return addrClass{
		is4:          a.Is4(),
		unspecified:  a.IsUnspecified(),
		loopback:     a.IsLoopback(),
		multicast:    a.IsMulticast(),
		linkLocal:    a.IsLinkLocalUnicast(),
		llMcast:      a.IsLinkLocalMulticast(),
		ifLocalMcast: a.IsInterfaceLocalMulticast(),
		private:      a.IsPrivate(),
		global:       a.IsGlobalUnicast(),
		broadcast:    a == netip.AddrFrom4([4]byte{255, 255, 255, 255}),
		doc:          docNets.contains(a),
		shared:       sharedNet.Contains(a),
	}, true
}

// docNets are the documentation ranges (RFC 5737, RFC 3849), and
// sharedNet carrier-grade NAT space (RFC 6598): kinds a schema could
// single out, so each is a class of its own.
var (
	docNets = prefixes{
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("2001:db8::/32"),
	}
	sharedNet = netip.MustParsePrefix("100.64.0.0/10")
)

type prefixes []netip.Prefix

func (ps prefixes) contains(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
