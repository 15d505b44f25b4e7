package kerneltest

import (
	"net/netip"
	"syscall"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// nftTests are the tests of kernel.NFTables.
var nftTests = []test{
	{"NFT", testNFT},
	{"NFT/IPv6", testNFTIPv6},
	{"NFT/RefusedLeavesTable", testNFTRefused},
	{"NFT/OtherTables", testNFTOtherTables},
	{"NFT/OpErrors", testNFTOpErrors},
}

func snatTable(family kernel.NFTFamily, name string, rules ...kernel.SNATRule) kernel.NFTTable {
	return kernel.NFTTable{Family: family, Name: name, Chains: []kernel.NFTChain{kernel.SNATChain(rules)}}
}

var (
	ruleHTTP = kernel.SNATRule{Protocol: ipvs.TCP, VIP: netip.MustParseAddr("192.0.2.20"), Port: 80,
		Real: netip.MustParseAddr("10.30.0.11"), To: netip.MustParseAddr("10.20.0.2")}
	ruleDNS = kernel.SNATRule{Protocol: ipvs.UDP, VIP: netip.MustParseAddr("192.0.2.21"), Port: 53,
		Real: netip.MustParseAddr("10.30.0.12"), To: netip.MustParseAddr("10.20.0.3")}
	// ruleAll is a port-0 service's: every port of the VIP.
	ruleAll = kernel.SNATRule{Protocol: ipvs.SCTP, VIP: netip.MustParseAddr("192.0.2.22"),
		Real: netip.MustParseAddr("10.30.0.13"), To: netip.MustParseAddr("10.20.0.2")}
)

func (s *suite) nftTable(f kernel.NFTFamily, name string) kernel.NFTTable {
	s.t.Helper()
	got, err := s.k.NFTable(s.ctx, f, name)
	s.must(err)
	return got
}

// testNFT: a table is written whole, read back as written, replaced by a
// smaller one with nothing of the old left, and deleted.
func testNFT(t *testing.T, s *suite) {
	_, err := s.k.NFTable(s.ctx, kernel.NFTIPv4, kernel.NFTTableName)
	s.wantErr("reading a table of a fresh kernel", err, syscall.ENOENT)

	full := snatTable(kernel.NFTIPv4, kernel.NFTTableName, ruleHTTP, ruleDNS, ruleAll)
	s.must(s.k.ReplaceNFTable(s.ctx, full))
	s.diff("table as written", s.nftTable(kernel.NFTIPv4, kernel.NFTTableName), full)

	// Writing the same table again is no error, and changes nothing.
	s.must(s.k.ReplaceNFTable(s.ctx, full))
	s.diff("table written twice", s.nftTable(kernel.NFTIPv4, kernel.NFTTableName), full)

	small := snatTable(kernel.NFTIPv4, kernel.NFTTableName, ruleDNS)
	s.must(s.k.ReplaceNFTable(s.ctx, small))
	s.diff("table replaced by a smaller one", s.nftTable(kernel.NFTIPv4, kernel.NFTTableName), small)

	empty := snatTable(kernel.NFTIPv4, kernel.NFTTableName)
	s.must(s.k.ReplaceNFTable(s.ctx, empty))
	s.diff("table with an empty chain", s.nftTable(kernel.NFTIPv4, kernel.NFTTableName), empty)

	s.must(s.k.DelNFTable(s.ctx, kernel.NFTIPv4, kernel.NFTTableName))
	_, err = s.k.NFTable(s.ctx, kernel.NFTIPv4, kernel.NFTTableName)
	s.wantErr("reading a deleted table", err, syscall.ENOENT)
	s.wantErr("deleting a table twice", s.k.DelNFTable(s.ctx, kernel.NFTIPv4, kernel.NFTTableName), syscall.ENOENT)
}

// testNFTIPv6: the ip6 table of the same name is another table.
func testNFTIPv6(t *testing.T, s *suite) {
	r := kernel.SNATRule{Protocol: ipvs.TCP, VIP: netip.MustParseAddr("2001:db8::20"), Port: 443,
		Real: netip.MustParseAddr("2001:db8:30::11"), To: netip.MustParseAddr("2001:db8:20::2")}
	v6 := snatTable(kernel.NFTIPv6, kernel.NFTTableName, r)
	v4 := snatTable(kernel.NFTIPv4, kernel.NFTTableName, ruleHTTP)
	s.must(s.k.ReplaceNFTable(s.ctx, v6))
	s.must(s.k.ReplaceNFTable(s.ctx, v4))
	s.diff("ip6 table", s.nftTable(kernel.NFTIPv6, kernel.NFTTableName), v6)
	s.must(s.k.DelNFTable(s.ctx, kernel.NFTIPv4, kernel.NFTTableName))
	s.diff("ip6 table after deleting the ip one", s.nftTable(kernel.NFTIPv6, kernel.NFTTableName), v6)
}

// testNFTRefused: a table that cannot be written (an IPv6 address in an
// ip table) is refused with EINVAL and the table stays as it was.
func testNFTRefused(t *testing.T, s *suite) {
	good := snatTable(kernel.NFTIPv4, kernel.NFTTableName, ruleHTTP)
	s.must(s.k.ReplaceNFTable(s.ctx, good))
	bad := ruleDNS
	bad.To = netip.MustParseAddr("2001:db8::1")
	s.wantErr("writing an IPv6 address into an ip table",
		s.k.ReplaceNFTable(s.ctx, snatTable(kernel.NFTIPv4, kernel.NFTTableName, ruleDNS, bad)), syscall.EINVAL)
	s.diff("table after a refused replace", s.nftTable(kernel.NFTIPv4, kernel.NFTTableName), good)
}

// testNFTOtherTables: replacing and deleting one table leaves another
// table of the same family alone.
func testNFTOtherTables(t *testing.T, s *suite) {
	other := snatTable(kernel.NFTIPv4, "filter-by-hand", ruleAll)
	s.must(s.k.ReplaceNFTable(s.ctx, other))
	s.must(s.k.ReplaceNFTable(s.ctx, snatTable(kernel.NFTIPv4, kernel.NFTTableName, ruleHTTP)))
	s.diff("other table after a replace", s.nftTable(kernel.NFTIPv4, "filter-by-hand"), other)
	s.diff("lvsgen's table beside another", s.nftTable(kernel.NFTIPv4, kernel.NFTTableName),
		snatTable(kernel.NFTIPv4, kernel.NFTTableName, ruleHTTP))
	s.must(s.k.DelNFTable(s.ctx, kernel.NFTIPv4, kernel.NFTTableName))
	s.diff("other table after a delete", s.nftTable(kernel.NFTIPv4, "filter-by-hand"), other)
}

// testNFTOpErrors: a failed nftables call is an *OpError naming the
// table.
func testNFTOpErrors(t *testing.T, s *suite) {
	_, err := s.k.NFTable(s.ctx, kernel.NFTIPv6, "missing")
	s.wantOpError(err, "reading", "nft table ip6 missing", syscall.ENOENT)
	s.wantOpError(s.k.DelNFTable(s.ctx, kernel.NFTIPv4, "missing"), "deleting", "nft table ip missing", syscall.ENOENT)
	bad := snatTable(kernel.NFTIPv6, kernel.NFTTableName, ruleHTTP)
	s.wantOpError(s.k.ReplaceNFTable(s.ctx, bad), "replacing", "nft table ip6 lvsgen", syscall.EINVAL)
}
