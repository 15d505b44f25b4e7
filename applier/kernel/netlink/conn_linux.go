//go:build linux

package netlink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

const (
	// recvBufSize holds the largest datagram the kernel sends a reader
	// with a large enough buffer (netlink dumps fill at most 32 KiB).
	recvBufSize = 64 << 10
	// recvBatch is how many datagrams one recvmmsg takes: a dump's data
	// and its NLMSG_DONE come as two datagrams, and reading both in one
	// system call saves one of the three each dump of a service's
	// destinations costs.
	recvBatch = 8
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

// mmsghdr is struct mmsghdr of recvmmsg(2), which x/sys/unix lacks.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
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
	// Buffers reused by every exchange, so that reading a large table
	// allocates per object read, not per message: the requests sent,
	// the datagrams received (recvmmsg headers, their iovecs, sender
	// addresses), and which requests have ended.
	out   []byte
	bufs  [recvBatch][]byte
	iovs  [recvBatch]unix.Iovec
	names [recvBatch]unix.RawSockaddrNetlink
	msgs  [recvBatch]mmsghdr
	done  []bool
}

func dial(ns netns.NsHandle, proto int, timeout time.Duration) (*conn, error) {
	c := &conn{proto: proto, ns: ns, timeout: timeout}
	for i := range c.bufs {
		c.bufs[i] = make([]byte, recvBufSize)
	}
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

// session is a conn held for a sequence of exchanges under one context:
// one lock, one cancellation hook, and a deadline armed once — the
// context's, or, without one, the conn's timeout, renewed as exchanges go
// so that it bounds each of them rather than the whole sequence. Reading
// the destinations of 10,000 services is 10,000 exchanges: paying for the
// lock, the hook and a deadline timer each time would be a good part of
// their cost.
type session struct {
	c        *conn
	ctx      context.Context
	renew    bool      // no context deadline: renew the conn's timeout
	armed    time.Time // when the renewed deadline was last set
	mu       sync.Mutex
	canceled bool // the context is done: the deadline stays in the past
}

// session runs f with c held; it fails at once on a done context.
func (c *conn) session(ctx context.Context, f func(s *session) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return errors.New("netlink socket closed")
	}
	if c.broken {
		c.f.Close()
		if err := c.open(); err != nil {
			c.f = nil
			return err
		}
	}
	s := &session{c: c, ctx: ctx}
	deadline, ok := ctx.Deadline()
	if !ok {
		s.renew, s.armed = true, time.Now()
		deadline = s.armed.Add(c.timeout)
	}
	if err := c.f.SetDeadline(deadline); err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	// Cancelling the context cuts the wait short through the deadline.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.canceled = true
		_ = c.f.SetDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-fired
		}
	}()
	return f(s)
}

// exchange sends reqs in one sendmsg and reads until each has ended (see
// conn.exchange), and fills errs with their outcomes. A failure of the
// exchange as a whole breaks the socket (it may be mid-answer) and is
// returned; errs then says what is known of each request.
func (s *session) exchange(reqs []request, errs []error, ackLast bool, onMsg func(i int, data []byte) error) error {
	if s.renew {
		// Renewing costs a timer update: do it when a quarter of the
		// timeout has gone, which bounds each exchange by at least
		// three quarters of it.
		if now := time.Now(); now.Sub(s.armed) > s.c.timeout/4 {
			s.mu.Lock()
			if !s.canceled {
				s.armed = now
				_ = s.c.f.SetDeadline(now.Add(s.c.timeout))
			}
			s.mu.Unlock()
		}
	}
	err := s.c.exchange(reqs, errs, ackLast, onMsg)
	if err == nil {
		return nil
	}
	s.c.broken = true
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if cerr := s.ctx.Err(); cerr != nil {
			return fmt.Errorf("waiting for the kernel: %w", cerr)
		}
		return fmt.Errorf("no answer from the kernel by the deadline: %w", context.DeadlineExceeded)
	}
	return err
}

// roundTrip sends reqs and waits until each has ended: with its ack or
// error, or, for a dump, with NLMSG_DONE. Every other message answering
// reqs[i] goes to onMsg(i, payload); the payload is valid only during the
// call. A dump must be alone in reqs (the kernel runs one dump at a time
// per socket). roundTrip returns one error per request (nil: acked) and,
// separately, an error that failed the exchange as a whole (timeout,
// socket error); then a request whose answer did not come has an error
// wrapping kernel.ErrNoAnswer, and one not sent kernel.ErrNotSent.
func (c *conn) roundTrip(ctx context.Context, reqs []request, onMsg func(i int, data []byte) error) ([]error, error) {
	return c.pipeline(ctx, reqs, false, onMsg)
}

