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
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", s.Addr.String())
	if err != nil {
		return fail(ctx, s, err)
	}
	defer c.Close()
	if err := c.SetDeadline(deadline(ctx, s)); err != nil {
		return fail(ctx, s, err)
	}
	if _, err := c.Write(s.Send); err != nil {
		return fail(ctx, s, err)
	}
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
