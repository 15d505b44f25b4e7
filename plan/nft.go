package plan

import (
	"fmt"
	"slices"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
)

// KindNFTable is the kind of an nftables table lvsgen owns.
const KindNFTable Kind = "nftable"

// NFTable is an nftables table lvsgen writes whole (KindNFTable): the
// source NAT of fullnat services. It is created and updated by replacing
// the whole table in one nftables transaction, and deleted whole.
type NFTable struct {
	kernel.NFTTable
}

var _ Object = (*NFTable)(nil)

// NFTableRef names a table lvsgen owns, in the state file.
type NFTableRef struct {
	Family kernel.NFTFamily `json:"family"`
	Name   string           `json:"name"`
}

func (r NFTableRef) String() string { return fmt.Sprintf("%s %s", r.Family, r.Name) }

// Ours reports whether r names a table lvsgen writes: kernel.NFTTableName
// in family ip or ip6.
func (r NFTableRef) Ours() bool {
	return r.Name == kernel.NFTTableName && (r.Family == kernel.NFTIPv4 || r.Family == kernel.NFTIPv6)
}

func refOf(t kernel.NFTTable) NFTableRef { return NFTableRef{Family: t.Family, Name: t.Name} }

// Kind is KindNFTable.
func (t *NFTable) Kind() Kind { return KindNFTable }

// String names the table as nft does: "ip lvsgen".
func (t *NFTable) String() string { return t.NFTTable.String() }

// Attrs lists the rules a creation writes.
func (t *NFTable) Attrs() string {
	return fmt.Sprintf("%d snat rule(s)", t.Rules())
}

// Changes lists the rules and chains the replacement removes ("-") and
// adds ("+"), in nft's words, so that a rule deleted by hand shows as
// the one put back.
func (t *NFTable) Changes(before Object) []string {
	b := before.(*NFTable)
	var out []string
	lines := func(x *NFTable) []string {
		var l []string
		for _, c := range x.Chains {
			l = append(l, fmt.Sprintf("chain %s: type %s hook %s priority %d", c.Name, c.Type, c.Hook, c.Priority))
			for _, r := range c.Rules {
				l = append(l, fmt.Sprintf("chain %s: %s", c.Name, r.Text(x.Family)))
			}
		}
		return l
	}
	old, nw := lines(b), lines(t)
	for _, l := range old {
		if !slices.Contains(nw, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range nw {
		if !slices.Contains(old, l) {
			out = append(out, "+ "+l)
		}
	}
	if len(out) == 0 {
		// Same rules in another order: the order is nft's to keep too.
		out = append(out, "rule order")
	}
	return out
}

// JSON is the kernel value, which carries its JSON tags.
func (t *NFTable) JSON() any { return t.NFTTable }

// keepUndone keeps a table owned whose deletion may not have been done,
// if it was.
func (t *NFTable) keepUndone(op Op, u *undone) {
	ref := refOf(t.NFTTable)
	if op.Action == Delete && slices.Contains(u.prev.NFTables, ref) && !slices.Contains(u.s.NFTables, ref) {
		u.s.NFTables = append(u.s.NFTables, ref)
	}
}

// nftables plans lvsgen's nftables tables: written whole when missing or
// different in any way from the config's (a rule deleted or added by
// hand, the table flushed), deleted when lvsgen owns one the config no
// longer needs. Tables of other names are neither observed nor touched.
func (d *differ) nftables() {
	for _, w := range d.want.NFTables {
		want := w.NFTTable
		ref := refOf(want)
		if !slices.Contains(d.next.NFTables, ref) {
			d.next.NFTables = append(d.next.NFTables, ref)
		}
		i := slices.IndexFunc(d.obs.NFTables, func(x kernel.NFTTable) bool { return refOf(x) == ref })
		switch {
		case i < 0:
			d.setup = append(d.setup, Op{Action: Create, After: &NFTable{want}, Reason: reasons(w.Reasons)})
		case !d.obs.NFTables[i].Equal(want):
			d.setup = append(d.setup, Op{Action: Update, Before: &NFTable{d.obs.NFTables[i]}, After: &NFTable{want},
				Reason: reasons(w.Reasons) + " (drift or config change)"})
		}
	}
	for _, ref := range d.st.NFTables {
		if !ref.Ours() {
			// A state file is read from disk: a table named there that
			// lvsgen never writes is not lvsgen's to delete.
			continue
		}
		if slices.ContainsFunc(d.want.NFTables, func(x hoststate.NFTable) bool { return refOf(x.NFTTable) == ref }) {
			continue
		}
		d.next.NFTables = slices.DeleteFunc(d.next.NFTables, func(x NFTableRef) bool { return x == ref })
		if i := slices.IndexFunc(d.obs.NFTables, func(x kernel.NFTTable) bool { return refOf(x) == ref }); i >= 0 {
			d.teardown = append(d.teardown, Op{Action: Delete, Before: &NFTable{d.obs.NFTables[i]}, Reason: "no longer in the config"})
		}
	}
}
