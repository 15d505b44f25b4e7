package kerneltest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// Device is the device the suite puts addresses and routes on. A kernel
// from Run's newKernel has it, up and without addresses.
const Device = "eth0"

// Run runs the whole conformance suite: the tests of every object
// interface, then those where objects of two kinds meet. newKernel is
// called once per subtest and returns a fresh kernel — as a new network
// namespace has it: an empty IPVS table with the default timeouts, no fou
// ports, no gateway routes — with loopback and Device, up and without
// addresses, and any scheduler module but twos, and the sip persistence
// engine, available. It cleans up after itself with t.Cleanup.
func Run(t *testing.T, newKernel func(t *testing.T) kernel.Kernel) {
	run(t, ipvsTests, func(t *testing.T) (kernel.IPVS, kernel.Kernel) {
		k := newKernel(t)
		return k, k
	})
	for _, group := range [][]test{linkTests, addressTests, routeTests, fouTests, sysctlTests, nftTests, syncTests, hostTests} {
		run(t, group, func(t *testing.T) (kernel.IPVS, kernel.Kernel) {
			k := newKernel(t)
			return k, k
		})
	}
}

// RunIPVS runs the tests of kernel.IPVS alone, for a kernel that has only
// an IPVS table. newKernel returns a fresh, empty table with the default
// timeouts, any scheduler module but twos, and the sip persistence engine.
// The tests of PartialReader and BatchWriter run when the kernel has
// them.
func RunIPVS(t *testing.T, newKernel func(t *testing.T) kernel.IPVS) {
	run(t, ipvsTests, func(t *testing.T) (kernel.IPVS, kernel.Kernel) { return newKernel(t), nil })
}

// test is one conformance test; its name is its subtest's.
type test struct {
	name string
	run  func(*testing.T, *suite)
}

func run(t *testing.T, tests []test, newKernel func(t *testing.T) (kernel.IPVS, kernel.Kernel)) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s := &suite{t: t, ctx: ctx}
			s.ipvs, s.k = newKernel(t)
			tc.run(t, s)
		})
	}
}

// suite is one subtest's kernel with helpers that fail the test. The
// IPVS tests use ipvs alone; the others use k, the whole kernel, which
// they alone are given.
type suite struct {
	t    *testing.T
	ctx  context.Context
	ipvs kernel.IPVS
	k    kernel.Kernel
}

// cmpOpts compare read-back with what was written, without the counters.
var cmpOpts = gocmp.Options{
	cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}),
	cmpopts.IgnoreFields(ipvs.Destination{}, "ActiveConns", "InactiveConns"),
	cmpopts.EquateEmpty(),
}

func (s *suite) diff(what string, got, want any) {
	s.t.Helper()
	if d := gocmp.Diff(want, got, cmpOpts); d != "" {
		s.t.Fatalf("%s (-want +got):\n%s", what, d)
	}
}

func (s *suite) must(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

// wantErr fails unless err wraps errno.
func (s *suite) wantErr(what string, err error, errno syscall.Errno) {
	s.t.Helper()
	var got syscall.Errno
	switch {
	case err == nil:
		s.t.Fatalf("%s: no error, want %v (%s)", what, errno, errnoName(errno))
	case !errors.Is(err, errno):
		errors.As(err, &got)
		s.t.Fatalf("%s: error %q (errno %s), want %v (%s)", what, err, errnoName(got), errno, errnoName(errno))
	}
}

// wantOpError fails unless err is an *OpError of op on object that
// wraps errno and reads as op, object, then the cause.
func (s *suite) wantOpError(err error, op, object string, errno syscall.Errno) {
	s.t.Helper()
	what := op + " " + object
	s.wantErr(what, err, errno)
	var oe *kernel.OpError
	if !errors.As(err, &oe) {
		s.t.Fatalf("%s: error %q (%T) is not an *OpError", what, err, err)
	}
	if oe.Op != op || oe.Object != object {
		s.t.Errorf("%s: OpError{Op: %q, Object: %q}", what, oe.Op, oe.Object)
	}
	if !strings.HasPrefix(err.Error(), what+": ") {
		s.t.Errorf("%s: error reads %q", what, err)
	}
}

func errnoName(e syscall.Errno) string {
	for name, v := range map[string]syscall.Errno{
		"EEXIST": syscall.EEXIST, "ENOENT": syscall.ENOENT, "ESRCH": syscall.ESRCH, "EINVAL": syscall.EINVAL,
		"ERANGE": syscall.ERANGE, "ENODEV": syscall.ENODEV, "EADDRNOTAVAIL": syscall.EADDRNOTAVAIL,
		"ENETUNREACH": syscall.ENETUNREACH, "EHOSTUNREACH": syscall.EHOSTUNREACH, "EOPNOTSUPP": syscall.EOPNOTSUPP,
		"EADDRINUSE": syscall.EADDRINUSE, "EAFNOSUPPORT": syscall.EAFNOSUPPORT, "EBUSY": syscall.EBUSY,
	} {
		if v == e {
			return name
		}
	}
	return fmt.Sprintf("errno %d", int(e))
}
