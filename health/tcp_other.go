//go:build !linux

package health

import (
	"context"
	"net"
)

// Probe connects through the net package.
func (TCPProber) Probe(ctx context.Context, s *Spec) Result {
	d := net.Dialer{KeepAlive: -1} // a connection closed at once needs no keep-alive options
	c, err := d.DialContext(ctx, "tcp", s.Addr.String())
	if err != nil {
		return fail(ctx, s, err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
	return Result{OK: true, Detail: "connected"}
}
