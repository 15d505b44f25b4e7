package health

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/dns/dnsmessage"
)

// probe runs p on s with the spec's timeout, as the Checker does, and
// returns the result without its duration.
func probe(p Prober, s Spec) Result {
	if err := s.Validate(); err != nil {
		return Result{Detail: "invalid spec: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	r := p.Probe(ctx, &s)
	r.Duration = 0
	return r
}

func base(t Type, a netip.AddrPort) Spec {
	return Spec{Type: t, Addr: a, Interval: time.Second, Timeout: 300 * time.Millisecond, Rise: 1, Fall: 1, Path: "/", Expect: []int{200}}
}

// closedPort returns a local TCP and UDP port nothing listens on.
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddrPort(l.Addr().String())
	l.Close()
	return a
}

func TestTCPProber(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	tests := []struct {
		name string
		addr netip.AddrPort
		want Result
	}{
		{"listening", netip.MustParseAddrPort(l.Addr().String()), Result{OK: true, Detail: "connected"}},
		{"closed", closedPort(t), Result{Detail: "connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, probe(TCPProber{}, base(TCP, tt.addr))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestHTTPProber(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if !r.Close {
			// Keep-alives off: the request says Connection: close.
			http.Error(w, "keep-alive", http.StatusTeapot)
			return
		}
		fmt.Fprint(w, "status: green\n")
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/host", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "www.example" {
			http.Error(w, "wrong host", http.StatusMisdirectedRequest)
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", maxBody)+"MARK")
	})
	plain := httptest.NewServer(mux)
	defer plain.Close()
	tlsSrv := httptest.NewUnstartedServer(mux)
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	plainAddr := netip.MustParseAddrPort(plain.Listener.Addr().String())
	tlsAddr := netip.MustParseAddrPort(tlsSrv.Listener.Addr().String())

	spec := func(typ Type, path string, f func(*Spec)) Spec {
		a := plainAddr
		if typ == HTTPS {
			a = tlsAddr
		}
		s := base(typ, a)
		s.Path = path
		if f != nil {
			f(&s)
		}
		return s
	}
	tests := []struct {
		name string
		spec Spec
		want Result
	}{
		{"200", spec(HTTP, "/ok", nil), Result{OK: true, Detail: "200"}},
		{"503", spec(HTTP, "/fail", nil), Result{Detail: "503"}},
		{"503 expected", spec(HTTP, "/fail", func(s *Spec) { s.Expect = []int{200, 503} }), Result{OK: true, Detail: "503"}},
		{"redirect not followed", spec(HTTP, "/redirect", nil), Result{Detail: "302"}},
		{"host header", spec(HTTP, "/host", func(s *Spec) { s.Host = "www.example" }), Result{OK: true, Detail: "200"}},
		{"wrong host header", spec(HTTP, "/host", nil), Result{Detail: "421"}},
		{"body matches", spec(HTTP, "/ok", func(s *Spec) { s.Body = `status: (green|yellow)` }), Result{OK: true, Detail: "200"}},
		{"body does not match", spec(HTTP, "/ok", func(s *Spec) { s.Body = `red` }), Result{Detail: "200, body does not match"}},
		{"body past 64 KiB unseen", spec(HTTP, "/big", func(s *Spec) { s.Body = `MARK` }), Result{Detail: "200, body does not match"}},
		{"timeout", spec(HTTP, "/slow", nil), Result{Detail: "timeout after 300ms"}},
		{"refused", func() Spec { s := base(HTTP, closedPort(t)); return s }(), Result{Detail: "connection refused"}},
		{"https unverified", spec(HTTPS, "/ok", nil), Result{OK: true, Detail: "200"}},
		{"https verified, unknown CA", spec(HTTPS, "/ok", func(s *Spec) { s.Verify, s.ServerName = true, "example.com" }),
			Result{Detail: "certificate: x509: certificate signed by unknown authority"}},
		{"https to a plain server", spec(HTTPS, "/ok", func(s *Spec) { s.Addr = plainAddr }),
			Result{Detail: "http: server gave HTTP response to HTTPS client"}},
	}
	p := NewHTTPProber()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, probe(p, tt.spec)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// udpServer answers each datagram with answer(datagram), or not at all
// when it returns nil.
func udpServer(t *testing.T, answer func([]byte) []byte) netip.AddrPort {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if a := answer(buf[:n]); a != nil {
				c.WriteTo(a, from)
			}
		}
	}()
	return netip.MustParseAddrPort(c.LocalAddr().String())
}

func TestUDPProber(t *testing.T) {
	echo := udpServer(t, func(b []byte) []byte { return append([]byte("you said: "), b...) })
	silent := udpServer(t, func([]byte) []byte { return nil })
	spec := func(a netip.AddrPort, send, receive string) Spec {
		s := base(UDP, a)
		s.Send, s.Receive = []byte(send), []byte(receive)
		return s
	}
	tests := []struct {
		name string
		spec Spec
		want Result
	}{
		{"expected answer", spec(echo, "ping", "said: ping"), Result{OK: true, Detail: "answered"}},
		{"any answer", spec(echo, "ping", ""), Result{OK: true, Detail: "answered"}},
		{"wrong answer", spec(echo, "ping", "pong"), Result{Detail: "answer does not contain the expected bytes"}},
		{"no answer", spec(silent, "ping", ""), Result{Detail: "timeout after 300ms"}},
		{"port unreachable", spec(closedPort(t), "ping", ""), Result{Detail: "connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			if diff := cmp.Diff(tt.want, probe(UDPProber{}, tt.spec)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if tt.name == "port unreachable" && time.Since(start) > 200*time.Millisecond {
				t.Errorf("port unreachable took %s: it should fail at once, not at the timeout", time.Since(start))
			}
		})
	}
}

