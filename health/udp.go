package health

import (
	"bytes"
	"context"
	"net"
)

// UDPProber sends Spec.Send to the address and reads one datagram: the
// check passes when it contains Spec.Receive, or on any answer when
// Receive is empty. The socket is connected, so an ICMP port unreachable
// comes back as ECONNREFUSED and fails the check at once instead of
// waiting out the timeout.
type UDPProber struct{}

// Probe runs one exchange.
func (UDPProber) Probe(ctx context.Context, s *Spec) Result {
	c, r := sendUDP(ctx, s, s.Send)
	if c == nil {
		return r
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil {
		return fail(ctx, s, err)
	}
	if !bytes.Contains(buf[:n], s.Receive) {
		return Result{Detail: "answer does not contain the expected bytes"}
	}
	return Result{OK: true, Detail: "answered"}
}

// sendUDP sends pkt to s.Addr from a connected UDP socket whose reads and
// writes end at the check's deadline, for the udp and dns probers. It
// returns the socket, which the caller closes, or nil and the failed
// Result.
func sendUDP(ctx context.Context, s *Spec, pkt []byte) (net.Conn, Result) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", s.Addr.String())
	if err != nil {
		return nil, fail(ctx, s, err)
	}
	if err := c.SetDeadline(deadline(ctx, s)); err != nil {
		c.Close()
		return nil, fail(ctx, s, err)
	}
	if _, err := c.Write(pkt); err != nil {
		c.Close()
		return nil, fail(ctx, s, err)
	}
	return c, Result{}
}
