package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/lvsgen/lvsgen/ipvs"
)

// NFTables are the nftables tables lvsgen owns: the source NAT of FULLNAT
// services. A caller names the tables it asks for: a table of another
// name is never read, written or deleted, so that the firewall of the host
// is not lvsgen's business.
type NFTables interface {
	// NFTable reads table name of family with its chains and rules
	// (ENOENT if there is no such table).
	NFTable(ctx context.Context, family NFTFamily, name string) (NFTTable, error)
	// ReplaceNFTable makes t's table hold exactly t's chains and rules,
	// creating it if missing, in one nftables transaction: the table is
	// never seen half-written, and an error leaves it as it was.
	ReplaceNFTable(ctx context.Context, t NFTTable) error
	// DelNFTable deletes a table with its chains and rules (ENOENT).
	DelNFTable(ctx context.Context, family NFTFamily, name string) error
}

// NFTFamily is the family of an nftables table lvsgen writes: "ip" or
// "ip6", as nft names them. A table of family ip sees IPv4 packets only,
// which is what its rules' addresses are.
type NFTFamily string

// The families of lvsgen's tables.
const (
	NFTIPv4 NFTFamily = "ip"
	NFTIPv6 NFTFamily = "ip6"
)

// NFTFamilyOf is the table family that sees packets of family f.
func NFTFamilyOf(f ipvs.Family) NFTFamily {
	if f == ipvs.IPv6 {
		return NFTIPv6
	}
	return NFTIPv4
}

// NFTTable is an nftables table as lvsgen writes and reads it.
type NFTTable struct {
	Family NFTFamily  `json:"family"`
	Name   string     `json:"name"`
	Chains []NFTChain `json:"chains"`
}

// NFTChain is a base chain of a table and its rules, in order.
type NFTChain struct {
	Name string `json:"name"`
	// Type and Hook are nft's ("nat", "postrouting"); Priority the
	// hook priority (100 is nft's srcnat).
	Type     string     `json:"type"`
	Hook     string     `json:"hook"`
	Priority int32      `json:"priority"`
	Rules    []SNATRule `json:"rules"`
}

// SNATRule is the source NAT of the connections IPVS forwards to one real
// server of a service: in nft's words
//
//	meta l4proto tcp ct original ip daddr VIP ct original proto-dst PORT ip daddr REAL snat to TO
//
// The match on the original destination (the VIP and its port, which the
// conntrack entry keeps after IPVS rewrote the packet to the real server)
// takes only the service's connections; the one on the real server picks
// the source address the director has towards it.
//
// Its JSON names the protocol as a word ("tcp"), as the rest of lvsgen's
// JSON does.
type SNATRule struct {
	Protocol ipvs.Protocol `json:"protocol"`
	VIP      netip.Addr    `json:"vip"`
	// Port is the service's port; 0 matches every port (a port-0
	// service).
	Port uint16     `json:"port,omitempty"`
	Real netip.Addr `json:"real"`
	To   netip.Addr `json:"to"`
	// Other is set on a rule read from the kernel that is no rule lvsgen
	// writes (one added by hand): what it holds, for people. Such a rule
	// is never written; a table that has one differs from any table
	// lvsgen wants.
	Other string `json:"other,omitempty"`
}

// NFTChainSNAT is the name of the chain of lvsgen's table, with the type,
// hook and priority it has: nat at postrouting, nft's srcnat priority,
// where the source of a packet is rewritten after routing chose the
// interface it leaves by.
const (
	NFTChainSNAT     = "postrouting"
	NFTSNATPriority  = 100
	nftSNATChainType = "nat"
	nftSNATChainHook = "postrouting"
)

// NFTTableName is the name of lvsgen's table in each family: "ip lvsgen"
// and "ip6 lvsgen".
const NFTTableName = "lvsgen"

// snatRuleJSON is SNATRule's JSON form.
type snatRuleJSON struct {
	Protocol string     `json:"protocol"`
	VIP      netip.Addr `json:"vip"`
	Port     uint16     `json:"port,omitempty"`
	Real     netip.Addr `json:"real"`
	To       netip.Addr `json:"to"`
	Other    string     `json:"other,omitempty"`
}