// writeBatch is roundTrip for requests that answer nothing but an ack or
// an error (doit writes): only the last request of each sendmsg asks for
// an ack. The kernel runs the requests of a sendmsg in order and queues
// their errors in order, so the ack of the last one means every request
// before it without an error succeeded — one datagram to read for a whole
// batch instead of one per request.
func (c *conn) writeBatch(ctx context.Context, reqs []request) ([]error, error) {
	return c.pipeline(ctx, reqs, true, nil)
}

func (c *conn) pipeline(ctx context.Context, reqs []request, ackLast bool, onMsg func(i int, data []byte) error) ([]error, error) {
	errs := make([]error, len(reqs))
	sent := 0
	err := c.session(ctx, func(s *session) error {
		for sent < len(reqs) {
			start, end, size := sent, sent, 0
			for end < len(reqs) && (end == start || (end-start < maxBatchMsgs && size+nlmsgLen(reqs[end]) <= maxBatchBytes)) {
				size += nlmsgLen(reqs[end])
				end++
			}
			sent = end
			if err := s.exchange(reqs[start:end], errs[start:end], ackLast, func(i int, data []byte) error {
				if onMsg == nil {
					return nil
				}
				return onMsg(start+i, data)
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for i := sent; i < len(reqs); i++ {
			errs[i] = kernel.ErrNotSent
		}
		if sent == 0 {
			// The session never started (done context, socket closed).
			for i := range errs {
				errs[i] = kernel.ErrNotSent
			}
		}
		return errs, err
	}
	return errs, nil
}

func nlmsgLen(r request) int { return nlmAlign(unix.SizeofNlMsghdr + len(r.data)) }

func nlmAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// exchange sends reqs in one sendmsg and reads until all have ended. With
// ackLast, only the last request asks for an ack, and its ack ends them
// all (see writeBatch). When reading fails, errs tells what is known: a
// request that was answered keeps its answer, and with ackLast every
// request before the latest one answered succeeded unless it has an
// error (answers come in the order of the requests); the others get
// kernel.ErrNoAnswer. When sending fails, every request gets
// kernel.ErrNotSent: the kernel runs a sendmsg's requests only once it
// has taken the whole message.
func (c *conn) exchange(reqs []request, errs []error, ackLast bool, onMsg func(i int, data []byte) error) error {
	c.out = c.out[:0]
	first := c.seq + 1
	for j, r := range reqs {
		c.seq++
		n := unix.SizeofNlMsghdr + len(r.data)
		flags := unix.NLM_F_REQUEST | r.flags
		if ackLast && j == len(reqs)-1 {
			flags |= unix.NLM_F_ACK
		}
		c.out = native.AppendUint32(c.out, uint32(n))
		c.out = native.AppendUint16(c.out, r.typ)
		c.out = native.AppendUint16(c.out, uint16(flags))
		c.out = native.AppendUint32(c.out, c.seq)
		c.out = native.AppendUint32(c.out, 0) // port id: the kernel fills it
		c.out = append(c.out, r.data...)
		for pad := nlmAlign(n) - n; pad > 0; pad-- {
			c.out = append(c.out, 0)
		}
	}
	var serr error
	if err := c.raw.Write(func(fd uintptr) bool {
		// No address: an unconnected netlink socket sends to the
		// kernel.
		serr = unix.Sendto(int(fd), c.out, 0, nil)
		return serr != unix.EAGAIN
	}); err != nil {
		serr = err
	} else if serr != nil {
		serr = fmt.Errorf("sending to the kernel: %w", serr)
	}
	if serr != nil {
		for i := range errs {
			errs[i] = kernel.ErrNotSent
		}
		return serr
	}

	c.done = slices.Grow(c.done[:0], len(reqs))[:len(reqs)]
	clear(c.done)
	pending := len(reqs)
	answered := -1 // the latest request an answer came for
	err := c.receive(first, len(reqs), func(i int, typ, flags uint16, data []byte) error {
		answered = max(answered, i)
		switch typ {
		case unix.NLMSG_NOOP:
		case unix.NLMSG_ERROR, unix.NLMSG_DONE:
			if e := ackError(typ, flags, data); e != nil && errs[i] == nil {
				errs[i] = e
			}
			if ackLast && i == len(reqs)-1 {
				pending = 0
				return nil
			}
			if !c.done[i] {
				c.done[i] = true
				pending--
			}
		default:
			if flags&unix.NLM_F_DUMP_INTR != 0 && errs[i] == nil {
				errs[i] = errDumpInterrupted
			}
			if err := onMsg(i, data); err != nil && errs[i] == nil {
				errs[i] = err
			}
		}
		return nil
	}, func() bool { return pending == 0 })
	if err != nil {
		for i := range errs {
			switch {
			case c.done[i]:
			case ackLast && i < answered:
				// Answered by the answer to a later request.
			case errs[i] == nil || !ackLast:
				errs[i] = kernel.ErrNoAnswer
			}
		}
	}
	return err
}

// receive reads datagrams until finished reports true, passing each
// message that answers one of the n requests from sequence number first
// on to onMsg with its request's index. Messages from elsewhere than the
// kernel, and answers to earlier, abandoned requests, are dropped.
func (c *conn) receive(first uint32, n int, onMsg func(i int, typ, flags uint16, data []byte) error, finished func() bool) error {
	for !finished() {
		count, err := c.recv()
		if err != nil {
			return err
		}
		for m := range count {
			if c.names[m].Pid != 0 {
				continue // not from the kernel
			}
			if c.msgs[m].hdr.Flags&unix.MSG_TRUNC != 0 {
				return errors.New("receiving from the kernel: message truncated")
			}
			b := c.bufs[m][:c.msgs[m].len]
			for len(b) >= unix.SizeofNlMsghdr {
				l := int(native.Uint32(b))
				if l < unix.SizeofNlMsghdr || l > len(b) {
					return fmt.Errorf("parsing the kernel's answer: message of %d bytes in %d", l, len(b))
				}
				typ, flags, seq := native.Uint16(b[4:]), native.Uint16(b[6:]), native.Uint32(b[8:])
				data := b[unix.SizeofNlMsghdr:l]
				if i := seq - first; i < uint32(n) {
					if err := onMsg(int(i), typ, flags, data); err != nil {
						return err
					}
				}
				b = b[min(nlmAlign(l), len(b)):]
			}
		}
	}
	return nil
}

// recv waits for at least one datagram and reads as many as are queued,
// up to recvBatch, in one recvmmsg. It returns how many; c.msgs says how
// long each is and c.names who sent it.
func (c *conn) recv() (int, error) {
	for i := range c.msgs {
		c.iovs[i] = unix.Iovec{Base: &c.bufs[i][0]}
		c.iovs[i].SetLen(len(c.bufs[i]))
		c.names[i] = unix.RawSockaddrNetlink{}
		c.msgs[i] = mmsghdr{hdr: unix.Msghdr{
			Name:    (*byte)(unsafe.Pointer(&c.names[i])),
			Namelen: unix.SizeofSockaddrNetlink,
			Iov:     &c.iovs[i],
		}}
		c.msgs[i].hdr.SetIovlen(1)
	}
	var n int
	var rerr error
	if err := c.raw.Read(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.msgs[0])), uintptr(len(c.msgs)), 0, 0, 0)
		if e == unix.EAGAIN {
			return false
		}
		if e != 0 {
			rerr = e
		}
		n = int(r)
		return true
	}); err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, fmt.Errorf("receiving from the kernel: %w", rerr)
	}
	return n, nil
}

// ackError returns the errno of an NLMSG_ERROR or NLMSG_DONE message (nil
// for an ack), with the kernel's extended-ack message when it sent one.
func ackError(typ, flags uint16, data []byte) error {
	if len(data) < 4 {
		return nil
	}
	code := int32(native.Uint32(data))
	if code == 0 {
		return nil
	}
	errno := syscall.Errno(-code)
	if typ != unix.NLMSG_ERROR || flags&nlmFAckTLVs == 0 {
		return errno
	}
	rest := data[4:]
	if len(rest) < unix.SizeofNlMsghdr {
		return errno
	}
	echoed := unix.SizeofNlMsghdr
	if flags&nlmFCapped == 0 {
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
