package health

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// queryTypes are the question types a dns check may ask.
var queryTypes = map[string]dnsmessage.Type{
	"A":     dnsmessage.TypeA,
	"AAAA":  dnsmessage.TypeAAAA,
	"CNAME": dnsmessage.TypeCNAME,
	"MX":    dnsmessage.TypeMX,
	"NS":    dnsmessage.TypeNS,
	"SOA":   dnsmessage.TypeSOA,
	"SRV":   dnsmessage.TypeSRV,
	"TXT":   dnsmessage.TypeTXT,
}

// queryType maps a Spec's QueryType to the wire type; empty is A, the
// schema's default.
func queryType(s string) (dnsmessage.Type, error) {
	if s == "" {
		return dnsmessage.TypeA, nil
	}
	t, ok := queryTypes[s]
	if !ok {
		return 0, fmt.Errorf("unknown query type %q", s)
	}
	return t, nil
}

// DNSProber asks the real server Spec.QueryType questions about
// Spec.Query over UDP. It passes on a success answer (RCODE NOERROR) with
// at least one answer record of that type and, when Spec.Answer is set,
// one that contains it: the same address for A and AAAA (compared as
// addresses, so "::1" matches "0:0::1"), the text for the other types.
//
// Recursion is asked for, as keepalived's DNS_CHECK does: a recursive
// resolver then answers from the real world, an authoritative server
// ignores the flag.
type DNSProber struct{}

// Probe sends one query and waits for its answer; answers with another ID
// (late answers to an earlier check) are skipped.
func (DNSProber) Probe(ctx context.Context, s *Spec) Result {
	qt, err := queryType(s.QueryType)
	if err != nil {
		return Result{Detail: err.Error()}
	}
	name := s.Query
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	qn, err := dnsmessage.NewName(name)
	if err != nil {
		return Result{Detail: clip("query: " + err.Error())}
	}
	id := uint16(rand.Uint32())
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: qn, Type: qt, Class: dnsmessage.ClassINET}},
	}
	pkt, err := q.Pack()
	if err != nil {
		return Result{Detail: clip("query: " + err.Error())}
	}
	c, r := sendUDP(ctx, s, pkt)
	if c == nil {
		return r
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return fail(ctx, s, err)
		}
		var m dnsmessage.Message
		if err := m.Unpack(buf[:n]); err != nil || !m.Header.Response || m.Header.ID != id {
			continue
		}
		return judgeDNS(&m, qt, s.Answer)
	}
}

// judgeDNS decides on an answer to a question of type qt.
func judgeDNS(m *dnsmessage.Message, qt dnsmessage.Type, want string) Result {
	if m.Header.RCode != dnsmessage.RCodeSuccess {
		return Result{Detail: "rcode " + strings.TrimPrefix(m.Header.RCode.String(), "RCode")}
	}
	wantAddr, addrErr := netip.ParseAddr(want)
	n := 0
	for _, a := range m.Answers {
		if a.Header.Type != qt {
			continue // a CNAME on the way to an A record, say
		}
		n++
		if want == "" {
			return Result{OK: true, Detail: strconv.Itoa(len(m.Answers)) + " " + plural(len(m.Answers), "answer")}
		}
		var text string
		switch r := a.Body.(type) {
		case *dnsmessage.AResource:
			if addrErr == nil && netip.AddrFrom4(r.A) == wantAddr.Unmap() {
				return Result{OK: true, Detail: want}
			}
			continue
		case *dnsmessage.AAAAResource:
			if addrErr == nil && netip.AddrFrom16(r.AAAA) == wantAddr {
				return Result{OK: true, Detail: want}
			}
			continue
		case *dnsmessage.CNAMEResource:
			text = r.CNAME.String()
		case *dnsmessage.MXResource:
			text = r.MX.String()
		case *dnsmessage.NSResource:
			text = r.NS.String()
		case *dnsmessage.SOAResource:
			text = r.NS.String() + " " + r.MBox.String()
		case *dnsmessage.SRVResource:
			text = r.Target.String() + " " + strconv.Itoa(int(r.Port))
		case *dnsmessage.TXTResource:
			text = strings.Join(r.TXT, "")
		}
		if strings.Contains(text, want) {
			return Result{OK: true, Detail: clip(text)}
		}
	}
	if n == 0 {
		return Result{Detail: "no " + strings.TrimPrefix(qt.String(), "Type") + " answer"}
	}
	return Result{Detail: clip("no answer contains " + want)}
}
