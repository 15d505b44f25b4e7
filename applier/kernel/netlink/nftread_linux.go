//go:build linux

package netlink

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	mdnetlink "github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// Rules are read here, not with google/nftables' GetRules: v0.3.0 decodes
// a ct expression's direction as 32 bits, and the kernel dumps it as 8
// (nft_ct_get_dump: nla_put_u8), so every rule with `ct original` fails
// to read ("attribute 3 is not a uint32", seen on 6.1 in the e2e VM).
// Writing through the library is right: the kernel reads the first byte
// of its big-endian 32 bits, 0 for "original", the only direction lvsgen
// writes. What is read here is only what decodeSNAT compares: each
// expression's name and its attributes, undecoded.

// nftExpr is one expression of a rule as the kernel dumps it.
type nftExpr struct {
	name  string
	attrs map[uint16][]byte
}

// nftRule is a rule as the kernel dumps it.
type nftRule struct {
	handle uint64
	exprs  []nftExpr
}

// nftRules dumps the rules of one chain of one table.
func (k *Kernel) nftRules(ctx context.Context, fam nftables.TableFamily, table, chain string) ([]nftRule, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := &mdnetlink.Config{}
	if k.ns.IsOpen() {
		cfg.NetNS = int(k.ns)
	}
	c, err := mdnetlink.Dial(unix.NETLINK_NETFILTER, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(k.timeout)
	}
	if err := c.SetDeadline(deadline); err != nil {
		return nil, err
	}
	attrs, err := mdnetlink.MarshalAttributes([]mdnetlink.Attribute{
		{Type: unix.NFTA_RULE_TABLE, Data: append([]byte(table), 0)},
		{Type: unix.NFTA_RULE_CHAIN, Data: append([]byte(chain), 0)},
	})
	if err != nil {
		return nil, err
	}
	req := mdnetlink.Message{
		Header: mdnetlink.Header{
			Type:  mdnetlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE),
			Flags: mdnetlink.Request | mdnetlink.Dump,
		},
		// struct nfgenmsg: family, version, resource id.
		Data: append([]byte{byte(fam), unix.NFNETLINK_V0, 0, 0}, attrs...),
	}
	msgs, err := c.Execute(req)
	if err != nil {
		return nil, err
	}
	var out []nftRule
	for _, m := range msgs {
		if len(m.Data) < 4 {
			return nil, fmt.Errorf("short nftables message")
		}
		r, err := parseNFTRule(m.Data[4:])
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func parseNFTRule(b []byte) (nftRule, error) {
	var r nftRule
	ad, err := mdnetlink.NewAttributeDecoder(b)
	if err != nil {
		return r, err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_RULE_HANDLE:
			r.handle = ad.Uint64()
		case unix.NFTA_RULE_EXPRESSIONS:
			ad.Nested(func(list *mdnetlink.AttributeDecoder) error {
				for list.Next() {
					if list.Type() != unix.NFTA_LIST_ELEM {
						continue
					}
					var e nftExpr
					list.Nested(func(ed *mdnetlink.AttributeDecoder) error {
						for ed.Next() {
							switch ed.Type() {
							case unix.NFTA_EXPR_NAME:
								e.name = ed.String()
							case unix.NFTA_EXPR_DATA:
								e.attrs = map[uint16][]byte{}
								ed.Nested(func(dd *mdnetlink.AttributeDecoder) error {
									for dd.Next() {
										e.attrs[dd.Type()] = dd.Bytes()
									}
									return nil
								})
							}
						}
						return nil
					})
					r.exprs = append(r.exprs, e)
				}
				return nil
			})
		}
	}
	return r, ad.Err()
}

// u32 reads a big-endian attribute of 32 bits, and u8 one of 8; ok is
// false when it is missing or of another length.
func (e nftExpr) u32(t uint16) (uint32, bool) {
	b, ok := e.attrs[t]
	if !ok || len(b) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(b), true
}

// is reports whether attribute t holds v: 32 bits, or 8 for a ct
// direction.
func (e nftExpr) is(t uint16, v uint32) bool {
	if b, ok := e.attrs[t]; ok && len(b) == 1 {
		return uint32(b[0]) == v
	}
	got, ok := e.u32(t)
	return ok && got == v
}

// value reads a nested NFTA_DATA_VALUE (cmp's and immediate's data).
func (e nftExpr) value(t uint16) ([]byte, bool) {
	b, ok := e.attrs[t]
	if !ok {
		return nil, false
	}
	ad, err := mdnetlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, false
	}
	for ad.Next() {
		if ad.Type() == unix.NFTA_DATA_VALUE {
			return ad.Bytes(), true
		}
	}
	return nil, false
}

