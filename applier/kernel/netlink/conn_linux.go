//go:build linux

package netlink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	// recvBufSize holds the largest datagram the kernel sends a reader
	// with a large enough buffer (netlink dumps fill at most 32 KiB).
	recvBufSize = 64 << 10
	// sockRcvBuf is the socket receive buffer asked for: room for the
	// acks of a pipelined batch.
	sockRcvBuf = 4 << 20
	// maxBatchBytes and maxBatchMsgs bound the requests sent in one
	// sendmsg; the kernel answers them all before sendmsg returns, so
	// their acks must fit the socket's receive buffer even where it
	// could not be raised (208 KiB by default).
	maxBatchBytes = 32 << 10
	maxBatchMsgs  = 64

	// nlmsgerr attribute carrying the kernel's error message (extended
	// acks), and the ack flags (linux/netlink.h).
	nlmsgerrAttrMsg = 1
	nlmFCapped      = 0x100
	nlmFAckTLVs     = 0x200
)

// errDumpInterrupted reports a dump during which the table changed; the
// caller dumps again.
var errDumpInterrupted = errors.New("netlink dump interrupted by a concurrent change")

// request is one netlink message to send: its type, its flags besides
// NLM_F_REQUEST, and its payload after the header.
type request struct {
	typ   uint16
	flags uint16
	data  []byte
}

// conn is one netlink socket, opened in a network namespace and kept open,
// with its own sequence numbers. Every answer is matched to its request by
// sequence number, so answers to a request given up on (timed out) are
// recognised and dropped, and several requests can be in flight at once
// (roundTrip sends a batch in one sendmsg and collects the acks).
type conn struct {
	proto   int
	ns      netns.NsHandle
	timeout time.Duration

	mu     sync.Mutex
	f      *os.File
	raw    syscall.RawConn
	seq    uint32
	broken bool // a call gave up mid-answer: reopen before the next
	buf    []byte
}

func dial(ns netns.NsHandle, proto int, timeout time.Duration) (*conn, error) {
	c := &conn{proto: proto, ns: ns, timeout: timeout, buf: make([]byte, recvBufSize)}
	if err := c.open(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *conn) open() error {
	var fd int
	err := inNetNS(c.ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, c.proto)
		return err
	})
	if err != nil {
		return fmt.Errorf("opening netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("binding netlink socket: %w", err)
	}
	// Acks carry only the request's header; errors carry the kernel's
	// message when it has one. Both are optional refinements.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, sockRcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, sockRcvBuf)
	}
	// A non-blocking descriptor makes a pollable file: its deadlines
	// bound every send and receive.
	f := os.NewFile(uintptr(fd), "netlink")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return fmt.Errorf("netlink socket: %w", err)
	}
	c.f, c.raw, c.broken = f, raw, false
	return nil
}

func (c *conn) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	return err
}

// roundTrip sends reqs and waits until each has ended: with its ack or
// error, or, for a dump, with NLMSG_DONE. Every other message answering
// reqs[i] goes to onMsg(i, payload); the payload is valid only during the
// call. A dump must be alone in reqs (the kernel runs one dump at a time
// per socket). roundTrip returns one error per request (nil: acked) and,
// separately, an error that failed the exchange as a whole (timeout,
// socket error).
func (c *conn) roundTrip(ctx context.Context, reqs []request, onMsg func(i int, data []byte) error) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return nil, errors.New("netlink socket closed")
	}
	if c.broken {
		c.f.Close()
		if err := c.open(); err != nil {
			c.f = nil
			return nil, err
		}
	}

	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.timeout)
	}
	if err := c.f.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	// Cancelling the context cuts the wait short through the deadline.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		_ = c.f.SetDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-fired
		}
	}()

	errs := make([]error, len(reqs))
	for start := 0; start < len(reqs); {
		end, size := start, 0
		for end < len(reqs) && (end == start || (end-start < maxBatchMsgs && size+nlmsgLen(reqs[end]) <= maxBatchBytes)) {
			size += nlmsgLen(reqs[end])
			end++
		}
		if err := c.exchange(reqs[start:end], errs[start:end], func(i int, data []byte) error {
			if onMsg == nil {
				return nil
			}
			return onMsg(start+i, data)
		}); err != nil {
			c.broken = true
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if cerr := ctx.Err(); cerr != nil {
					return nil, fmt.Errorf("waiting for the kernel: %w", cerr)
				}
				return nil, fmt.Errorf("no answer from the kernel by the deadline: %w", context.DeadlineExceeded)
			}
			return nil, err
		}
		start = end
	}
	return errs, nil
}

func nlmsgLen(r request) int { return nlmAlign(unix.SizeofNlMsghdr + len(r.data)) }

func nlmAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// exchange sends reqs in one sendmsg and reads until all have ended.
func (c *conn) exchange(reqs []request, errs []error, onMsg func(i int, data []byte) error) error {
	size := 0
	for _, r := range reqs {
		size += nlmsgLen(r)
	}
	b := make([]byte, size)
	first := c.seq + 1
	off := 0
	for _, r := range reqs {
		c.seq++
		n := unix.SizeofNlMsghdr + len(r.data)
		native.PutUint32(b[off:], uint32(n))
		native.PutUint16(b[off+4:], r.typ)
		native.PutUint16(b[off+6:], unix.NLM_F_REQUEST|r.flags)
		native.PutUint32(b[off+8:], c.seq)
		copy(b[off+unix.SizeofNlMsghdr:], r.data)
		off += nlmAlign(n)
	}
	var serr error
	if err := c.raw.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return serr != unix.EAGAIN
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("sending to the kernel: %w", serr)
	}

	done := make([]bool, len(reqs))
	pending := len(reqs)
	for pending > 0 {
		var (
			n, flags int
			from     unix.Sockaddr
			rerr     error
		)
		if err := c.raw.Read(func(fd uintptr) bool {
			n, _, flags, from, rerr = unix.Recvmsg(int(fd), c.buf, nil, 0)
			return rerr != unix.EAGAIN
		}); err != nil {
			return err
		}
		if rerr != nil {
			return fmt.Errorf("receiving from the kernel: %w", rerr)
		}
		if flags&unix.MSG_TRUNC != 0 {
			return errors.New("receiving from the kernel: message truncated")
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // not from the kernel
		}
		msgs, err := syscall.ParseNetlinkMessage(c.buf[:n])
		if err != nil {
			return fmt.Errorf("parsing the kernel's answer: %w", err)
		}
		for _, m := range msgs {
			i := int(m.Header.Seq - first)
			if m.Header.Seq-first >= uint32(len(reqs)) || done[i] {
				continue // an answer to an earlier, abandoned request
			}
			switch m.Header.Type {
			case unix.NLMSG_NOOP:
			case unix.NLMSG_ERROR, unix.NLMSG_DONE:
				if e := ackError(m); e != nil && errs[i] == nil {
					errs[i] = e
				}
				done[i] = true
				pending--
			default:
				if m.Header.Flags&unix.NLM_F_DUMP_INTR != 0 && errs[i] == nil {
					errs[i] = errDumpInterrupted
				}
				if err := onMsg(i, m.Data); err != nil && errs[i] == nil {
					errs[i] = err
				}
			}
		}
	}
	return nil
}

// ackError returns the errno of an NLMSG_ERROR or NLMSG_DONE message (nil
// for an ack), with the kernel's extended-ack message when it sent one.
func ackError(m syscall.NetlinkMessage) error {
	if len(m.Data) < 4 {
		return nil
	}
	code := int32(native.Uint32(m.Data))
	if code == 0 {
		return nil
	}
	errno := syscall.Errno(-code)
	if m.Header.Type != unix.NLMSG_ERROR || m.Header.Flags&nlmFAckTLVs == 0 {
		return errno
	}
	rest := m.Data[4:]
	if len(rest) < unix.SizeofNlMsghdr {
		return errno
	}
	echoed := unix.SizeofNlMsghdr
	if m.Header.Flags&nlmFCapped == 0 {
		echoed = nlmAlign(int(native.Uint32(rest)))
	}
	if echoed > len(rest) {
		return errno
	}
	attrs, err := nl.ParseRouteAttr(rest[echoed:])
	if err != nil {
		return errno
	}
	for _, a := range attrs {
		if a.Attr.Type&nl.NLA_TYPE_MASK == nlmsgerrAttrMsg {
			if msg := unix.ByteSliceToString(a.Value); msg != "" {
				return fmt.Errorf("%w (%s)", errno, msg)
			}
		}
	}
	return errno
}

// do sends one request with NLM_F_ACK and returns its error; answers
// before the ack go to onMsg (nil: ignored).
func (c *conn) do(ctx context.Context, r request, onMsg func(data []byte) error) error {
	r.flags |= unix.NLM_F_ACK
	errs, err := c.roundTrip(ctx, []request{r}, func(_ int, data []byte) error {
		if onMsg == nil {
			return nil
		}
		return onMsg(data)
	})
	if err != nil {
		return err
	}
	return errs[0]
}

// dump runs one dump request and passes every answer to onMsg. An
// interrupted dump is run again, a few times.
func (c *conn) dump(ctx context.Context, r request, onMsg func(data []byte) error) error {
	r.flags |= unix.NLM_F_DUMP
	for try := 0; ; try++ {
		errs, err := c.roundTrip(ctx, []request{r}, func(_ int, data []byte) error { return onMsg(data) })
		if err != nil {
			return err
		}
		if errors.Is(errs[0], errDumpInterrupted) && try < 5 {
			continue
		}
		return errs[0]
	}
}

// Generic netlink controller (linux/genetlink.h).
const (
	genlIDCtrl         = 0x10
	ctrlCmdGetFamily   = 3
	ctrlVersion        = 2
	ctrlAttrFamilyID   = 1
	ctrlAttrFamilyName = 2
	genlHdrLen         = 4
)

// genlMessage is a generic netlink payload: the genl header and attrs.
func genlMessage(cmd, version uint8, attrs ...*nl.RtAttr) []byte {
	b := (&nl.Genlmsg{Command: cmd, Version: version}).Serialize()
	for _, a := range attrs {
		b = append(b, a.Serialize()...)
	}
	return b
}

// genlFamily resolves a generic netlink family name to its id (ENOENT
// when the kernel has no such family: its module is not loaded).
func (c *conn) genlFamily(ctx context.Context, name string) (uint16, error) {
	var id uint16
	err := c.do(ctx, request{typ: genlIDCtrl, data: genlMessage(ctrlCmdGetFamily, ctrlVersion,
		nl.NewRtAttr(ctrlAttrFamilyName, nl.ZeroTerminated(name)))}, func(data []byte) error {
		if len(data) < genlHdrLen {
			return errors.New("short generic netlink message")
		}
		attrs, err := nl.ParseRouteAttr(data[genlHdrLen:])
		if err != nil {
			return err
		}
		for _, a := range attrs {
			if a.Attr.Type&nl.NLA_TYPE_MASK == ctrlAttrFamilyID && len(a.Value) >= 2 {
				id = native.Uint16(a.Value)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if id == 0 {
		return 0, fmt.Errorf("generic netlink family %s: no id in the kernel's answer", name)
	}
	return id, nil
}
