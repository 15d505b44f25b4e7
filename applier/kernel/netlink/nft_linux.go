//go:build linux

package netlink

import (
	"context"
	"encoding/binary"
	"fmt"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	mdnetlink "github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// nftConn opens an nftables connection in the Kernel's namespace whose
// socket gives up at ctx's deadline, else after the Kernel's timeout:
// google/nftables takes no context, so the deadline is the bound. Each
// call of the library dials its own socket with these options.
func (k *Kernel) nftConn(ctx context.Context) (*nftables.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(k.timeout)
	}
	opts := []nftables.ConnOption{nftables.WithSockOptions(func(c *mdnetlink.Conn) error { return c.SetDeadline(deadline) })}
	if k.ns.IsOpen() {
		opts = append(opts, nftables.WithNetNSFd(int(k.ns)))
	}
	return nftables.New(opts...)
}

func nftFamily(f kernel.NFTFamily) (nftables.TableFamily, error) {
	switch f {
	case kernel.NFTIPv4:
		return nftables.TableFamilyIPv4, nil
	case kernel.NFTIPv6:
		return nftables.TableFamilyIPv6, nil
	}
	return 0, fmt.Errorf("unknown nftables family %q: %w", f, syscall.EAFNOSUPPORT)
}

// nftErr keeps the errno inside the library's errors, which wrap it in
// netlink.OpError (and some in text only: a rule dump's).
func nftErr(op, object string, err error) error {
	return &kernel.OpError{Op: op, Object: object, Err: err}
}

// NFTable implements kernel.NFTables. It reads the table by name, the
// chains of its family keeping those of this table only, and their rules.
func (k *Kernel) NFTable(ctx context.Context, family kernel.NFTFamily, name string) (kernel.NFTTable, error) {
	object := fmt.Sprintf("nft table %s %s", family, name)
	fam, err := nftFamily(family)
	if err != nil {
		return kernel.NFTTable{}, nftErr("reading", object, err)
	}
	c, err := k.nftConn(ctx)
	if err != nil {
		return kernel.NFTTable{}, nftErr("reading", object, err)
	}
	t, err := c.ListTableOfFamily(name, fam)
	if err != nil {
		return kernel.NFTTable{}, nftErr("reading", object, err)
	}
	chains, err := c.ListChainsOfTableFamily(fam)
	if err != nil {
		return kernel.NFTTable{}, nftErr("reading", "chains of "+object, err)
	}
	out := kernel.NFTTable{Family: family, Name: name, Chains: []kernel.NFTChain{}}
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != name {
			continue
		}
		kc := kernel.NFTChain{Name: ch.Name, Type: string(ch.Type), Rules: []kernel.SNATRule{}}
		if ch.Hooknum != nil {
			kc.Hook = hookName(*ch.Hooknum)
		}
		if ch.Priority != nil {
			kc.Priority = int32(*ch.Priority)
		}
		rules, err := k.nftRules(ctx, fam, t.Name, ch.Name)
		if err != nil {
			return kernel.NFTTable{}, nftErr("reading", fmt.Sprintf("rules of chain %s of %s", ch.Name, object), err)
		}
		for _, r := range rules {
			kc.Rules = append(kc.Rules, decodeSNAT(family, r))
		}
		out.Chains = append(out.Chains, kc)
	}
	return out, nil
}

// hookName names a netfilter hook as nft does.
func hookName(h nftables.ChainHook) string {
	switch h {
	case unix.NF_INET_PRE_ROUTING:
		return "prerouting"
	case unix.NF_INET_LOCAL_IN:
		return "input"
	case unix.NF_INET_FORWARD:
		return "forward"
	case unix.NF_INET_LOCAL_OUT:
		return "output"
	case unix.NF_INET_POST_ROUTING:
		return "postrouting"
	}
	return fmt.Sprintf("hook %d", uint32(h))
}

