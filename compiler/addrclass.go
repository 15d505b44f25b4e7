package compiler

import (
	"bytes"
	"net/netip"
	"strings"
)

// A real server given by a bare address (no host) is most of what a large
// service holds, and #RealCheck's verdict on it depends on the address
// only through what its rules read of it: its family, whether it is a
// unicast address, which of the directors' subnets and the cluster's
// client networks hold it — and the address itself, which the issues'
// messages name. So such real servers are checked once per class of
// address: the first of a class is evaluated, and the others take its
// verdict with its address replaced by their own in the issues' text.
// One service of 10,000 real servers on one subnet is one evaluation
// instead of 10,000 (issue #16).
//
// An address is classed only when nothing else in the rule's input can
// be the same text — it is not a director's interface address, a gateway,
// a NAT gateway or a client network's address — so that the replacement
// touches the real server's address and nothing else; and only when it is
// a plain unicast address (not unspecified, multicast, broadcast,
// link-local, IPv4-mapped or zoned: the addresses the unicast rule is
// about are rare and each is evaluated on its own). TestAddressClasses
// holds the classed verdicts to those of evaluating every address.

// shareAddressVerdicts is off in a test that compares against evaluating
// every address.
var shareAddressVerdicts = true

// addrClasses is what classes an address of one service's cluster.
type addrClasses struct {
	// subnets are the directors' interface prefixes, nets the cluster's
	// client networks, in the order of the rule's input.
	subnets, nets []netip.Prefix
	// named are the addresses the input holds as text besides the real
	// server's.
	named map[netip.Addr]bool
	// hasSentinel: the cluster's facts hold hostSentinel, so no host
	// real server of it is classed (hostclass.go).
	hasSentinel bool
}

// newAddrClasses reads the cluster's facts as #RealCheck gets them.
func newAddrClasses(cluster map[string]any) *addrClasses {
	ac := &addrClasses{named: map[netip.Addr]bool{}}
	name := func(s any) {
		if str, ok := s.(string); ok {
			if a, err := netip.ParseAddr(str); err == nil {
				ac.named[a] = true
			}
		}
	}
	prefix := func(s any) (netip.Prefix, bool) {
		str, _ := s.(string)
		p, err := netip.ParsePrefix(str)
		if err == nil {
			ac.named[p.Addr()] = true
		}
		return p, err == nil
	}
	dirs, _ := cluster["directors"].([]any)
	for _, d := range dirs {
		d, _ := d.(map[string]any)
		// A director's name is written in messages; a #Name may look
		// like an address.
		name(d["name"])
		name(d["gateway"])
		name(d["gateway6"])
		ps, _ := d["prefixes"].([]string)
		for _, s := range ps {
			p, _ := prefix(s)
			ac.subnets = append(ac.subnets, p)
		}
	}
	name(cluster["natGateway"])
	name(cluster["natGateway6"])
	nets, _ := cluster["clientNetworks"].([]string)
	for _, s := range nets {
		p, _ := prefix(s)
		ac.nets = append(ac.nets, p)
	}
	ac.hasSentinel = bytes.Contains(appendKey(nil, cluster), []byte(hostSentinel))
	return ac
}

// class returns a's class as text, and false when a is to be evaluated
// on its own.
func (ac *addrClasses) class(a netip.Addr) (string, bool) {
	if !shareAddressVerdicts || !a.IsValid() || a.Is4In6() || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || ac.named[a] {
		return "", false
	}
	var b strings.Builder
	if a.Is4() {
		b.WriteString("4:")
	} else {
		b.WriteString("6:")
	}
	for _, set := range [][]netip.Prefix{ac.subnets, ac.nets} {
		for _, p := range set {
			if p.IsValid() && p.Contains(a) {
				b.WriteByte('1')
			} else {
				b.WriteByte('0')
			}
		}
		b.WriteByte('/')
	}
	return b.String(), true
}

// renamed returns v with the address from, which v's input named, replaced
// by to wherever it stands as a whole address in the issues' text.
func (v verdict) renamed(from, to string) verdict {
	if from == to {
		return v
	}
	return v.rewritten(to, func(s string) string { return replaceAddr(s, from, to) }, false)
}

// rewritten returns v, for subject, with r applied to the issues' text
// (messages, hints, the related positions' values and messages, the
// failures), and with paths to their paths and related positions too. v
// itself is not changed: it is shared by every real server of its class.
func (v verdict) rewritten(subject string, r func(string) string, paths bool) verdict {
	if len(v.issues) == 0 && len(v.failed) == 0 {
		return v
	}
	out := verdict{subject: subject}
	for _, is := range v.issues {
		is.Message, is.Hint = r(is.Message), r(is.Hint)
		if paths {
			is.Path = r(is.Path)
		}
		if is.Related != nil {
			rel := make([]rawRelated, len(is.Related))
			for i, x := range is.Related {
				x.Message, x.Value = r(x.Message), r(x.Value)
				if paths {
					at := make([]string, len(x.At))
					for j, s := range x.At {
						at[j] = r(s)
					}
					x.At = at
				}
				rel[i] = x
			}
			is.Related = rel
		}
		out.issues = append(out.issues, is)
	}
	for _, f := range v.failed {
		f.err = r(f.err)
		out.failed = append(out.failed, f)
	}
	return out
}

// replaceAddr replaces each whole from in s by to: not where it is part of
// a longer address ("10.0.0.1" in "10.0.0.12" or "10.0.0.1.5", "::1" in
// "2001:db8::1"). A dot or colon next to it is punctuation unless an
// address goes on past it ("real server 2001:db8::40: it is on no
// subnet").
func replaceAddr(s, from, to string) string {
	if !strings.Contains(s, from) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, from)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(from)
		before := i > 0 && (isHexDigit(s[i-1]) || isSep(s[i-1]) && i > 1 && (isHexDigit(s[i-2]) || s[i-2] == ':'))
		after := end < len(s) && (isHexDigit(s[end]) || isSep(s[end]) && end+1 < len(s) && (isHexDigit(s[end+1]) || s[end+1] == ':'))
		b.WriteString(s[:i])
		if before || after {
			b.WriteString(from)
		} else {
			b.WriteString(to)
		}
		s = s[end:]
	}
}

// isSep reports whether c separates the parts of an address.
func isSep(c byte) bool { return c == '.' || c == ':' }

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
