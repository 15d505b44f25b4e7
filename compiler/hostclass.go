package compiler

import (
	"bytes"
	"maps"
	"net/netip"
	"strings"
	"sync"
)

// A real server given as a declared host is checked by #RealCheck with
// the host's facts (#HostFacts), and every host's facts differ — its name
// and addresses are its own — so a service of 10,000 such real servers
// was 10,000 evaluations (11 s; issue #16). The rules read of a host:
//   - its name, only to write it (messages, hints, the related positions'
//     paths "hosts", NAME, ...);
//   - its prefixes, for whether one of them is the real server's address
//     (real-address-host) and, among those holding the address, their
//     overlap with the cluster's client networks and their text
//     (nat-clients);
//   - its gateways, compared with the directors' addresses and the NAT
//     gateway (dr-gateway, nat-gateway) and written.
//
// So such a real server is classed as a bare address is (addrclass.go) —
// by its address's class — and by its host's facts with its identity
// taken out: the name left out, and each prefix written relative to the
// real server's address (relativePrefixes). Everything else of the facts
// (gateways, managed, interfaces, MTU) is in the class as it is, so a
// rule that starts reading them stays right.
//
// The class's first real server is evaluated with its host's name
// replaced by hostSentinel, in the real server and in its facts; the
// verdict kept is written in terms of the sentinel and of that real
// server's address. Each real server of the class takes it with the
// address replaced by its own (as a bare address's class does) and then
// the sentinel by its host's name — in that order, as a name may look
// like an address — wherever they stand: messages, hints, paths and
// related positions. A name is not replaced as text — a host
// called "web" or "real" would be found in the rules' own words — but
// evaluated as a token nothing else in the input holds.
//
// A real server is evaluated on its own when the replacement could touch
// anything but its identity: its address is not classed (addrclass.go:
// not unicast, or a director's name or address, a gateway's or a client
// network's text), its
// real server entry or its host's facts hold its address as text (a
// gateway equal to it, say) or the sentinel, the cluster's facts hold the
// sentinel, or its explicit address is not written as the address it
// resolves to. TestHostClasses holds the classed verdicts to those of
// evaluating every real server.
//
// A host's class in a cluster is found once per compile (classMemo): a
// pool of hosts behind 10,000 services is 100,000 real servers, and
// finding the class of each on its own cost BenchmarkCompile a tenth of
// its time.

// hostSentinel stands for a real server's host name in a class's
// evaluation. It is a valid #Name (#Real's host is one), and schema/
// rules.cue must not contain it (TestHostClasses checks).
const hostSentinel = "lvsgen-class-host-5f0e2c"

// classMemo keeps, for one compile, each cluster's addrClasses and each
// pair of cluster and real server facts' host class, shared by the
// goroutines that compile services: a cluster's services, and a host
// behind many of them, are classed once.
type classMemo struct {
	mu       sync.Mutex
	clusters map[int]*addrClasses
	hosts    map[[2]int]hostClassOf
}

// hostClassOf is a host class as hostClass found it.
type hostClassOf struct {
	class string
	ok    bool
}

// cluster returns the addrClasses of the cluster whose facts are cf.
func (m *classMemo) cluster(cf factsOf) *addrClasses {
	m.mu.Lock()
	defer m.mu.Unlock()
	ac, ok := m.clusters[cf.id]
	if !ok {
		if m.clusters == nil {
			m.clusters = map[int]*addrClasses{}
		}
		ac = newAddrClasses(cf.facts)
		m.clusters[cf.id] = ac
	}
	return ac
}

