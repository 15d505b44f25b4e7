//go:build linux

package topo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// RequestTimeout bounds each request HTTPGet and UDPRequest make.
const RequestTimeout = 5 * time.Second

// ServeHTTP starts an HTTP server on port (all addresses, IPv4 and IPv6) in
// the node's namespace. Every request is answered with the node's name as
// the body. It stops when the topology closes.
func (n *Node) ServeHTTP(port int) {
	n.topo.t.Helper()
	n.StartHTTP(port)
}

// HTTPServer is an HTTP server that a test stops and starts again: a real
// server whose service goes down and comes back while its host stays up.
type HTTPServer struct {
	node *Node
	port int
	mu   sync.Mutex
	srv  *http.Server
	done chan struct{}
}

// StartHTTP starts an HTTP server as ServeHTTP does and returns it, to stop
// and start again. It stops when the topology closes.
func (n *Node) StartHTTP(port int) *HTTPServer {
	n.topo.t.Helper()
	s := &HTTPServer{node: n, port: port}
	s.Start()
	n.topo.onClose(s.Stop)
	return s
}

// Start listens again on the server's port; a running server is left as
// it is.
func (s *HTTPServer) Start() {
	n := s.node
	n.topo.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return
	}
	var ln net.Listener
	err := n.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", ":"+strconv.Itoa(s.port))
		return err
	})
	if err != nil {
		n.topo.fatalf("%s: listen tcp :%d: %v", n.Name, s.port, err)
	}
	name := n.Name
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			// The source the server saw: a FULLNAT test checks it is
			// the director's, not the client's.
			w.Header().Set("X-Remote-Addr", r.RemoteAddr)
			_, _ = io.WriteString(w, name)
		}),
		ReadHeaderTimeout: RequestTimeout,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	s.srv, s.done = srv, done
}

// Stop closes the listener and every open connection: from then on a
// connection to the port is refused. A stopped server is left as it is.
func (s *HTTPServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	_ = s.srv.Close()
	<-s.done
	s.srv, s.done = nil, nil
}

// ServeUDP starts a UDP responder on port in the node's namespace (one
// socket for IPv4, one for IPv6). Every datagram is answered with the
// node's name, sent from the address the datagram was sent to, so a real
// server answers from the VIP in DR and TUN modes. It stops when the
// topology closes.
func (n *Node) ServeUDP(port int) {
	n.topo.t.Helper()
	for _, network := range []string{"udp4", "udp6"} {
		var c *net.UDPConn
		err := n.Do(func() error {
			var err error
			c, err = net.ListenUDP(network, &net.UDPAddr{Port: port})
			if err != nil {
				return err
			}
			return setPktinfo(c, network == "udp6")
		})
		if err != nil {
			if c != nil {
				c.Close()
			}
			n.topo.fatalf("%s: listen %s :%d: %v", n.Name, network, port, err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			udpRespond(c, []byte(n.Name))
		}()
		n.topo.onClose(func() {
			c.Close()
			wg.Wait()
		})
	}
}

func setPktinfo(c *net.UDPConn, v6 bool) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("pktinfo: %w", err)
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("pktinfo: %w", err)
	}
	return nil
}

// udpRespond answers each datagram with reply, from the datagram's
// destination address, until c is closed.
func udpRespond(c *net.UDPConn, reply []byte) {
	buf := make([]byte, 2048)
	oob := make([]byte, 512)
	for {
		_, oobn, _, from, err := c.ReadMsgUDP(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		var out []byte
		if dst, ok := pktinfoDst(oob[:oobn]); ok {
			if dst.Is4() {
				out = unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: dst.As4()})
			} else {
				out = unix.PktInfo6(&unix.Inet6Pktinfo{Addr: dst.As16()})
			}
		}
		_, _, _ = c.WriteMsgUDP(reply, out, from)
	}
}

// pktinfoDst returns the destination address from IP_PKTINFO or
// IPV6_PKTINFO control data.
func pktinfoDst(oob []byte) (netip.Addr, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return netip.Addr{}, false
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= 12:
			// struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
			return netip.AddrFrom4([4]byte(m.Data[8:12])), true
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_PKTINFO && len(m.Data) >= 16:
			// struct in6_pktinfo { in6_addr addr; int ifindex; }
			return netip.AddrFrom16([16]byte(m.Data[0:16])), true
		}
	}
	return netip.Addr{}, false
}