// dnsServer is a tiny authoritative server for example.: a records for
// www, a CNAME for alias, TXT for txt; NXDOMAIN for anything else. A
// stale answer with the wrong ID goes first, as a late answer would.
func dnsServer(t *testing.T) netip.AddrPort {
	t.Helper()
	return udpServer(t, func(b []byte) []byte {
		var q dnsmessage.Message
		if err := q.Unpack(b); err != nil || len(q.Questions) != 1 {
			return nil
		}
		qq := q.Questions[0]
		r := dnsmessage.Message{
			Header:    dnsmessage.Header{ID: q.Header.ID, Response: true, Authoritative: true},
			Questions: q.Questions,
		}
		h := dnsmessage.ResourceHeader{Name: qq.Name, Type: qq.Type, Class: dnsmessage.ClassINET, TTL: 60}
		switch {
		case qq.Name.String() == "www.example." && qq.Type == dnsmessage.TypeA:
			r.Answers = []dnsmessage.Resource{
				{Header: h, Body: &dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}}},
				{Header: h, Body: &dnsmessage.AResource{A: [4]byte{192, 0, 2, 2}}},
			}
		case qq.Name.String() == "www.example." && qq.Type == dnsmessage.TypeAAAA:
			r.Answers = []dnsmessage.Resource{{Header: h, Body: &dnsmessage.AAAAResource{AAAA: netip.MustParseAddr("2001:db8::1").As16()}}}
		case qq.Name.String() == "alias.example.":
			h.Type = dnsmessage.TypeCNAME
			r.Answers = []dnsmessage.Resource{{Header: h, Body: &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName("www.example.")}}}
		case qq.Name.String() == "txt.example." && qq.Type == dnsmessage.TypeTXT:
			r.Answers = []dnsmessage.Resource{{Header: h, Body: &dnsmessage.TXTResource{TXT: []string{"v=ok ", "ready"}}}}
		case strings.HasSuffix(qq.Name.String(), "example."):
			// the name exists with no record of this type: NOERROR, no answer
		default:
			r.Header.RCode = dnsmessage.RCodeNameError
		}
		out, err := r.Pack()
		if err != nil {
			t.Errorf("packing the answer: %v", err)
			return nil
		}
		return out
	})
}

func TestDNSProber(t *testing.T) {
	srv := dnsServer(t)
	spec := func(query, qtype, answer string) Spec {
		s := base(DNS, srv)
		s.Query, s.QueryType, s.Answer = query, qtype, answer
		return s
	}
	tests := []struct {
		name string
		spec Spec
		want Result
	}{
		{"A, any answer", spec("www.example", "A", ""), Result{OK: true, Detail: "2 answers"}},
		{"A, default type", spec("www.example.", "", ""), Result{OK: true, Detail: "2 answers"}},
		{"A, expected address", spec("www.example", "A", "192.0.2.2"), Result{OK: true, Detail: "192.0.2.2"}},
		{"A, other address", spec("www.example", "A", "192.0.2.9"), Result{Detail: "no answer contains 192.0.2.9"}},
		{"AAAA, address in another spelling", spec("www.example", "AAAA", "2001:db8:0::1"), Result{OK: true, Detail: "2001:db8:0::1"}},
		{"CNAME", spec("alias.example", "CNAME", "www.example"), Result{OK: true, Detail: "www.example."}},
		{"TXT", spec("txt.example", "TXT", "ok ready"), Result{OK: true, Detail: "v=ok ready"}},
		{"no record of the type", spec("www.example", "MX", ""), Result{Detail: "no MX answer"}},
		{"nxdomain", spec("nothing.invalid", "A", ""), Result{Detail: "rcode NameError"}},
		{"port unreachable", func() Spec { s := spec("www.example", "A", ""); s.Addr = closedPort(t); return s }(), Result{Detail: "connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, probe(DNSProber{}, tt.spec)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDNSProberSkipsOtherIDs(t *testing.T) {
	// A server that first sends an answer to some other query, then the
	// real one: the prober waits for its own.
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		buf := make([]byte, 512)
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		var q dnsmessage.Message
		if q.Unpack(buf[:n]) != nil {
			return
		}
		for _, id := range []uint16{q.Header.ID + 1, q.Header.ID} {
			r := dnsmessage.Message{Header: dnsmessage.Header{ID: id, Response: true}, Questions: q.Questions}
			if id != q.Header.ID {
				r.Header.RCode = dnsmessage.RCodeServerFailure
			}
			h := dnsmessage.ResourceHeader{Name: q.Questions[0].Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
			r.Answers = []dnsmessage.Resource{{Header: h, Body: &dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}}}}
			out, _ := r.Pack()
			c.WriteTo(out, from)
		}
	}()
	s := base(DNS, netip.MustParseAddrPort(c.LocalAddr().String()))
	s.Query = "www.example"
	if diff := cmp.Diff(Result{OK: true, Detail: "1 answer"}, probe(DNSProber{}, s)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