// appendHostKey appends to key what stands for a real server given as a
// declared host in #RealCheck's verdict key: its entry without weight,
// host and address, the service's facts (svcKey), and its host class in
// the cluster (ac, whose facts' id is clusterID). It returns false when
// the real server is to be evaluated on its own.
func (m *classMemo) appendHostKey(key []byte, ac *addrClasses, clusterID int, real map[string]any, ref realRef, fact factsOf, svcKey []byte) ([]byte, bool) {
	if !ref.ok || ref.host == nil {
		return key, false
	}
	if name, _ := real["host"].(string); name != ref.host.Name {
		return key, false
	}
	addr := ref.addr.String()
	_, hasAddr := real["address"]
	if hasAddr && real["address"] != addr {
		return key, false
	}
	k := [2]int{clusterID, fact.id}
	m.mu.Lock()
	hc, ok := m.hosts[k]
	m.mu.Unlock()
	if !ok {
		hc.class, hc.ok = hostClass(ac, ref.addr, fact.facts)
		m.mu.Lock()
		if m.hosts == nil {
			m.hosts = map[[2]int]hostClassOf{}
		}
		m.hosts[k] = hc
		m.mu.Unlock()
	}
	if !hc.ok {
		return key, false
	}
	start := len(key)
	key = appendKeyWithout(key, real, "weight", "host", "address")
	if bytes.Contains(key[start:], []byte(addr)) || bytes.Contains(key[start:], []byte(hostSentinel)) {
		return key, false
	}
	if hasAddr {
		key = append(key, "|A"...)
	}
	key = append(key, '|')
	key = append(key, svcKey...)
	key = append(key, "|h"...)
	key = append(key, hc.class...)
	return key, true
}

// hostClass returns the class, in a cluster classed by ac, of a real
// server at address a with the facts fact (a host's): a's class and the
// host's facts without its name and with its prefixes relative to a. It
// returns false when the real server is to be evaluated on its own.
func hostClass(ac *addrClasses, a netip.Addr, fact map[string]any) (string, bool) {
	host, _ := fact["host"].(map[string]any)
	if ac.hasSentinel || host == nil || fact["address"] != a.String() {
		return "", false
	}
	cl, ok := ac.class(a)
	if !ok {
		return "", false
	}
	rel := make(map[string]any, len(host))
	for k, v := range host {
		switch k {
		case "name":
		case "prefixes":
			ps, ok := relativePrefixes(v, a)
			if !ok {
				return "", false
			}
			rel[k] = ps
		default:
			rel[k] = v
		}
	}
	enc := appendKey(append([]byte(cl), '|'), rel)
	if bytes.Contains(enc, []byte(a.String())) || bytes.Contains(enc, []byte(hostSentinel)) {
		return "", false
	}
	return string(enc), true
}

// relativePrefixes writes a host's prefixes (#HostFacts' prefixes) as the
// rules can tell them apart given the real server's address a, each with
// its network: a prefix of a itself ("1="), another prefix that holds a
// ("1" and its address: nat-clients writes it), one that does not ("0").
// The rules test a prefix that does not hold a only for being a, so its
// address is left out: a host's address of the other family, or on
// another network, is its own as much as a is, and with it dual-stack
// hosts would be a class each.
//
// Two hosts whose prefixes write the same have the same verdict on every
// test the rules make of them, and the same text with a replaced.
func relativePrefixes(v any, a netip.Addr) ([]string, bool) {
	ps, ok := v.([]string)
	if !ok {
		return nil, false
	}
	out := make([]string, len(ps))
	for i, s := range ps {
		p, err := netip.ParsePrefix(s)
		// A prefix written otherwise than netip writes it, or of a
		// mapped address (which the rules' CIDR tests and the class
		// might see differently), leaves the host unclassed.
		if err != nil || p.String() != s || p.Addr().Is4In6() {
			return nil, false
		}
		var b strings.Builder
		switch {
		case p.Addr() == a:
			b.WriteString("1=")
		case p.Contains(a):
			b.WriteByte('1')
			b.WriteString(p.Addr().String())
		default:
			b.WriteByte('0')
		}
		b.WriteByte('@')
		b.WriteString(p.Masked().String())
		out[i] = b.String()
	}
	return out, true
}

// hostClassInput is #RealCheck's input for the first real server of a
// host class: its own, with its host's name replaced by hostSentinel.
func hostClassInput(real, fact, svc, cluster map[string]any) map[string]any {
	f := maps.Clone(fact)
	host := maps.Clone(fact["host"].(map[string]any))
	host["name"] = hostSentinel
	f["host"] = host
	in := realCheckInput(real, f, svc, cluster)
	// realCheckInput's entry is a copy of real's.
	in["real"].(map[string]any)["host"] = hostSentinel
	return in
}

// withHost returns v, kept for a host class, with hostSentinel replaced
// by name wherever it stands, paths too; v itself is not changed (it is
// shared).
func (v verdict) withHost(name string) verdict {
	return v.rewritten(v.subject, func(s string) string { return strings.ReplaceAll(s, hostSentinel, name) }, true)
}