// ReplaceNFTable implements kernel.NFTables: one batch, which nf_tables
// applies as one transaction, that adds the table (a no-op when it
// exists), deletes it with everything in it, and adds it again with its
// chains and rules. Either all of it is done or none: the table is never
// seen empty or half-written, and a rule the kernel refuses leaves the
// old table in place.
func (k *Kernel) ReplaceNFTable(ctx context.Context, t kernel.NFTTable) error {
	object := "nft table " + t.String()
	if err := t.Validate(); err != nil {
		return nftErr("replacing", object, fmt.Errorf("%v: %w", err, syscall.EINVAL))
	}
	fam, err := nftFamily(t.Family)
	if err != nil {
		return nftErr("replacing", object, err)
	}
	c, err := k.nftConn(ctx)
	if err != nil {
		return nftErr("replacing", object, err)
	}
	tab := &nftables.Table{Family: fam, Name: t.Name}
	c.AddTable(tab)
	c.DelTable(tab)
	c.AddTable(tab)
	for _, kc := range t.Chains {
		prio := nftables.ChainPriority(kc.Priority)
		policy := nftables.ChainPolicyAccept
		ch := c.AddChain(&nftables.Chain{
			Name: kc.Name, Table: tab, Type: nftables.ChainType(kc.Type),
			Hooknum: nftables.ChainHookPostrouting, Priority: &prio, Policy: &policy,
		})
		for _, r := range kc.Rules {
			c.AddRule(&nftables.Rule{Table: tab, Chain: ch, Exprs: encodeSNAT(t.Family, r)})
		}
	}
	if err := c.Flush(); err != nil {
		return nftErr("replacing", object, err)
	}
	return nil
}

// DelNFTable implements kernel.NFTables.
func (k *Kernel) DelNFTable(ctx context.Context, family kernel.NFTFamily, name string) error {
	object := fmt.Sprintf("nft table %s %s", family, name)
	fam, err := nftFamily(family)
	if err != nil {
		return nftErr("deleting", object, err)
	}
	c, err := k.nftConn(ctx)
	if err != nil {
		return nftErr("deleting", object, err)
	}
	c.DelTable(&nftables.Table{Family: fam, Name: name})
	if err := c.Flush(); err != nil {
		return nftErr("deleting", object, err)
	}
	return nil
}

// The layout of an SNAT rule, as nft itself compiles
// `meta l4proto P ct original ip daddr VIP ct original proto-dst PORT
// ip daddr REAL snat to TO`: every match loads register 1 and compares it;
// the address to translate to is loaded into register 1 for the nat
// expression. decodeSNAT reads back exactly this layout and nothing else.
const nftReg = 1

func encodeSNAT(f kernel.NFTFamily, r kernel.SNATRule) []expr.Any {
	daddrOffset, family := uint32(16), uint32(unix.NFPROTO_IPV4)
	if f == kernel.NFTIPv6 {
		daddrOffset, family = 24, unix.NFPROTO_IPV6
	}
	e := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: nftReg},
		&expr.Cmp{Op: expr.CmpOpEq, Register: nftReg, Data: []byte{byte(r.Protocol)}},
		&expr.Ct{Key: expr.CtKeyDST, Direction: 0, Register: nftReg},
		&expr.Cmp{Op: expr.CmpOpEq, Register: nftReg, Data: r.VIP.AsSlice()},
	}
	if r.Port != 0 {
		e = append(e,
			&expr.Ct{Key: expr.CtKeyPROTODST, Direction: 0, Register: nftReg},
			&expr.Cmp{Op: expr.CmpOpEq, Register: nftReg, Data: binary.BigEndian.AppendUint16(nil, r.Port)})
	}
	return append(e,
		&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: nftReg, Base: expr.PayloadBaseNetworkHeader, Offset: daddrOffset, Len: uint32(r.Real.BitLen() / 8)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: nftReg, Data: r.Real.AsSlice()},
		&expr.Immediate{Register: nftReg, Data: r.To.AsSlice()},
		&expr.NAT{Type: expr.NATTypeSourceNAT, Family: family, RegAddrMin: nftReg, RegAddrMax: nftReg},
	)
}