// decodeSNAT reads a rule back: an SNATRule when it has encodeSNAT's
// layout exactly, else one whose Other says what it is, so that a rule
// changed or added by hand is drift.
func decodeSNAT(f kernel.NFTFamily, r nftRule) kernel.SNATRule {
	other := kernel.SNATRule{Other: fmt.Sprintf("# a rule lvsgen did not write (handle %d, %d expressions)", r.handle, len(r.exprs))}
	var out kernel.SNATRule
	e := r.exprs
	next := func(name string) (nftExpr, bool) {
		if len(e) == 0 || e[0].name != name {
			return nftExpr{}, false
		}
		x := e[0]
		e = e[1:]
		return x, true
	}
	// load reads an expression that loads register 1, and cmp the
	// comparison for equality that follows it.
	load := func(name string, dreg uint16) (nftExpr, bool) {
		x, ok := next(name)
		return x, ok && x.is(dreg, nftReg)
	}
	cmp := func() ([]byte, bool) {
		x, ok := next("cmp")
		if !ok || !x.is(unix.NFTA_CMP_SREG, nftReg) || !x.is(unix.NFTA_CMP_OP, uint32(expr.CmpOpEq)) {
			return nil, false
		}
		return x.value(unix.NFTA_CMP_DATA)
	}
	addr := func(b []byte, ok bool) (netip.Addr, bool) {
		a, aok := netip.AddrFromSlice(b)
		return a, ok && aok && a.Is4() == (f == kernel.NFTIPv4)
	}
	daddrOffset := uint32(16)
	if f == kernel.NFTIPv6 {
		daddrOffset = 24
	}
	if x, ok := load("meta", unix.NFTA_META_DREG); !ok || !x.is(unix.NFTA_META_KEY, unix.NFT_META_L4PROTO) {
		return other
	}
	p, ok := cmp()
	if !ok || len(p) != 1 {
		return other
	}
	out.Protocol = ipvs.Protocol(p[0])
	if x, ok := load("ct", unix.NFTA_CT_DREG); !ok || !x.is(unix.NFTA_CT_KEY, unix.NFT_CT_DST) || !x.is(unix.NFTA_CT_DIRECTION, 0) {
		return other
	}
	if out.VIP, ok = addr(cmp()); !ok {
		return other
	}
	if len(e) > 0 && e[0].name == "ct" {
		x, _ := load("ct", unix.NFTA_CT_DREG)
		if !x.is(unix.NFTA_CT_DREG, nftReg) || !x.is(unix.NFTA_CT_KEY, unix.NFT_CT_PROTO_DST) || !x.is(unix.NFTA_CT_DIRECTION, 0) {
			return other
		}
		b, ok := cmp()
		if !ok || len(b) != 2 || binary.BigEndian.Uint16(b) == 0 {
			return other
		}
		out.Port = binary.BigEndian.Uint16(b)
	}
	if x, ok := load("payload", unix.NFTA_PAYLOAD_DREG); !ok || !x.is(unix.NFTA_PAYLOAD_BASE, unix.NFT_PAYLOAD_NETWORK_HEADER) ||
		!x.is(unix.NFTA_PAYLOAD_OFFSET, daddrOffset) {
		return other
	}
	if out.Real, ok = addr(cmp()); !ok {
		return other
	}
	im, ok := load("immediate", unix.NFTA_IMMEDIATE_DREG)
	if !ok {
		return other
	}
	if out.To, ok = addr(im.value(unix.NFTA_IMMEDIATE_DATA)); !ok {
		return other
	}
	family := uint32(unix.NFPROTO_IPV4)
	if f == kernel.NFTIPv6 {
		family = unix.NFPROTO_IPV6
	}
	n, ok := next("nat")
	if !ok || !n.is(unix.NFTA_NAT_TYPE, unix.NFT_NAT_SNAT) || !n.is(unix.NFTA_NAT_FAMILY, family) || !n.is(unix.NFTA_NAT_REG_ADDR_MIN, nftReg) {
		return other
	}
	if _, ok := n.attrs[unix.NFTA_NAT_REG_ADDR_MAX]; ok && !n.is(unix.NFTA_NAT_REG_ADDR_MAX, nftReg) {
		return other
	}
	// The kernel sets NF_NAT_RANGE_MAP_IPS itself for an address; any
	// other flag (random, persistent, a port range) is not lvsgen's.
	if fl, ok := n.attrs[unix.NFTA_NAT_FLAGS]; ok && (len(fl) != 4 || binary.BigEndian.Uint32(fl)&^uint32(unix.NF_NAT_RANGE_MAP_IPS) != 0) {
		return other
	}
	if _, ok := n.attrs[unix.NFTA_NAT_REG_PROTO_MIN]; ok || len(e) != 0 {
		return other
	}
	return out
}