// MarshalJSON writes the rule with its protocol as a word.
func (r SNATRule) MarshalJSON() ([]byte, error) {
	j := snatRuleJSON{VIP: r.VIP, Port: r.Port, Real: r.Real, To: r.To, Other: r.Other}
	if r.Other == "" {
		j.Protocol = r.Protocol.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes; an unknown protocol is an
// error.
func (r *SNATRule) UnmarshalJSON(b []byte) error {
	var j snatRuleJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = SNATRule{VIP: j.VIP, Port: j.Port, Real: j.Real, To: j.To, Other: j.Other}
	if j.Protocol != "" {
		p, err := ipvs.ParseProtocol(j.Protocol)
		if err != nil {
			return fmt.Errorf("snat rule: %w", err)
		}
		r.Protocol = p
	}
	return nil
}

// SNATChain returns lvsgen's SNAT chain with rules.
func SNATChain(rules []SNATRule) NFTChain {
	return NFTChain{Name: NFTChainSNAT, Type: nftSNATChainType, Hook: nftSNATChainHook, Priority: NFTSNATPriority, Rules: rules}
}

// String names the table as nft does: "ip lvsgen".
func (t NFTTable) String() string { return fmt.Sprintf("%s %s", t.Family, t.Name) }

// Equal reports whether t and o hold the same chains and rules in the
// same order.
func (t NFTTable) Equal(o NFTTable) bool {
	if t.Family != o.Family || t.Name != o.Name || len(t.Chains) != len(o.Chains) {
		return false
	}
	for i, c := range t.Chains {
		d := o.Chains[i]
		if c.Name != d.Name || c.Type != d.Type || c.Hook != d.Hook || c.Priority != d.Priority || len(c.Rules) != len(d.Rules) {
			return false
		}
		for j := range c.Rules {
			if c.Rules[j] != d.Rules[j] {
				return false
			}
		}
	}
	return true
}

// Rules counts the rules of every chain.
func (t NFTTable) Rules() int {
	n := 0
	for _, c := range t.Chains {
		n += len(c.Rules)
	}
	return n
}

// Text renders the table as `nft list table` prints it.
func (t NFTTable) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s %s {\n", t.Family, t.Name)
	for i, c := range t.Chains {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "\tchain %s {\n", c.Name)
		fmt.Fprintf(&b, "\t\ttype %s hook %s priority %s; policy accept;\n", c.Type, c.Hook, nftPriority(c.Priority))
		for _, r := range c.Rules {
			fmt.Fprintf(&b, "\t\t%s\n", r.Text(t.Family))
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// nftPriority names a nat priority as nft does: srcnat is 100.
func nftPriority(p int32) string {
	switch {
	case p == NFTSNATPriority:
		return "srcnat"
	case p > NFTSNATPriority:
		return fmt.Sprintf("srcnat + %d", p-NFTSNATPriority)
	}
	return fmt.Sprintf("srcnat - %d", NFTSNATPriority-p)
}

// Text is the rule as nft prints it in a table of family f.
func (r SNATRule) Text(f NFTFamily) string {
	if r.Other != "" {
		return r.Other
	}
	var b strings.Builder
	fmt.Fprintf(&b, "meta l4proto %s ct original %s daddr %s", r.Protocol, f, r.VIP)
	if r.Port != 0 {
		fmt.Fprintf(&b, " ct original proto-dst %d", r.Port)
	}
	fmt.Fprintf(&b, " %s daddr %s snat to %s", f, r.Real, r.To)
	return b.String()
}

// String is the rule in nft's words, with its family by its addresses.
func (r SNATRule) String() string {
	f := NFTIPv4
	if r.VIP.Is6() {
		f = NFTIPv6
	}
	return r.Text(f)
}

// Validate reports why the kernel could not take t as lvsgen writes it:
// a family or chain lvsgen does not write, or a rule whose addresses are
// not of the table's family.
func (t NFTTable) Validate() error {
	if t.Family != NFTIPv4 && t.Family != NFTIPv6 {
		return fmt.Errorf("table %s: unknown family %q", t, t.Family)
	}
	if t.Name == "" {
		return fmt.Errorf("table %s: no name", t)
	}
	for _, c := range t.Chains {
		if c.Type != nftSNATChainType || c.Hook != nftSNATChainHook {
			return fmt.Errorf("table %s: chain %s: only nat postrouting chains are written", t, c.Name)
		}
		for _, r := range c.Rules {
			if r.Other != "" {
				return fmt.Errorf("table %s: chain %s: a rule lvsgen does not write: %s", t, c.Name, r.Other)
			}
			for _, a := range []netip.Addr{r.VIP, r.Real, r.To} {
				if !a.IsValid() || a.Is4() != (t.Family == NFTIPv4) {
					return fmt.Errorf("table %s: rule %s: address %v is not of family %s", t, r.Text(t.Family), a, t.Family)
				}
			}
			switch r.Protocol {
			case ipvs.TCP, ipvs.UDP, ipvs.SCTP:
			default:
				return fmt.Errorf("table %s: rule %s: protocol %d", t, r.Text(t.Family), r.Protocol)
			}
		}
	}
	return nil
}
