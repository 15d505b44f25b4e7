package health

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// silentListener returns the address of a listening socket that never
// accepts and whose queue is full: the kernel drops further SYNs, so a
// connect to it stays in progress until the check's timeout.
func silentListener(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
	// Fill the accept queue (backlog 0 holds one) and then some.
	for range 3 {
		d := net.Dialer{Timeout: 100 * time.Millisecond}
		if c, err := d.Dial("tcp", a.String()); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return a
}

func TestTCPProberTimeout(t *testing.T) {
	s := base(TCP, silentListener(t))
	start := time.Now()
	if diff := cmp.Diff(Result{Detail: "timeout after 300ms"}, probe(TCPProber{}, s)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if took := time.Since(start); took < s.Timeout || took > s.Timeout+200*time.Millisecond {
		t.Errorf("took %s, want about the timeout %s", took, s.Timeout)
	}

	// Cancelled (the checker shutting down), it returns within a poll slice.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	s.Timeout = 5 * time.Second
	start = time.Now()
	TCPProber{}.Probe(ctx, &s)
	if took := time.Since(start); took > 50*time.Millisecond+2*pollSlice {
		t.Errorf("cancelled after 50ms, returned after %s", took)
	}
}

func TestTCPProberIPv6(t *testing.T) {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
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
	s := base(TCP, netip.MustParseAddrPort(l.Addr().String()))
	if diff := cmp.Diff(Result{OK: true, Detail: "connected"}, probe(TCPProber{}, s)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
