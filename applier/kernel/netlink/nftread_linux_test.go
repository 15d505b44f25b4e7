//go:build linux

package netlink

import (
	"encoding/binary"
	"net/netip"
	"testing"

	mdnetlink "github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func dataValue(b []byte) []byte {
	out, err := mdnetlink.MarshalAttributes([]mdnetlink.Attribute{{Type: unix.NFTA_DATA_VALUE, Data: b}})
	if err != nil {
		panic(err)
	}
	return out
}

// dumped is an SNAT rule as the 6.1 kernel dumps it (nft_*_dump): the
// ct direction in 8 bits, the nat expression with NF_NAT_RANGE_MAP_IPS
// and the maximum address register it sets itself.
func dumped(port uint16) nftRule {
	cmp := func(b []byte) nftExpr {
		return nftExpr{"cmp", map[uint16][]byte{unix.NFTA_CMP_SREG: be32(1), unix.NFTA_CMP_OP: be32(unix.NFT_CMP_EQ), unix.NFTA_CMP_DATA: dataValue(b)}}
	}
	e := []nftExpr{
		{"meta", map[uint16][]byte{unix.NFTA_META_KEY: be32(unix.NFT_META_L4PROTO), unix.NFTA_META_DREG: be32(1)}},
		cmp([]byte{6}),
		{"ct", map[uint16][]byte{unix.NFTA_CT_KEY: be32(unix.NFT_CT_DST), unix.NFTA_CT_DREG: be32(1), unix.NFTA_CT_DIRECTION: {0}}},
		cmp([]byte{192, 0, 2, 20}),
	}
	if port != 0 {
		e = append(e,
			nftExpr{"ct", map[uint16][]byte{unix.NFTA_CT_KEY: be32(unix.NFT_CT_PROTO_DST), unix.NFTA_CT_DREG: be32(1), unix.NFTA_CT_DIRECTION: {0}}},
			cmp(binary.BigEndian.AppendUint16(nil, port)))
	}
	e = append(e,
		nftExpr{"payload", map[uint16][]byte{unix.NFTA_PAYLOAD_DREG: be32(1), unix.NFTA_PAYLOAD_BASE: be32(unix.NFT_PAYLOAD_NETWORK_HEADER), unix.NFTA_PAYLOAD_OFFSET: be32(16), unix.NFTA_PAYLOAD_LEN: be32(4)}},
		cmp([]byte{10, 30, 0, 11}),
		nftExpr{"immediate", map[uint16][]byte{unix.NFTA_IMMEDIATE_DREG: be32(1), unix.NFTA_IMMEDIATE_DATA: dataValue([]byte{10, 20, 0, 2})}},
		nftExpr{"nat", map[uint16][]byte{unix.NFTA_NAT_TYPE: be32(unix.NFT_NAT_SNAT), unix.NFTA_NAT_FAMILY: be32(unix.NFPROTO_IPV4),
			unix.NFTA_NAT_REG_ADDR_MIN: be32(1), unix.NFTA_NAT_REG_ADDR_MAX: be32(1), unix.NFTA_NAT_FLAGS: be32(unix.NF_NAT_RANGE_MAP_IPS)}},
	)
	return nftRule{handle: 4, exprs: e}
}

func TestDecodeSNAT(t *testing.T) {
	want := kernel.SNATRule{Protocol: ipvs.TCP, VIP: netip.MustParseAddr("192.0.2.20"), Port: 80,
		Real: netip.MustParseAddr("10.30.0.11"), To: netip.MustParseAddr("10.20.0.2")}
	if got := decodeSNAT(kernel.NFTIPv4, dumped(80)); got != want {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
	want.Port = 0
	if got := decodeSNAT(kernel.NFTIPv4, dumped(0)); got != want {
		t.Errorf("port 0: decoded %+v, want %+v", got, want)
	}
	for name, edit := range map[string]func(*nftRule){
		"an expression more": func(r *nftRule) { r.exprs = append(r.exprs, nftExpr{name: "counter"}) },
		"random port mapping": func(r *nftRule) {
			r.exprs[len(r.exprs)-1].attrs[unix.NFTA_NAT_FLAGS] = be32(unix.NF_NAT_RANGE_MAP_IPS | unix.NF_NAT_RANGE_PROTO_RANDOM)
		},
		"reply direction":         func(r *nftRule) { r.exprs[2].attrs[unix.NFTA_CT_DIRECTION] = []byte{1} },
		"not equal":               func(r *nftRule) { r.exprs[1].attrs[unix.NFTA_CMP_OP] = be32(unix.NFT_CMP_NEQ) },
		"in an ip6 table":         func(r *nftRule) {},
		"source address, not dst": func(r *nftRule) { r.exprs[6].attrs[unix.NFTA_PAYLOAD_OFFSET] = be32(12) },
	} {
		r := dumped(80)
		edit(&r)
		fam := kernel.NFTIPv4
		if name == "in an ip6 table" {
			fam = kernel.NFTIPv6
		}
		if got := decodeSNAT(fam, r); got.Other == "" {
			t.Errorf("%s: decoded as lvsgen's %+v", name, got)
		}
	}
}
