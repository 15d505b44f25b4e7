//go:build e2eguest

package netlink_test

import (
	"runtime"
	"testing"

	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/applier/kernel/kerneltest"
	"github.com/lvsgen/lvsgen/applier/kernel/netlink"
	"github.com/lvsgen/lvsgen/e2e/guest"
)

// freshNetNS returns a new network namespace, closed at the test's end.
// The thread that makes it returns to its own namespace before it is
// unlocked; if it cannot, it stays locked and dies with its goroutine.
func freshNetNS(t *testing.T) netns.NsHandle {
	t.Helper()
	type result struct {
		ns  netns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		ns, err := netns.New()
		if err != nil {
			ch <- result{err: err}
			return
		}
		if err := netns.Set(orig); err != nil {
			ch <- result{ns, err}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{ns: ns}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("new network namespace: %v", r.err)
	}
	t.Cleanup(func() { r.ns.Close() })
	return r.ns
}

// newKernel is a netlink Kernel in a fresh namespace with lo and a dummy
// kerneltest.Device up, made with vishvananda/netlink directly.
func newKernel(t *testing.T) kernel.Kernel {
	ns := freshNetNS(t)
	h, err := vnl.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkAdd(&vnl.Dummy{LinkAttrs: vnl.LinkAttrs{Name: kerneltest.Device}}); err != nil {
		t.Fatal(err)
	}
	dev, err := h.LinkByName(kerneltest.Device)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(dev); err != nil {
		t.Fatal(err)
	}
	k, err := netlink.New(netlink.WithNetNS(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// TestConformance holds the real kernel to the suite the in-memory twin
// passes on the host, each subtest in a fresh network namespace.
func TestConformance(t *testing.T) {
	guest.Require(t)
	kerneltest.Run(t, newKernel)
}
