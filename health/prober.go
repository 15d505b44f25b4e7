package health

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// Prober runs one check of one kind. Probe must return by the context's
// deadline (the Checker sets it to Spec.Timeout) and must not keep
// anything open afterwards: a check is one short exchange.
type Prober interface {
	Probe(ctx context.Context, s *Spec) Result
}

// DefaultProbers returns the real probers, one per Type.
func DefaultProbers() map[Type]Prober {
	return map[Type]Prober{
		TCP:   TCPProber{},
		HTTP:  NewHTTPProber(),
		HTTPS: NewHTTPProber(),
		UDP:   UDPProber{},
		DNS:   DNSProber{},
		Exec:  ExecProber{},
	}
}

// maxDetail bounds a Result's Detail: it is logged, exported in the status
// and written to the snapshot file.
const maxDetail = 200

// fail returns a failed Result whose detail describes err shortly: the
// errno's words for the usual network failures, "timeout after 3s" when
// the check's deadline passed.
func fail(ctx context.Context, s *Spec, err error) Result {
	return Result{Detail: describe(ctx, s, err)}
}

func describe(ctx context.Context, s *Spec, err error) string {
	// net/http's "Get URL: " prefix says nothing the target does not.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var (
		errno syscall.Errno
		unk   x509.UnknownAuthorityError
		host  x509.HostnameError
		inv   x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "timeout after " + s.Timeout.String()
	case errors.As(err, &errno):
		switch errno {
		case syscall.ECONNREFUSED:
			return "connection refused"
		case syscall.ECONNRESET:
			return "connection reset"
		case syscall.EHOSTUNREACH:
			return "host unreachable"
		case syscall.ENETUNREACH:
			return "network unreachable"
		}
		return errno.Error()
	case errors.As(err, &unk):
		return clip("certificate: " + unk.Error())
	case errors.As(err, &host):
		return clip("certificate: " + host.Error())
	case errors.As(err, &inv):
		return clip("certificate: " + inv.Error())
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return clip(op.Err.Error())
	}
	return clip(err.Error())
}

// clip shortens s to maxDetail bytes and one line.
func clip(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > maxDetail {
		s = s[:maxDetail] + "…"
	}
	return s
}

// TCPProber passes when a TCP connection to the address is established,
// and closes it at once. The close resets the connection (SO_LINGER 0)
// instead of the FIN handshake, as HAProxy's checks do: a graceful close
// leaves the director's side in TIME_WAIT for a minute, and 10,000 checks a
// second would hold 600,000 of them.
type TCPProber struct{}

// deadline returns the context's deadline, or the spec's timeout from now
// for a context without one (a caller probing directly).
func deadline(ctx context.Context, s *Spec) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(s.Timeout)
}