// DialContext dials from the node's namespace; it fits http.Transport.
func (n *Node) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// HTTPClient returns an HTTP client that connects from the node's namespace
// and opens a new connection for every request (so each request is a new
// IPVS connection, scheduled afresh).
func (n *Node) HTTPClient() *http.Client {
	return &http.Client{
		Timeout: RequestTimeout,
		Transport: &http.Transport{
			DialContext:       n.DialContext,
			DisableKeepAlives: true,
			Proxy:             nil,
		},
	}
}

// HTTPGet makes one GET request to http://target/ (target is host:port)
// from the node and returns the body: the answering server's name.
func (n *Node) HTTPGet(target string) (string, error) {
	c := n.HTTPClient()
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://" + target + "/")
	if err != nil {
		return "", fmt.Errorf("%s: GET %s: %w", n.Name, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("%s: GET %s: %w", n.Name, target, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: GET %s: status %s", n.Name, target, resp.Status)
	}
	return string(body), nil
}

// HTTPRequests makes count sequential requests to target from the node and
// returns the answering server of each; the test fails on any error.
func (n *Node) HTTPRequests(target string, count int) []string {
	n.topo.t.Helper()
	names := make([]string, 0, count)
	for i := 0; i < count; i++ {
		name, err := n.HTTPGet(target)
		if err != nil {
			n.topo.fatalf("request %d of %d: %v (answers so far: %v)", i+1, count, err, names)
		}
		names = append(names, name)
	}
	return names
}

// UDPRequest sends one datagram to target (host:port) from a new socket
// (a new source port, so a new IPVS connection) and returns the answer: the
// answering server's name.
func (n *Node) UDPRequest(target string) (string, error) {
	name, c, err := n.udpRequest(target)
	if c != nil {
		c.Close()
	}
	return name, err
}

// udpRequest is UDPRequest leaving the socket open, so that its source port
// is not handed out again while the caller holds it.
func (n *Node) udpRequest(target string) (string, net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), RequestTimeout)
	defer cancel()
	c, err := n.DialContext(ctx, "udp", target)
	if err != nil {
		return "", nil, fmt.Errorf("%s: udp %s: %w", n.Name, target, err)
	}
	if err := c.SetDeadline(time.Now().Add(RequestTimeout)); err != nil {
		return "", c, fmt.Errorf("%s: udp %s: %w", n.Name, target, err)
	}
	if _, err := c.Write([]byte("who")); err != nil {
		return "", c, fmt.Errorf("%s: udp %s: %w", n.Name, target, err)
	}
	buf := make([]byte, 2048)
	k, err := c.Read(buf)
	if err != nil {
		return "", c, fmt.Errorf("%s: udp %s: %w", n.Name, target, err)
	}
	return string(buf[:k]), c, nil
}

// UDPRequests makes count sequential UDP requests to target from the node
// and returns the answering server of each; the test fails on any error.
// All sockets stay open until the last answer, so every request has its
// own source port and is a new IPVS connection (a reused port would match
// the previous request's connection entry and its real server).
func (n *Node) UDPRequests(target string, count int) []string {
	n.topo.t.Helper()
	names := make([]string, 0, count)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < count; i++ {
		name, c, err := n.udpRequest(target)
		if c != nil {
			conns = append(conns, c)
		}
		if err != nil {
			n.topo.fatalf("udp request %d of %d: %v (answers so far: %v)", i+1, count, err, names)
		}
		names = append(names, name)
	}
	return names
}

// Count tallies answers by server name.
func Count(names []string) map[string]int {
	m := map[string]int{}
	for _, s := range names {
		m[s]++
	}
	return m
}

// FormatCount renders a tally in name order, e.g. "rs1=10 rs2=10".
func FormatCount(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// CheckSplit fails the test unless the answers (names, one a request) tally
// exactly to want; otherwise it logs the tally. what names the check.
func CheckSplit(t testing.TB, what string, names []string, want map[string]int) {
	t.Helper()
	got := Count(names)
	if FormatCount(got) != FormatCount(want) {
		t.Errorf("%s: answers %s, want %s (sequence %v)", what, FormatCount(got), FormatCount(want), names)
	} else {
		t.Logf("%s: %s", what, FormatCount(got))
	}
}
