package health

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// pollSlice bounds one wait for a connect, so that a cancelled context
// (shutdown) is noticed within it.
const pollSlice = 100 * time.Millisecond

// Probe connects with a raw non-blocking socket and poll(2), not the net
// package: a check is socket, connect, close, and the net package's poller
// (registering each socket with epoll, parking and waking a goroutine)
// doubled the CPU of each check — 75 µs against 32 µs on loopback, the
// difference between 0.75 and 0.35 of a core at 10,000 checks a second.
// The price: a check waiting for a slow server blocks its worker's thread
// in poll, so the threads, like the goroutines, are bounded by the
// workers, not by the targets.
func (TCPProber) Probe(ctx context.Context, s *Spec) Result {
	fd, sa, err := tcpSocket(s.Addr)
	if err != nil {
		return Result{Detail: clip(err.Error())}
	}
	defer unix.Close(fd)
	switch err := unix.Connect(fd, sa); err {
	case nil: // on loopback the handshake is often done inside connect
	case unix.EINPROGRESS:
		if err := waitConnected(ctx, s, fd); err != nil {
			return fail(ctx, s, err)
		}
	default:
		return fail(ctx, s, err)
	}
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	return Result{OK: true, Detail: "connected"}
}

// tcpSocket returns a non-blocking TCP socket for a and a's sockaddr.
func tcpSocket(a netip.AddrPort) (int, unix.Sockaddr, error) {
	family := unix.AF_INET
	var sa unix.Sockaddr
	if ip := a.Addr().Unmap(); ip.Is4() {
		sa = &unix.SockaddrInet4{Port: int(a.Port()), Addr: ip.As4()}
	} else {
		family = unix.AF_INET6
		s6 := &unix.SockaddrInet6{Port: int(a.Port()), Addr: ip.As16()}
		if z := ip.Zone(); z != "" {
			ifi, err := net.InterfaceByName(z)
			if err != nil {
				return -1, nil, fmt.Errorf("zone of %s: %w", a, err)
			}
			s6.ZoneId = uint32(ifi.Index)
		}
		sa = s6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("socket: %w", err)
	}
	return fd, sa, nil
}

// waitConnected waits until the connect in progress on fd finishes, the
// check's deadline passes or ctx is cancelled.
func waitConnected(ctx context.Context, s *Spec, fd int) error {
	dl := deadline(ctx, s)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		wait := time.Until(dl)
		if wait <= 0 {
			return context.DeadlineExceeded
		}
		wait = min(wait, pollSlice)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, int((wait+time.Millisecond-1)/time.Millisecond))
		if err == unix.EINTR || n == 0 {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return fmt.Errorf("getsockopt: %w", err)
		}
		if soerr != 0 {
			return unix.Errno(soerr)
		}
		return nil
	}
}
