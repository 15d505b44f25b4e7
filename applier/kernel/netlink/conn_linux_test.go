//go:build linux

package netlink

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// These tests talk to the host's rtnetlink with read-only requests.

func routeConn(t *testing.T, timeout time.Duration) *conn {
	t.Helper()
	c, err := dial(netns.None(), unix.NETLINK_ROUTE, timeout)
	if err != nil {
		t.Skipf("no netlink here: %v", err)
	}
	t.Cleanup(func() { c.close() })
	return c
}

// getLink asks for one device by name (RTM_GETLINK, a doit).
func getLink(name string) request {
	b := nl.NewIfInfomsg(unix.AF_UNSPEC).Serialize()
	b = append(b, nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)).Serialize()...)
	return request{typ: unix.RTM_GETLINK, flags: unix.NLM_F_ACK, data: b}
}

func TestConnErrno(t *testing.T) {
	c := routeConn(t, time.Second)
	err := c.do(context.Background(), getLink("lvsgen-nosuch"), nil)
	if !errors.Is(err, syscall.ENODEV) {
		t.Fatalf("asking for a missing device: %v, want ENODEV", err)
	}
	replies := 0
	if err := c.do(context.Background(), getLink("lo"), func([]byte) error { replies++; return nil }); err != nil || replies != 1 {
		t.Fatalf("asking for lo: %v, %d replies", err, replies)
	}
}

// TestConnPipeline sends many requests at once, in more than one sendmsg,
// and matches every answer and ack to its request.
func TestConnPipeline(t *testing.T) {
	c := routeConn(t, 5*time.Second)
	const n = 1000
	reqs := make([]request, n)
	for i := range reqs {
		name := "lo"
		if i%3 == 0 {
			name = "lvsgen-nosuch"
		}
		reqs[i] = getLink(name)
	}
	replies := make([]int, n)
	errs, err := c.roundTrip(context.Background(), reqs, func(i int, _ []byte) error { replies[i]++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	for i := range reqs {
		want := 1
		if i%3 == 0 {
			want = 0
			if !errors.Is(errs[i], syscall.ENODEV) {
				t.Fatalf("request %d: %v, want ENODEV", i, errs[i])
			}
		} else if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if replies[i] != want {
			t.Fatalf("request %d: %d replies, want %d", i, replies[i], want)
		}
	}
}

// noAnswer is a request the kernel answers nothing to: a NOOP without
// NLM_F_ACK.
var noAnswer = request{typ: unix.NLMSG_NOOP}

func TestConnDeadline(t *testing.T) {
	c := routeConn(t, 50*time.Millisecond)
	start := time.Now()
	_, err := c.roundTrip(context.Background(), []request{noAnswer}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for no answer: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the default timeout of 50ms took %s", d)
	}
	// The context's deadline wins over the default.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	c.timeout = time.Hour
	if _, err := c.roundTrip(ctx, []request{noAnswer}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting past the context's deadline: %v", err)
	}
	// The socket works again afterwards.
	if err := c.do(context.Background(), getLink("lo"), nil); err != nil {
		t.Fatalf("after a timeout: %v", err)
	}
}

func TestConnCancel(t *testing.T) {
	c := routeConn(t, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	if _, err := c.roundTrip(ctx, []request{noAnswer}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("cancelling took %s", d)
	}
	if err := c.do(context.Background(), getLink("lo"), nil); err != nil {
		t.Fatalf("after a cancel: %v", err)
	}
	if _, err := c.roundTrip(ctx, []request{noAnswer}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("with a cancelled context: %v", err)
	}
}

func TestConnDump(t *testing.T) {
	c := routeConn(t, 5*time.Second)
	links := 0
	err := c.dump(context.Background(), request{typ: unix.RTM_GETLINK, data: nl.NewIfInfomsg(unix.AF_UNSPEC).Serialize()}, func([]byte) error { links++; return nil })
	if err != nil || links == 0 {
		t.Fatalf("dumping links: %v, %d links", err, links)
	}
}

// TestConnWriteBatch: with only the last request of each sendmsg asking
// for an ack, every request still gets its own outcome — errors for the
// ones that fail, nil for the others — over several sendmsgs.
func TestConnWriteBatch(t *testing.T) {
	c := routeConn(t, 5*time.Second)
	const n = 1000
	reqs := make([]request, n)
	for i := range reqs {
		name := "lo"
		if i%7 == 0 || i == n-1 {
			name = "lvsgen-nosuch"
		}
		reqs[i] = getLink(name)
		reqs[i].flags = 0 // writeBatch decides which ask for an ack
	}
	errs, err := c.writeBatch(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		if i%7 == 0 || i == n-1 {
			if !errors.Is(e, syscall.ENODEV) {
				t.Fatalf("request %d: %v, want ENODEV", i, e)
			}
		} else if e != nil {
			t.Fatalf("request %d: %v", i, e)
		}
	}
	// The socket is in step afterwards.
	if err := c.do(context.Background(), getLink("lo"), nil); err != nil {
		t.Fatalf("after a batch: %v", err)
	}
}

// TestConnPartialAnswers: when the exchange fails half-way, each request
// says what is known of it: answered, sent without an answer, or not sent.
func TestConnPartialAnswers(t *testing.T) {
	c := routeConn(t, 200*time.Millisecond)
	// Three sendmsgs: 64 requests, 64 with one the kernel never answers,
	// then one more that is never sent.
	reqs := make([]request, 2*maxBatchMsgs+1)
	for i := range reqs {
		reqs[i] = getLink("lo")
	}
	reqs[maxBatchMsgs+6] = noAnswer
	reqs[maxBatchMsgs+9] = getLink("lvsgen-nosuch")
	errs, err := c.roundTrip(context.Background(), reqs, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("exchange error %v, want a deadline", err)
	}
	for i, e := range errs {
		var want error
		switch {
		case i == maxBatchMsgs+6:
			want = kernel.ErrNoAnswer
		case i == maxBatchMsgs+9:
			want = syscall.ENODEV
		case i == 2*maxBatchMsgs:
			want = kernel.ErrNotSent
		}
		if (want == nil && e != nil) || (want != nil && !errors.Is(e, want)) {
			t.Errorf("request %d: %v, want %v", i, e, want)
		}
	}
	// A cancelled context sends nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errs, err = c.writeBatch(ctx, reqs[:3])
	if !errors.Is(err, context.Canceled) || len(errs) != 3 || !errors.Is(errs[0], kernel.ErrNotSent) {
		t.Fatalf("cancelled: %v, %v", errs, err)
	}
}

// TestConnNoopAck: the kernel acks an NLMSG_NOOP that asks for it, so a
// no-op ends a batch whose other requests ask for none (DelSyncDaemon's
// stop, which may answer nothing), and an error of a request before it
// still reaches that request.
func TestConnNoopAck(t *testing.T) {
	c := routeConn(t, time.Second)
	missing, lo := getLink("lvsgen-nosuch"), getLink("lo")
	missing.flags, lo.flags = 0, 0
	for _, tt := range []struct {
		name string
		req  request
		want error
	}{{"an error", missing, syscall.ENODEV}, {"no error", lo, nil}} {
		errs, err := c.writeBatch(context.Background(), []request{tt.req, {typ: unix.NLMSG_NOOP}})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !errors.Is(errs[0], tt.want) || errs[1] != nil {
			t.Fatalf("%s: %v, want [%v <nil>]", tt.name, errs, tt.want)
		}
	}
}
