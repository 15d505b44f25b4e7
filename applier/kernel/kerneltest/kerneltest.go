// Package kerneltest holds the conformance tests of kernel.Kernel: one
// suite that the in-memory twin (on any host) and the real kernel (in the
// e2e VM, through applier/kernel/netlink) must both pass, so that what the
// applier's unit tests learn from the twin holds for the kernel. Every
// method is exercised with what it must store and read back, and with the
// errno of each documented mistake.
package kerneltest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
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

// Run runs the conformance suite. newKernel is called once per subtest and
// returns a fresh kernel — as a new network namespace has it: an empty
// IPVS table with the default timeouts, no fou ports, no gateway routes —
// with loopback and Device, up and without addresses, and any scheduler
// module but twos, and the sip persistence engine, available. It cleans
// up after itself with t.Cleanup.
func Run(t *testing.T, newKernel func(t *testing.T) kernel.Kernel) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tc.run(t, &suite{t: t, ctx: ctx, k: newKernel(t)})
		})
	}
}

// suite is one subtest's kernel with helpers that fail the test.
type suite struct {
	t   *testing.T
	ctx context.Context
	k   kernel.Kernel
}

var tests = []struct {
	name string
	run  func(*testing.T, *suite)
}{
	{"Services/Add", testServicesAdd},
	{"Services/Schedulers", testSchedulers},
	{"Services/MissingModule", testMissingModule},
	{"Services/Duplicate", testServiceDuplicate},
	{"Services/Update", testServiceUpdate},
	{"Services/Missing", testServiceMissing},
	{"Services/Delete", testServiceDelete},
	{"Services/IPv6Netmask", testIPv6Netmask},
	{"Destinations/Forwarding", testDestForwarding},
	{"Destinations/MixedFamily", testDestMixedFamily},
	{"Destinations/Weights", testDestWeights},
	{"Destinations/Thresholds", testDestThresholds},
	{"Destinations/GUEPortZero", testDestGUEPortZero},
	{"Destinations/ThresholdRange", testDestThresholdRange},
	{"Destinations/Addresses", testDestAddresses},
	{"Destinations/Duplicate", testDestDuplicate},
	{"Destinations/Update", testDestUpdate},
	{"Destinations/Delete", testDestDelete},
	{"Destinations/MissingService", testDestMissingService},
	{"Destinations/FWMark", testDestFWMark},
	{"Batch/Writes", testBatchWrites},
	{"Batch/FailuresDoNotStop", testBatchFailures},
	{"Batch/Large", testBatchLarge},
	{"Batch/Empty", testBatchEmpty},
	{"Batch/Cancelled", testBatchCancelled},
	{"Partial/Read", testPartialRead},
	{"Timeouts/Default", testTimeoutsDefault},
	{"Timeouts/Set", testTimeoutsSet},
	{"Links/Dummy", testLinksDummy},
	{"Links/Fallback", testLinksFallback},
	{"Links/FallbackMode", testLinksFallbackMode},
	{"Links/DeleteFallback", testLinksDeleteFallback},
	{"Links/Missing", testLinksMissing},
	{"Addresses/Add", testAddresses},
	{"Addresses/Errors", testAddressErrors},
	{"Addresses/PrefixLength", testAddressPrefixLength},
	{"Addresses/Flags", testAddressFlags},
	{"Addresses/LinkDeleted", testAddressesLinkDeleted},
	{"Routes/Add", testRoutes},
	{"Routes/Errors", testRouteErrors},
	{"Routes/Change", testRouteChange},
	{"Addresses/Replace", testAddressReplace},
	{"FOU", testFOU},
	{"Sysctls/ReadWrite", testSysctls},
	{"Sysctls/Unknown", testSysctlUnknown},
	{"Sysctls/PerDevice", testSysctlPerDevice},
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

// services reads the IPVS table in a fixed order.
func (s *suite) services() []ipvs.Service {
	s.t.Helper()
	svcs, err := s.k.Services(s.ctx)
	s.must(err)
	sortServices(svcs)
	return svcs
}

func sortServices(svcs []ipvs.Service) {
	slices.SortFunc(svcs, func(a, b ipvs.Service) int {
		return cmp.Or(cmp.Compare(a.FWMark, b.FWMark), cmp.Compare(a.Family, b.Family),
			cmp.Compare(a.Protocol, b.Protocol), a.Addr.Compare(b.Addr), cmp.Compare(a.Port, b.Port))
	})
	for i := range svcs {
		slices.SortFunc(svcs[i].Destinations, func(a, b ipvs.Destination) int {
			return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Port, b.Port))
		})
	}
}

func (s *suite) wantServices(want ...ipvs.Service) {
	s.t.Helper()
	want = slices.Clone(want)
	for i := range want {
		want[i].Destinations = slices.Clone(want[i].Destinations)
	}
	sortServices(want)
	s.diff("IPVS table", s.services(), want)
}

func (s *suite) addService(svc ipvs.Service) {
	s.t.Helper()
	s.must(s.k.AddService(s.ctx, svc))
	for _, d := range svc.Destinations {
		s.must(s.k.AddDestination(s.ctx, svc.ServiceKey, d))
	}
}

var (
	ip  = netip.MustParseAddr
	pfx = netip.MustParsePrefix
)

// tcp4 is a plain round-robin TCP service on an IPv4 address.
func tcp4(addr string, port uint16) ipvs.Service {
	return ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: ip(addr), Port: port}, Scheduler: "rr", NetmaskBits: 32}
}

func svcKey(p ipvs.Protocol, addr string, port uint16) ipvs.ServiceKey {
	a := ip(addr)
	return ipvs.ServiceKey{Family: ipvs.FamilyOf(a), Protocol: p, Addr: a, Port: port}
}

func fwm(mark uint32, f ipvs.Family) ipvs.ServiceKey { return ipvs.ServiceKey{FWMark: mark, Family: f} }

func dest(addr string, port uint16, fwd ipvs.Forward, weight int32) ipvs.Destination {
	return ipvs.Destination{Addr: ip(addr), Port: port, Forward: fwd, Weight: weight}
}

func testServicesAdd(t *testing.T, s *suite) {
	want := []ipvs.Service{
		{ServiceKey: svcKey(ipvs.TCP, "10.0.0.1", 80), Scheduler: "rr", NetmaskBits: 32},
		{ServiceKey: svcKey(ipvs.UDP, "10.0.0.1", 53), Scheduler: "wrr", NetmaskBits: 32},
		{ServiceKey: svcKey(ipvs.SCTP, "10.0.0.1", 3868), Scheduler: "lc", NetmaskBits: 32},
		{ServiceKey: svcKey(ipvs.TCP, "2001:db8::1", 443), Scheduler: "wlc", NetmaskBits: 128},
		{ServiceKey: svcKey(ipvs.UDP, "2001:db8::1", 53), Scheduler: "rr", NetmaskBits: 128},
		{ServiceKey: svcKey(ipvs.SCTP, "2001:db8::1", 3868), Scheduler: "rr", NetmaskBits: 128},
		{ServiceKey: fwm(1, ipvs.IPv4), Scheduler: "rr", NetmaskBits: 32},
		// The same mark in the other family is another service.
		{ServiceKey: fwm(1, ipvs.IPv6), Scheduler: "rr", NetmaskBits: 128},
		{ServiceKey: fwm(1<<31-1, ipvs.IPv4), Scheduler: "wlc", NetmaskBits: 32},
		// Persistence with a granularity coarser than one client.
		{ServiceKey: svcKey(ipvs.TCP, "10.0.0.2", 443), Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 600, NetmaskBits: 24},
		{ServiceKey: svcKey(ipvs.TCP, "2001:db8::2", 443), Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 300, NetmaskBits: 64},
		{ServiceKey: fwm(7, ipvs.IPv4), Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 1800, NetmaskBits: 16},
		{ServiceKey: svcKey(ipvs.TCP, "10.0.0.2", 22), Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 300, NetmaskBits: 0},
		{ServiceKey: svcKey(ipvs.UDP, "10.0.0.3", 5060), Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 360, NetmaskBits: 32, PE: "sip"},
		{ServiceKey: svcKey(ipvs.UDP, "10.0.0.4", 53), Scheduler: "rr", Flags: ipvs.FlagOnePacket, NetmaskBits: 32},
		// Scheduler flags: sh-fallback, sh-port, flag-3.
		{ServiceKey: svcKey(ipvs.TCP, "10.0.0.5", 80), Scheduler: "sh", Flags: ipvs.FlagSched1 | ipvs.FlagSched2, NetmaskBits: 32},
		{ServiceKey: svcKey(ipvs.TCP, "10.0.0.5", 81), Scheduler: "mh", Flags: ipvs.FlagSched1, NetmaskBits: 32},
		{ServiceKey: svcKey(ipvs.TCP, "10.0.0.5", 82), Scheduler: "sh", Flags: ipvs.FlagSched3, NetmaskBits: 32},
		{ServiceKey: svcKey(ipvs.UDP, "10.0.0.5", 83), Scheduler: "mh", Flags: ipvs.FlagSched1 | ipvs.FlagSched2 | ipvs.FlagSched3 | ipvs.FlagOnePacket | ipvs.FlagPersistent, Timeout: 60, NetmaskBits: 32},
		// Over netlink the kernel takes any protocol number.
		{ServiceKey: svcKey(99, "10.0.0.6", 80), Scheduler: "rr", NetmaskBits: 32},
		// An IPv4-mapped address is an IPv6 service's.
		{ServiceKey: svcKey(ipvs.TCP, "::ffff:10.0.0.7", 80), Scheduler: "rr", NetmaskBits: 128},
	}
	for _, svc := range want {
		s.must(s.k.AddService(s.ctx, svc))
	}
	s.wantServices(want...)
	// The hashed flag belongs to the kernel: sending it changes nothing.
	hashed := tcp4("10.0.0.9", 80)
	hashed.Flags = ipvs.FlagHashed
	s.must(s.k.AddService(s.ctx, hashed))
	hashed.Flags = 0
	s.wantServices(append(want, hashed)...)
}

func testSchedulers(t *testing.T, s *suite) {
	var want []ipvs.Service
	// "none" is a service without a scheduler.
	for i, name := range append(slices.Clone(ipvs.Schedulers), "none") {
		if name == "twos" {
			continue
		}
		svc := tcp4("10.0.0.1", uint16(1000+i))
		svc.Scheduler = name
		s.must(s.k.AddService(s.ctx, svc))
		want = append(want, svc)
	}
	s.wantServices(want...)
}

func testMissingModule(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	for _, sched := range []string{"twos", "nosuch"} {
		svc.Scheduler = sched
		s.wantErr("adding a service with scheduler "+sched, s.k.AddService(s.ctx, svc), syscall.ENOENT)
	}
	svc.Scheduler, svc.PE = "rr", "nosuch"
	s.wantErr("adding a service with persistence engine nosuch", s.k.AddService(s.ctx, svc), syscall.ENOENT)
	s.wantServices()

	svc.PE = ""
	s.must(s.k.AddService(s.ctx, svc))
	up := svc
	up.Scheduler = "twos"
	s.wantErr("updating to scheduler twos", s.k.UpdateService(s.ctx, up), syscall.ENOENT)
	up.Scheduler, up.PE = "rr", "nosuch"
	s.wantErr("updating to persistence engine nosuch", s.k.UpdateService(s.ctx, up), syscall.ENOENT)
	s.wantServices(svc)
}

func testServiceDuplicate(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	s.must(s.k.AddService(s.ctx, svc))
	other := svc
	other.Scheduler, other.Flags, other.Timeout = "wlc", ipvs.FlagPersistent, 60
	s.wantErr("adding a service twice", s.k.AddService(s.ctx, other), syscall.EEXIST)
	mark := ipvs.Service{ServiceKey: fwm(5, ipvs.IPv6), Scheduler: "rr", NetmaskBits: 128}
	s.must(s.k.AddService(s.ctx, mark))
	s.wantErr("adding a fwmark service twice", s.k.AddService(s.ctx, mark), syscall.EEXIST)
	s.wantServices(svc, mark)
}

func testServiceUpdate(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	svc.Destinations = []ipvs.Destination{dest("10.0.1.1", 80, ipvs.Route, 1)}
	s.addService(svc)
	steps := []func(*ipvs.Service){
		func(v *ipvs.Service) { v.Scheduler = "wlc" },
		func(v *ipvs.Service) { v.Flags, v.Timeout, v.NetmaskBits = ipvs.FlagPersistent, 900, 24 },
		func(v *ipvs.Service) {
			v.Scheduler, v.Flags = "sh", ipvs.FlagPersistent|ipvs.FlagSched1|ipvs.FlagSched2
		},
		func(v *ipvs.Service) { v.PE = "sip" },
		func(v *ipvs.Service) { v.PE, v.Flags, v.Timeout, v.NetmaskBits = "", 0, 0, 32 },
	}
	for _, step := range steps {
		step(&svc)
		s.must(s.k.UpdateService(s.ctx, svc))
		// The destinations stay.
		s.wantServices(svc)
	}
	mark := ipvs.Service{ServiceKey: fwm(9, ipvs.IPv6), Scheduler: "rr", NetmaskBits: 128}
	s.must(s.k.AddService(s.ctx, mark))
	mark.Scheduler, mark.Flags, mark.Timeout, mark.NetmaskBits = "lblc", ipvs.FlagPersistent, 120, 48
	s.must(s.k.UpdateService(s.ctx, mark))
	s.wantServices(svc, mark)
}

func testServiceMissing(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	s.wantErr("updating a missing service", s.k.UpdateService(s.ctx, svc), syscall.ESRCH)
	s.wantErr("deleting a missing service", s.k.DelService(s.ctx, svc.ServiceKey), syscall.ESRCH)
	s.wantErr("deleting a missing fwmark service", s.k.DelService(s.ctx, fwm(3, ipvs.IPv4)), syscall.ESRCH)
	s.must(s.k.AddService(s.ctx, svc))
	// Another protocol, port or family is another service.
	for _, k := range []ipvs.ServiceKey{svcKey(ipvs.UDP, "10.0.0.1", 80), svcKey(ipvs.TCP, "10.0.0.1", 81), fwm(3, ipvs.IPv4)} {
		s.wantErr("deleting missing service "+k.String(), s.k.DelService(s.ctx, k), syscall.ESRCH)
	}
	mark := ipvs.Service{ServiceKey: fwm(3, ipvs.IPv4), Scheduler: "rr", NetmaskBits: 32}
	s.must(s.k.AddService(s.ctx, mark))
	s.wantErr("deleting a fwmark service of the other family", s.k.DelService(s.ctx, fwm(3, ipvs.IPv6)), syscall.ESRCH)
	s.wantServices(svc, mark)
}

func testServiceDelete(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	svc.Destinations = []ipvs.Destination{dest("10.0.1.1", 80, ipvs.Route, 1), dest("10.0.1.2", 80, ipvs.Route, 1)}
	s.addService(svc)
	mark := ipvs.Service{ServiceKey: fwm(3, ipvs.IPv4), Scheduler: "rr", NetmaskBits: 32}
	s.addService(mark)
	s.must(s.k.DelService(s.ctx, svc.ServiceKey))
	s.must(s.k.DelService(s.ctx, mark.ServiceKey))
	s.wantServices()
	// A service added again starts without destinations.
	s.must(s.k.AddService(s.ctx, svc))
	svc.Destinations = nil
	s.wantServices(svc)
}

func testIPv6Netmask(t *testing.T, s *suite) {
	svc := ipvs.Service{ServiceKey: svcKey(ipvs.TCP, "2001:db8::1", 80), Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 60}
	for _, bits := range []int{0, 129} {
		svc.NetmaskBits = bits
		s.wantErr(fmt.Sprintf("adding an IPv6 service with netmask /%d", bits), s.k.AddService(s.ctx, svc), syscall.EINVAL)
	}
	svc.NetmaskBits = 128
	s.must(s.k.AddService(s.ctx, svc))
	up := svc
	up.NetmaskBits = 0
	s.wantErr("updating an IPv6 service to netmask /0", s.k.UpdateService(s.ctx, up), syscall.EINVAL)
	s.wantServices(svc)
}

func testDestForwarding(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	svc.Scheduler = "wrr"
	svc.Destinations = []ipvs.Destination{
		dest("10.0.1.1", 8080, ipvs.Masq, 1),
		dest("10.0.1.2", 80, ipvs.Route, 2),
		dest("10.0.1.3", 80, ipvs.Tunnel, 3),
		{Addr: ip("10.0.1.4"), Port: 80, Forward: ipvs.Tunnel, Weight: 1, TunType: ipvs.TunGUE, TunPort: 6080},
		{Addr: ip("10.0.1.5"), Port: 80, Forward: ipvs.Tunnel, Weight: 1, TunType: ipvs.TunGUE, TunPort: 6081, TunFlags: ipvs.TunFlagCsum},
		{Addr: ip("10.0.1.6"), Port: 80, Forward: ipvs.Tunnel, Weight: 1, TunType: ipvs.TunGUE, TunPort: 6082, TunFlags: ipvs.TunFlagRemCsum},
		{Addr: ip("10.0.1.7"), Port: 80, Forward: ipvs.Tunnel, Weight: 1, TunType: ipvs.TunGRE},
		{Addr: ip("10.0.1.8"), Port: 80, Forward: ipvs.Tunnel, Weight: 1, TunType: ipvs.TunGRE, TunFlags: ipvs.TunFlagCsum},
	}
	s.addService(svc)
	s.wantServices(svc)
}

func testDestMixedFamily(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	svc.Destinations = []ipvs.Destination{
		dest("2001:db8::10", 80, ipvs.Tunnel, 1),
		{Addr: ip("2001:db8::11"), Port: 80, Forward: ipvs.Tunnel, Weight: 1, TunType: ipvs.TunGUE, TunPort: 6080},
		dest("10.0.1.1", 80, ipvs.Tunnel, 1),
	}
	s.addService(svc)
	v6 := ipvs.Service{ServiceKey: svcKey(ipvs.UDP, "2001:db8::1", 53), Scheduler: "rr", NetmaskBits: 128}
	v6.Destinations = []ipvs.Destination{
		{Addr: ip("10.0.1.2"), Port: 53, Forward: ipvs.Tunnel, Weight: 1, TunType: ipvs.TunGRE, TunFlags: ipvs.TunFlagCsum},
	}
	s.addService(v6)
	// Only tunnels cross families.
	for _, fwd := range []ipvs.Forward{ipvs.Masq, ipvs.Route} {
		s.wantErr("adding an IPv6 "+fwd.String()+" destination to an IPv4 service",
			s.k.AddDestination(s.ctx, svc.ServiceKey, dest("2001:db8::12", 80, fwd, 1)), syscall.EINVAL)
	}
	s.wantErr("updating a mixed-family destination to dr",
		s.k.UpdateDestination(s.ctx, svc.ServiceKey, dest("2001:db8::10", 80, ipvs.Route, 1)), syscall.EINVAL)
	s.wantServices(svc, v6)
	// Deleting needs no forwarding method.
	s.must(s.k.DelDestination(s.ctx, svc.ServiceKey, ipvs.Destination{Addr: ip("2001:db8::10"), Port: 80}))
	svc.Destinations = svc.Destinations[1:]
	s.wantServices(svc, v6)
}

func testDestWeights(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	svc.Scheduler = "wrr"
	for i, w := range []int32{0, 1, 255, 65535, 65536, 1 << 24, 2147483647} {
		svc.Destinations = append(svc.Destinations, dest(fmt.Sprintf("10.0.1.%d", i+1), 80, ipvs.Route, w))
	}
	s.addService(svc)
	s.wantServices(svc)
	s.wantErr("adding a destination with weight -1",
		s.k.AddDestination(s.ctx, svc.ServiceKey, dest("10.0.2.1", 80, ipvs.Route, -1)), syscall.ERANGE)
	s.wantErr("updating a destination to weight -1",
		s.k.UpdateDestination(s.ctx, svc.ServiceKey, dest("10.0.1.1", 80, ipvs.Route, -1)), syscall.ERANGE)
	s.wantServices(svc)
}

func testDestThresholds(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	d := dest("10.0.1.1", 80, ipvs.Route, 1)
	d.UpperThreshold, d.LowerThreshold = 1000, 100
	e := dest("10.0.1.2", 80, ipvs.Route, 1)
	e.UpperThreshold = 50
	f := dest("10.0.1.3", 80, ipvs.Route, 1)
	f.UpperThreshold, f.LowerThreshold = 7, 7
	svc.Destinations = []ipvs.Destination{d, e, f}
	s.addService(svc)
	s.wantServices(svc)

	bad := dest("10.0.1.4", 80, ipvs.Route, 1)
	bad.UpperThreshold, bad.LowerThreshold = 10, 11
	s.wantErr("adding a destination with lower threshold above upper", s.k.AddDestination(s.ctx, svc.ServiceKey, bad), syscall.ERANGE)
	bad.UpperThreshold = 0
	s.wantErr("adding a destination with a lower threshold and no upper", s.k.AddDestination(s.ctx, svc.ServiceKey, bad), syscall.ERANGE)
	up := d
	up.LowerThreshold = 1001
	s.wantErr("updating a destination's lower threshold above its upper", s.k.UpdateDestination(s.ctx, svc.ServiceKey, up), syscall.ERANGE)
	s.wantServices(svc)
}

func testDestGUEPortZero(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	s.addService(svc)
	gue := ipvs.Destination{Addr: ip("10.0.1.1"), Port: 80, Forward: ipvs.Tunnel, Weight: 1, TunType: ipvs.TunGUE}
	s.wantErr("adding a GUE destination without a port", s.k.AddDestination(s.ctx, svc.ServiceKey, gue), syscall.EINVAL)
	ipip := dest("10.0.1.1", 80, ipvs.Tunnel, 1)
	s.must(s.k.AddDestination(s.ctx, svc.ServiceKey, ipip))
	s.wantErr("updating a destination to GUE without a port", s.k.UpdateDestination(s.ctx, svc.ServiceKey, gue), syscall.EINVAL)
	svc.Destinations = []ipvs.Destination{ipip}
	s.wantServices(svc)
}

func testDestThresholdRange(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	d := dest("10.0.1.1", 80, ipvs.Route, 1)
	d.UpperThreshold = 1<<31 - 1
	svc.Destinations = []ipvs.Destination{d}
	s.addService(svc)
	// The fields are u32, but the kernel compares them as ints.
	big := dest("10.0.1.2", 80, ipvs.Route, 1)
	big.UpperThreshold = 1 << 31
	s.wantErr("adding a destination with upper threshold 2^31", s.k.AddDestination(s.ctx, svc.ServiceKey, big), syscall.EINVAL)
	up := d
	up.UpperThreshold = 1<<32 - 1
	s.wantErr("updating a destination to upper threshold 2^32-1", s.k.UpdateDestination(s.ctx, svc.ServiceKey, up), syscall.EINVAL)
	s.wantServices(svc)
}

func testDestAddresses(t *testing.T, s *suite) {
	s.must(s.k.AddAddress(s.ctx, kernel.Address{Device: Device, Prefix: pfx("10.0.0.2/24")}))
	svc := tcp4("10.0.0.1", 80)
	v6 := ipvs.Service{ServiceKey: svcKey(ipvs.TCP, "2001:db8::1", 80), Scheduler: "rr", NetmaskBits: 128}
	s.addService(svc)
	s.addService(v6)
	// A destination must be unicast (or bound here).
	for _, a := range []string{"0.0.0.0", "255.255.255.255", "224.0.0.1", "239.1.2.3", "10.0.0.255"} {
		s.wantErr("adding destination "+a, s.k.AddDestination(s.ctx, svc.ServiceKey, dest(a, 80, ipvs.Route, 1)), syscall.EINVAL)
	}
	for _, a := range []string{"::", "ff02::1", "fe80::1", "::ffff:10.0.1.1"} {
		s.wantErr("adding destination "+a, s.k.AddDestination(s.ctx, v6.ServiceKey, dest(a, 80, ipvs.Route, 1)), syscall.EINVAL)
	}
	// A local address keeps the forwarding method it is given, and so
	// does an address given the local method.
	svc.Destinations = []ipvs.Destination{
		dest("10.0.0.2", 80, ipvs.Masq, 1),
		dest("10.0.0.0", 80, ipvs.Route, 1),
		dest("127.0.0.1", 80, ipvs.Route, 1),
		dest("10.0.1.3", 80, ipvs.Local, 1),
		dest("0.1.2.3", 80, ipvs.Route, 1),
		dest("240.0.0.1", 80, ipvs.Route, 1),
	}
	v6.Destinations = []ipvs.Destination{
		dest("::1", 80, ipvs.Route, 1),
		dest("fec0::1", 80, ipvs.Route, 1),
		dest("fd00::1", 80, ipvs.Route, 1),
	}
	for _, d := range svc.Destinations {
		s.must(s.k.AddDestination(s.ctx, svc.ServiceKey, d))
	}
	for _, d := range v6.Destinations {
		s.must(s.k.AddDestination(s.ctx, v6.ServiceKey, d))
	}
	s.wantServices(svc, v6)
}

func testDestDuplicate(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	d := dest("10.0.1.1", 80, ipvs.Route, 1)
	svc.Destinations = []ipvs.Destination{d}
	s.addService(svc)
	other := d
	other.Forward, other.Weight = ipvs.Masq, 5
	s.wantErr("adding a destination twice", s.k.AddDestination(s.ctx, svc.ServiceKey, other), syscall.EEXIST)
	// Another port is another destination.
	p := dest("10.0.1.1", 81, ipvs.Masq, 1)
	s.must(s.k.AddDestination(s.ctx, svc.ServiceKey, p))
	svc.Destinations = append(svc.Destinations, p)
	s.wantServices(svc)
}

func testDestUpdate(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	svc.Scheduler = "wlc"
	d := dest("10.0.1.1", 80, ipvs.Masq, 1)
	keep := dest("10.0.1.2", 80, ipvs.Masq, 1)
	svc.Destinations = []ipvs.Destination{d, keep}
	s.addService(svc)
	steps := []ipvs.Destination{
		{Addr: d.Addr, Port: 80, Forward: ipvs.Masq, Weight: 100, UpperThreshold: 10, LowerThreshold: 5},
		{Addr: d.Addr, Port: 80, Forward: ipvs.Tunnel, Weight: 2, TunType: ipvs.TunGUE, TunPort: 6080, TunFlags: ipvs.TunFlagRemCsum},
		{Addr: d.Addr, Port: 80, Forward: ipvs.Tunnel, Weight: 3, TunType: ipvs.TunGRE, TunFlags: ipvs.TunFlagCsum},
		{Addr: d.Addr, Port: 80, Forward: ipvs.Tunnel, Weight: 4},
		{Addr: d.Addr, Port: 80, Forward: ipvs.Route, Weight: 0},
		{Addr: d.Addr, Port: 80, Forward: ipvs.Route, Weight: 2147483647},
	}
	for _, step := range steps {
		s.must(s.k.UpdateDestination(s.ctx, svc.ServiceKey, step))
		svc.Destinations = []ipvs.Destination{step, keep}
		s.wantServices(svc)
	}
	s.wantErr("updating a missing destination",
		s.k.UpdateDestination(s.ctx, svc.ServiceKey, dest("10.0.1.9", 80, ipvs.Route, 1)), syscall.ENOENT)
	s.wantErr("updating a destination on another port",
		s.k.UpdateDestination(s.ctx, svc.ServiceKey, dest("10.0.1.1", 81, ipvs.Route, 1)), syscall.ENOENT)
	s.wantServices(svc)
}

func testDestDelete(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	a, b := dest("10.0.1.1", 80, ipvs.Route, 1), dest("10.0.1.2", 80, ipvs.Route, 1)
	svc.Destinations = []ipvs.Destination{a, b}
	s.addService(svc)
	s.must(s.k.DelDestination(s.ctx, svc.ServiceKey, a))
	s.wantErr("deleting a destination twice", s.k.DelDestination(s.ctx, svc.ServiceKey, a), syscall.ENOENT)
	s.wantErr("deleting a destination on another port",
		s.k.DelDestination(s.ctx, svc.ServiceKey, dest("10.0.1.2", 81, ipvs.Route, 1)), syscall.ENOENT)
	svc.Destinations = []ipvs.Destination{b}
	s.wantServices(svc)
}

func testDestMissingService(t *testing.T, s *suite) {
	svc := tcp4("10.0.0.1", 80)
	s.addService(svc)
	d := dest("10.0.1.1", 80, ipvs.Route, 1)
	for _, k := range []ipvs.ServiceKey{svcKey(ipvs.TCP, "10.0.0.2", 80), svcKey(ipvs.UDP, "10.0.0.1", 80), fwm(1, ipvs.IPv4)} {
		s.wantErr("adding a destination to missing "+k.String(), s.k.AddDestination(s.ctx, k, d), syscall.ESRCH)
		s.wantErr("updating a destination of missing "+k.String(), s.k.UpdateDestination(s.ctx, k, d), syscall.ESRCH)
		s.wantErr("deleting a destination of missing "+k.String(), s.k.DelDestination(s.ctx, k, d), syscall.ESRCH)
	}
	s.wantServices(svc)
}

func testDestFWMark(t *testing.T, s *suite) {
	v4 := ipvs.Service{ServiceKey: fwm(1, ipvs.IPv4), Scheduler: "rr", NetmaskBits: 32}
	v4.Destinations = []ipvs.Destination{dest("10.0.1.1", 0, ipvs.Route, 1), dest("10.0.1.2", 8080, ipvs.Masq, 1)}
	v6 := ipvs.Service{ServiceKey: fwm(1, ipvs.IPv6), Scheduler: "rr", NetmaskBits: 128}
	v6.Destinations = []ipvs.Destination{dest("2001:db8::10", 0, ipvs.Route, 1), dest("10.0.1.3", 0, ipvs.Tunnel, 1)}
	s.addService(v4)
	s.addService(v6)
	s.wantServices(v4, v6)
}

// testPartialRead reads every service and the destinations of some.
func testPartialRead(t *testing.T, s *suite) {
	pr, ok := s.k.(kernel.PartialReader)
	if !ok {
		t.Skip("the kernel has no ServicesWith")
	}
	a, b := tcp4("192.0.2.1", 80), tcp4("192.0.2.2", 80)
	a.Destinations = []ipvs.Destination{dest("10.0.1.1", 80, ipvs.Route, 1), dest("10.0.1.2", 80, ipvs.Route, 2)}
	b.Destinations = []ipvs.Destination{dest("10.0.1.3", 80, ipvs.Route, 3)}
	s.addService(a)
	s.addService(b)
	got, err := pr.ServicesWith(s.ctx, func(k ipvs.ServiceKey) bool { return k == b.ServiceKey })
	s.must(err)
	sortServices(got)
	bare := a
	bare.Destinations = nil
	s.diff("services with the destinations of one", got, []ipvs.Service{bare, b})
	got, err = pr.ServicesWith(s.ctx, nil)
	s.must(err)
	sortServices(got)
	s.diff("services with every destination", got, []ipvs.Service{a, b})
}

// batch returns the kernel's BatchWriter, skipping the test without one.
func (s *suite) batch() kernel.BatchWriter {
	s.t.Helper()
	bw, ok := s.k.(kernel.BatchWriter)
	if !ok {
		s.t.Skip("the kernel has no WriteBatch")
	}
	return bw
}

// wantBatch runs ws as one batch and checks each write's outcome: nil, or
// the errno of want at the same index (0 for success).
func (s *suite) wantBatch(ws []kernel.IPVSWrite, want []syscall.Errno) {
	s.t.Helper()
	errs, err := s.batch().WriteBatch(s.ctx, ws)
	s.must(err)
	if len(errs) != len(ws) {
		s.t.Fatalf("%d errors for %d writes", len(errs), len(ws))
	}
	for i, e := range errs {
		what := fmt.Sprintf("batch write %d (%v %s %s)", i, ws[i].Op, ws[i].Service.ServiceKey, ws[i].Dest.AddrPort())
		if want[i] == 0 {
			if e != nil {
				s.t.Fatalf("%s: %v", what, e)
			}
			continue
		}
		s.wantErr(what, e, want[i])
	}
}

func addSvc(svc ipvs.Service) kernel.IPVSWrite {
	return kernel.IPVSWrite{Op: kernel.AddService, Service: svc}
}

func destWrite(op kernel.WriteOp, k ipvs.ServiceKey, d ipvs.Destination) kernel.IPVSWrite {
	return kernel.IPVSWrite{Op: op, Service: ipvs.Service{ServiceKey: k}, Dest: d}
}

// testBatchWrites: every kind of write in one batch, each seeing the
// effect of the ones before it.
func testBatchWrites(t *testing.T, s *suite) {
	a := tcp4("10.0.0.1", 80)
	mark := ipvs.Service{ServiceKey: fwm(4, ipvs.IPv6), Scheduler: "rr", NetmaskBits: 128}
	gone := tcp4("10.0.0.3", 80)
	d1, d2, d3 := dest("10.0.1.1", 80, ipvs.Route, 1), dest("10.0.1.2", 80, ipvs.Route, 2), dest("10.0.1.3", 80, ipvs.Masq, 3)
	up := d2
	up.Weight, up.UpperThreshold, up.LowerThreshold = 5, 100, 10
	a2 := a
	a2.Scheduler, a2.Flags, a2.Timeout, a2.NetmaskBits = "wlc", ipvs.FlagPersistent, 60, 24
	ws := []kernel.IPVSWrite{
		addSvc(a),
		destWrite(kernel.AddDestination, a.ServiceKey, d1),
		destWrite(kernel.AddDestination, a.ServiceKey, d2),
		destWrite(kernel.AddDestination, a.ServiceKey, d3),
		destWrite(kernel.UpdateDestination, a.ServiceKey, up),
		destWrite(kernel.DelDestination, a.ServiceKey, d1),
		{Op: kernel.UpdateService, Service: a2},
		addSvc(mark),
		destWrite(kernel.AddDestination, mark.ServiceKey, dest("2001:db8::10", 0, ipvs.Route, 1)),
		addSvc(gone),
		destWrite(kernel.AddDestination, gone.ServiceKey, d1),
		{Op: kernel.DelService, Service: ipvs.Service{ServiceKey: gone.ServiceKey}},
	}
	s.wantBatch(ws, make([]syscall.Errno, len(ws)))
	a2.Destinations = []ipvs.Destination{up, d3}
	mark.Destinations = []ipvs.Destination{dest("2001:db8::10", 0, ipvs.Route, 1)}
	s.wantServices(a2, mark)
}

// testBatchFailures: a failed write does not stop the batch, and each
// write gets the errno its single-write method gets: the destinations of
// a service whose creation failed fail with ESRCH, and the writes after
// them are done.
func testBatchFailures(t *testing.T, s *suite) {
	ok := tcp4("10.0.0.1", 80)
	s.addService(ok)
	twos := tcp4("10.0.0.2", 80)
	twos.Scheduler = "twos"
	d := dest("10.0.1.1", 80, ipvs.Route, 1)
	bad := dest("10.0.1.2", 80, ipvs.Route, 1)
	bad.LowerThreshold, bad.UpperThreshold = 10, 5
	later := tcp4("10.0.0.3", 80)
	nofamily := tcp4("10.0.0.4", 80)
	nofamily.Family = 0
	ws := []kernel.IPVSWrite{
		addSvc(twos),
		destWrite(kernel.AddDestination, twos.ServiceKey, d),
		destWrite(kernel.AddDestination, twos.ServiceKey, bad),
		destWrite(kernel.AddDestination, ok.ServiceKey, d),
		destWrite(kernel.AddDestination, ok.ServiceKey, d),
		destWrite(kernel.AddDestination, ok.ServiceKey, bad),
		destWrite(kernel.UpdateDestination, ok.ServiceKey, dest("10.0.1.9", 80, ipvs.Route, 1)),
		destWrite(kernel.DelDestination, ok.ServiceKey, dest("10.0.1.9", 80, ipvs.Route, 1)),
		addSvc(ok),
		{Op: kernel.DelService, Service: ipvs.Service{ServiceKey: twos.ServiceKey}},
		addSvc(nofamily),
		addSvc(later),
		destWrite(kernel.AddDestination, later.ServiceKey, d),
	}
	s.wantBatch(ws, []syscall.Errno{
		syscall.ENOENT, // no scheduler twos
		syscall.ESRCH,  // its service does not exist
		syscall.ESRCH,  // checked before the thresholds
		0,
		syscall.EEXIST,
		syscall.ERANGE,
		syscall.ENOENT,
		syscall.ENOENT,
		syscall.EEXIST,
		syscall.ESRCH,
		syscall.EAFNOSUPPORT,
		0,
		0,
	})
	ok.Destinations = []ipvs.Destination{d}
	later.Destinations = []ipvs.Destination{d}
	s.wantServices(ok, later)
}

// testBatchLarge: a batch of more writes than one netlink message holds,
// with failures spread over it, gives every write its own outcome.
func testBatchLarge(t *testing.T, s *suite) {
	var ws []kernel.IPVSWrite
	var want []syscall.Errno
	var table []ipvs.Service
	for i := range 300 {
		svc := tcp4(fmt.Sprintf("10.1.%d.%d", i/250, 1+i%250), 80)
		failing := i%37 == 5
		if failing {
			svc.Scheduler = "nosuch"
		}
		ws, want = append(ws, addSvc(svc)), append(want, map[bool]syscall.Errno{true: syscall.ENOENT}[failing])
		for j := range 3 {
			d := dest(fmt.Sprintf("10.2.%d.%d", j, 1+i%250), 80, ipvs.Route, int32(j+1))
			ws = append(ws, destWrite(kernel.AddDestination, svc.ServiceKey, d))
			if failing {
				want = append(want, syscall.ESRCH)
				continue
			}
			want = append(want, 0)
			svc.Destinations = append(svc.Destinations, d)
		}
		if i%53 == 7 {
			// The same destination again.
			ws = append(ws, destWrite(kernel.AddDestination, svc.ServiceKey, svc.Destinations[0]))
			want = append(want, syscall.EEXIST)
		}
		if !failing {
			table = append(table, svc)
		}
	}
	s.wantBatch(ws, want)
	s.wantServices(table...)
}

func testBatchEmpty(t *testing.T, s *suite) {
	s.wantBatch(nil, nil)
	s.wantServices()
}

// testBatchCancelled: a batch under a done context sends nothing and says
// so for every write.
func testBatchCancelled(t *testing.T, s *suite) {
	bw := s.batch()
	ctx, cancel := context.WithCancel(s.ctx)
	cancel()
	svc := tcp4("10.0.0.1", 80)
	errs, err := bw.WriteBatch(ctx, []kernel.IPVSWrite{addSvc(svc), destWrite(kernel.AddDestination, svc.ServiceKey, dest("10.0.1.1", 80, ipvs.Route, 1))})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("batch under a cancelled context: %v, want context.Canceled", err)
	}
	for i, e := range errs {
		if !errors.Is(e, kernel.ErrNotSent) {
			t.Errorf("write %d: %v, want ErrNotSent", i, e)
		}
	}
	s.wantServices()
}

func testTimeoutsDefault(t *testing.T, s *suite) {
	got, err := s.k.Timeouts(s.ctx)
	s.must(err)
	s.diff("default timeouts", got, kernel.Timeouts{TCP: 900, TCPFin: 120, UDP: 300})
}

func testTimeoutsSet(t *testing.T, s *suite) {
	read := func() kernel.Timeouts {
		got, err := s.k.Timeouts(s.ctx)
		s.must(err)
		return got
	}
	want := kernel.Timeouts{TCP: 3600, TCPFin: 60, UDP: 200}
	s.must(s.k.SetTimeouts(s.ctx, want))
	s.diff("timeouts", read(), want)
	// Zero leaves a timeout as it is.
	s.must(s.k.SetTimeouts(s.ctx, kernel.Timeouts{UDP: 30}))
	want.UDP = 30
	s.diff("timeouts after setting only udp", read(), want)
	s.must(s.k.SetTimeouts(s.ctx, kernel.Timeouts{}))
	s.diff("timeouts after setting none", read(), want)
	s.wantErr("setting a negative timeout", s.k.SetTimeouts(s.ctx, kernel.Timeouts{TCP: -1}), syscall.EINVAL)
	// The kernel keeps them in jiffies in an int: at most INT_MAX/HZ s.
	s.wantErr("setting a timeout of 2^30 s", s.k.SetTimeouts(s.ctx, kernel.Timeouts{UDP: 1 << 30}), syscall.EINVAL)
	s.diff("timeouts after a refused write", read(), want)
}

// link returns the device named name, or false.
func (s *suite) link(name string) (kernel.Link, bool) {
	s.t.Helper()
	links, err := s.k.Links(s.ctx)
	s.must(err)
	i := slices.IndexFunc(links, func(l kernel.Link) bool { return l.Name == name })
	if i < 0 {
		return kernel.Link{}, false
	}
	return links[i], true
}

func testLinksDummy(t *testing.T, s *suite) {
	if l, ok := s.link(Device); !ok || !l.Up {
		t.Fatalf("device %s: %+v, present %v; want it up", Device, l, ok)
	}
	for _, name := range []string{"lvs0", "vip.100", "a-b_c"} {
		s.must(s.k.AddLink(s.ctx, kernel.Link{Name: name, Kind: "dummy"}))
		got, ok := s.link(name)
		if !ok {
			t.Fatalf("link %s missing after AddLink", name)
		}
		s.diff("link "+name, got, kernel.Link{Name: name, Kind: "dummy", Up: true})
		s.wantErr("adding link "+name+" twice", s.k.AddLink(s.ctx, kernel.Link{Name: name, Kind: "dummy"}), syscall.EEXIST)
		s.must(s.k.SetLinkUp(s.ctx, name))
		s.must(s.k.DelLink(s.ctx, name))
		if _, ok := s.link(name); ok {
			t.Fatalf("link %s still there after DelLink", name)
		}
		s.wantErr("deleting link "+name+" twice", s.k.DelLink(s.ctx, name), syscall.ENODEV)
	}
	s.wantErr("adding a dummy named after an existing device", s.k.AddLink(s.ctx, kernel.Link{Name: Device, Kind: "dummy"}), syscall.EEXIST)
}

func testLinksFallback(t *testing.T, s *suite) {
	for _, l := range []kernel.Link{{Name: "tunl0", Kind: "ipip"}, {Name: "sit0", Kind: "sit"}, {Name: "gre0", Kind: "gre"}, {Name: "ip6tnl0", Kind: "ip6tnl", Mode: "ip6ip6"}, {Name: "ip6gre0", Kind: "ip6gre"}} {
		s.must(s.k.AddLink(s.ctx, l))
		got, ok := s.link(l.Name)
		if !ok {
			t.Fatalf("link %s missing after AddLink", l.Name)
		}
		l.Up = true
		s.diff("link "+l.Name, got, l)
		// Asking again is harmless: the device is the module's.
		s.must(s.k.AddLink(s.ctx, l))
		s.must(s.k.SetLinkUp(s.ctx, l.Name))
	}
	s.wantErr("adding tunl0 as a gre device", s.k.AddLink(s.ctx, kernel.Link{Name: "tunl0", Kind: "gre"}), syscall.EINVAL)
	s.wantErr("adding tunl0 with a mode", s.k.AddLink(s.ctx, kernel.Link{Name: "tunl0", Kind: "ipip", Mode: "any"}), syscall.EINVAL)
}

func testLinksFallbackMode(t *testing.T, s *suite) {
	// The fallback ip6tnl0 starts as ip6ip6.
	s.must(s.k.AddLink(s.ctx, kernel.Link{Name: "ip6tnl0", Kind: "ip6tnl"}))
	for _, mode := range []string{"any", "ipip6", "ip6ip6", "any"} {
		s.must(s.k.AddLink(s.ctx, kernel.Link{Name: "ip6tnl0", Kind: "ip6tnl", Mode: mode}))
		got, _ := s.link("ip6tnl0")
		s.diff("ip6tnl0", got, kernel.Link{Name: "ip6tnl0", Kind: "ip6tnl", Mode: mode, Up: true})
	}
	// Without a mode, the device keeps its own.
	s.must(s.k.AddLink(s.ctx, kernel.Link{Name: "ip6tnl0", Kind: "ip6tnl"}))
	got, _ := s.link("ip6tnl0")
	s.diff("ip6tnl0", got, kernel.Link{Name: "ip6tnl0", Kind: "ip6tnl", Mode: "any", Up: true})
	s.wantErr("setting an unknown mode", s.k.AddLink(s.ctx, kernel.Link{Name: "ip6tnl0", Kind: "ip6tnl", Mode: "gre"}), syscall.EINVAL)
}

func testLinksDeleteFallback(t *testing.T, s *suite) {
	// The tunnel modules' dellink skips their fallback device: deleting
	// it succeeds, and it stays.
	for _, l := range []kernel.Link{{Name: "tunl0", Kind: "ipip"}, {Name: "sit0", Kind: "sit"}, {Name: "gre0", Kind: "gre"}, {Name: "ip6tnl0", Kind: "ip6tnl"}, {Name: "ip6gre0", Kind: "ip6gre"}} {
		s.must(s.k.AddLink(s.ctx, l))
		s.must(s.k.DelLink(s.ctx, l.Name))
		if _, ok := s.link(l.Name); !ok {
			t.Fatalf("%s gone after DelLink", l.Name)
		}
	}
	s.wantErr("deleting lo", s.k.DelLink(s.ctx, "lo"), syscall.EOPNOTSUPP)
}

func testLinksMissing(t *testing.T, s *suite) {
	s.wantErr("setting a missing link up", s.k.SetLinkUp(s.ctx, "nosuch0"), syscall.ENODEV)
	s.wantErr("deleting a missing link", s.k.DelLink(s.ctx, "nosuch0"), syscall.ENODEV)
}

// addresses returns the addresses on the named devices, IPv6 link-local
// ones (which the kernel adds by itself) left out.
func (s *suite) addresses(devs ...string) []kernel.Address {
	s.t.Helper()
	all, err := s.k.Addresses(s.ctx)
	s.must(err)
	var out []kernel.Address
	for _, a := range all {
		if slices.Contains(devs, a.Device) && !a.Prefix.Addr().IsLinkLocalUnicast() {
			out = append(out, a)
		}
	}
	sortAddresses(out)
	return out
}

func sortAddresses(as []kernel.Address) {
	slices.SortFunc(as, func(a, b kernel.Address) int {
		return cmp.Or(cmp.Compare(a.Device, b.Device), a.Prefix.Addr().Compare(b.Prefix.Addr()), cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()))
	})
}

func (s *suite) wantAddresses(devs []string, want ...kernel.Address) {
	s.t.Helper()
	want = slices.Clone(want)
	sortAddresses(want)
	s.diff("addresses", s.addresses(devs...), want)
}

func testAddresses(t *testing.T, s *suite) {
	want := []kernel.Address{
		{Device: Device, Prefix: pfx("10.0.0.2/24")},
		{Device: Device, Prefix: pfx("10.0.0.100/32")},
		{Device: Device, Prefix: pfx("2001:db8::2/64")},
		{Device: Device, Prefix: pfx("2001:db8::100/128")},
	}
	for _, a := range want {
		s.must(s.k.AddAddress(s.ctx, a))
	}
	s.wantAddresses([]string{Device}, want...)
	for _, a := range want {
		s.wantErr("adding "+a.String()+" twice", s.k.AddAddress(s.ctx, a), syscall.EEXIST)
	}
	s.must(s.k.DelAddress(s.ctx, want[0]))
	s.must(s.k.DelAddress(s.ctx, want[2]))
	s.wantAddresses([]string{Device}, want[1], want[3])
	s.wantErr("deleting an address twice", s.k.DelAddress(s.ctx, want[0]), syscall.EADDRNOTAVAIL)
	s.wantErr("deleting an IPv6 address twice", s.k.DelAddress(s.ctx, want[2]), syscall.EADDRNOTAVAIL)
}

func testAddressErrors(t *testing.T, s *suite) {
	a := kernel.Address{Device: "nosuch0", Prefix: pfx("10.0.0.2/24")}
	s.wantErr("adding an address to a missing device", s.k.AddAddress(s.ctx, a), syscall.ENODEV)
	a6 := kernel.Address{Device: "nosuch0", Prefix: pfx("2001:db8::2/64")}
	s.wantErr("adding an IPv6 address to a missing device", s.k.AddAddress(s.ctx, a6), syscall.ENODEV)
	s.wantErr("deleting an address from a missing device", s.k.DelAddress(s.ctx, a), syscall.ENODEV)
	s.wantErr("deleting an IPv6 address from a missing device", s.k.DelAddress(s.ctx, a6), syscall.ENODEV)
	s.wantErr("deleting an address that is not there", s.k.DelAddress(s.ctx, kernel.Address{Device: Device, Prefix: pfx("10.0.0.3/24")}), syscall.EADDRNOTAVAIL)
	s.must(s.k.AddAddress(s.ctx, kernel.Address{Device: Device, Prefix: pfx("10.0.0.2/24")}))
	s.must(s.k.AddAddress(s.ctx, kernel.Address{Device: Device, Prefix: pfx("2001:db8::2/64")}))
	// An address is deleted with its prefix length.
	s.wantErr("deleting an address with another prefix length", s.k.DelAddress(s.ctx, kernel.Address{Device: Device, Prefix: pfx("10.0.0.2/32")}), syscall.EADDRNOTAVAIL)
	s.wantErr("deleting an IPv6 address with another prefix length", s.k.DelAddress(s.ctx, kernel.Address{Device: Device, Prefix: pfx("2001:db8::2/128")}), syscall.EADDRNOTAVAIL)
	s.wantAddresses([]string{Device}, kernel.Address{Device: Device, Prefix: pfx("10.0.0.2/24")}, kernel.Address{Device: Device, Prefix: pfx("2001:db8::2/64")})
}

func testAddressPrefixLength(t *testing.T, s *suite) {
	// IPv4 takes an address again with another prefix length, IPv6 not.
	a24 := kernel.Address{Device: Device, Prefix: pfx("10.0.0.2/24")}
	a32 := kernel.Address{Device: Device, Prefix: pfx("10.0.0.2/32")}
	a64 := kernel.Address{Device: Device, Prefix: pfx("2001:db8::2/64")}
	s.must(s.k.AddAddress(s.ctx, a24))
	s.must(s.k.AddAddress(s.ctx, a32))
	s.must(s.k.AddAddress(s.ctx, a64))
	s.wantErr("adding an IPv6 address again with another prefix length",
		s.k.AddAddress(s.ctx, kernel.Address{Device: Device, Prefix: pfx("2001:db8::2/128")}), syscall.EEXIST)
	// Another device may have the same address.
	s.must(s.k.AddLink(s.ctx, kernel.Link{Name: "lvs0", Kind: "dummy"}))
	b24 := kernel.Address{Device: "lvs0", Prefix: pfx("10.0.0.2/24")}
	b64 := kernel.Address{Device: "lvs0", Prefix: pfx("2001:db8::2/64")}
	s.must(s.k.AddAddress(s.ctx, b24))
	s.must(s.k.AddAddress(s.ctx, b64))
	s.wantAddresses([]string{Device, "lvs0"}, a24, a32, a64, b24, b64)
	s.must(s.k.DelAddress(s.ctx, a32))
	s.wantAddresses([]string{Device, "lvs0"}, a24, a64, b24, b64)
}

func testAddressFlags(t *testing.T, s *suite) {
	want := []kernel.Address{
		{Device: Device, Prefix: pfx("2001:db8::1/128"), NoDAD: true, Deprecated: true},
		{Device: Device, Prefix: pfx("2001:db8::2/128"), NoDAD: true},
		{Device: Device, Prefix: pfx("2001:db8::3/64"), Deprecated: true},
		{Device: Device, Prefix: pfx("2001:db8::4/64")},
		{Device: Device, Prefix: pfx("10.0.0.1/32")},
	}
	for _, a := range want {
		s.must(s.k.AddAddress(s.ctx, a))
	}
	// IPv4 has neither flag.
	s.must(s.k.AddAddress(s.ctx, kernel.Address{Device: Device, Prefix: pfx("10.0.0.2/32"), NoDAD: true, Deprecated: true}))
	want = append(want, kernel.Address{Device: Device, Prefix: pfx("10.0.0.2/32")})
	s.wantAddresses([]string{Device}, want...)
	// An address is its device and prefix: the flags do not tell two
	// apart, and deleting ignores them.
	s.wantErr("adding an address again with other flags",
		s.k.AddAddress(s.ctx, kernel.Address{Device: Device, Prefix: pfx("2001:db8::4/64"), NoDAD: true}), syscall.EEXIST)
	s.must(s.k.DelAddress(s.ctx, kernel.Address{Device: Device, Prefix: pfx("2001:db8::1/128")}))
	s.wantAddresses([]string{Device}, want[1:]...)
}

func testAddressesLinkDeleted(t *testing.T, s *suite) {
	s.must(s.k.AddLink(s.ctx, kernel.Link{Name: "lvs0", Kind: "dummy"}))
	a := kernel.Address{Device: "lvs0", Prefix: pfx("10.0.0.100/32")}
	a6 := kernel.Address{Device: "lvs0", Prefix: pfx("2001:db8::100/128")}
	s.must(s.k.AddAddress(s.ctx, a))
	s.must(s.k.AddAddress(s.ctx, a6))
	s.wantAddresses([]string{"lvs0"}, a, a6)
	s.must(s.k.DelLink(s.ctx, "lvs0"))
	s.wantAddresses([]string{"lvs0"})
}

func (s *suite) routes() []kernel.Route {
	s.t.Helper()
	rs, err := s.k.Routes(s.ctx)
	s.must(err)
	sortRoutes(rs)
	return rs
}

func sortRoutes(rs []kernel.Route) {
	slices.SortFunc(rs, func(a, b kernel.Route) int {
		return cmp.Or(a.Dst.Addr().Compare(b.Dst.Addr()), cmp.Compare(a.Dst.Bits(), b.Dst.Bits()), a.Gateway.Compare(b.Gateway))
	})
}

func (s *suite) wantRoutes(want ...kernel.Route) {
	s.t.Helper()
	want = slices.Clone(want)
	sortRoutes(want)
	s.diff("routes", s.routes(), want)
}

// connect puts subnets on Device for gateways to be on.
func (s *suite) connect() {
	s.t.Helper()
	s.must(s.k.AddAddress(s.ctx, kernel.Address{Device: Device, Prefix: pfx("10.0.0.2/24")}))
	s.must(s.k.AddAddress(s.ctx, kernel.Address{Device: Device, Prefix: pfx("2001:db8::2/64")}))
}

func testRoutes(t *testing.T, s *suite) {
	s.wantRoutes()
	s.connect()
	want := []kernel.Route{
		{Dst: pfx("192.168.0.0/16"), Gateway: ip("10.0.0.1")},
		{Dst: pfx("172.16.1.1/32"), Gateway: ip("10.0.0.3")},
		{Dst: pfx("0.0.0.0/0"), Gateway: ip("10.0.0.1")},
		{Dst: pfx("2001:db8:100::/48"), Gateway: ip("2001:db8::1")},
		{Dst: pfx("::/0"), Gateway: ip("2001:db8::1")},
	}
	for _, r := range want {
		s.must(s.k.AddRoute(s.ctx, r))
	}
	s.wantRoutes(want...)
	for _, r := range want {
		s.must(s.k.DelRoute(s.ctx, r))
	}
	s.wantRoutes()
}

func testRouteErrors(t *testing.T, s *suite) {
	s.connect()
	r := kernel.Route{Dst: pfx("192.168.0.0/16"), Gateway: ip("10.0.0.1")}
	r6 := kernel.Route{Dst: pfx("2001:db8:100::/48"), Gateway: ip("2001:db8::1")}
	s.must(s.k.AddRoute(s.ctx, r))
	s.must(s.k.AddRoute(s.ctx, r6))
	s.wantErr("adding a route twice", s.k.AddRoute(s.ctx, r), syscall.EEXIST)
	s.wantErr("adding an IPv6 route twice", s.k.AddRoute(s.ctx, r6), syscall.EEXIST)
	// The destination names the route: another gateway does not make
	// another one.
	s.wantErr("adding a route to the same destination via another gateway",
		s.k.AddRoute(s.ctx, kernel.Route{Dst: r.Dst, Gateway: ip("10.0.0.3")}), syscall.EEXIST)
	s.wantErr("adding a route via an off-link gateway",
		s.k.AddRoute(s.ctx, kernel.Route{Dst: pfx("172.16.0.0/16"), Gateway: ip("10.9.0.1")}), syscall.ENETUNREACH)
	s.wantErr("adding an IPv6 route via an off-link gateway",
		s.k.AddRoute(s.ctx, kernel.Route{Dst: pfx("2001:db8:200::/48"), Gateway: ip("2001:db8:9::1")}), syscall.ENETUNREACH)
	s.wantErr("deleting a missing route", s.k.DelRoute(s.ctx, kernel.Route{Dst: pfx("172.16.0.0/16"), Gateway: ip("10.0.0.1")}), syscall.ESRCH)
	s.wantErr("deleting a route via another gateway", s.k.DelRoute(s.ctx, kernel.Route{Dst: r.Dst, Gateway: ip("10.0.0.3")}), syscall.ESRCH)
	s.wantErr("deleting a missing IPv6 route", s.k.DelRoute(s.ctx, kernel.Route{Dst: pfx("2001:db8:200::/48"), Gateway: ip("2001:db8::1")}), syscall.ESRCH)
	s.wantRoutes(r, r6)
}

func testAddressReplace(t *testing.T, s *suite) {
	plain := kernel.Address{Device: Device, Prefix: pfx("2001:db8::10/128")}
	flagged := kernel.Address{Device: Device, Prefix: pfx("2001:db8::10/128"), NoDAD: true, Deprecated: true}
	v4 := kernel.Address{Device: Device, Prefix: pfx("192.0.2.10/32")}
	// An address bound without its flags gets them in place, and loses
	// them again.
	s.must(s.k.AddAddress(s.ctx, plain))
	s.must(s.k.ReplaceAddress(s.ctx, flagged))
	s.wantAddresses([]string{Device}, flagged)
	s.must(s.k.ReplaceAddress(s.ctx, plain))
	s.wantAddresses([]string{Device}, plain)
	// Replacing what is not there binds it.
	s.must(s.k.ReplaceAddress(s.ctx, v4))
	s.must(s.k.ReplaceAddress(s.ctx, v4))
	s.wantAddresses([]string{Device}, plain, v4)
	s.wantErr("replacing an address on a missing device",
		s.k.ReplaceAddress(s.ctx, kernel.Address{Device: "nosuch0", Prefix: pfx("192.0.2.11/32")}), syscall.ENODEV)
}

func testRouteChange(t *testing.T, s *suite) {
	s.connect()
	r := kernel.Route{Dst: pfx("0.0.0.0/0"), Gateway: ip("10.0.0.1")}
	r6 := kernel.Route{Dst: pfx("::/0"), Gateway: ip("2001:db8::1")}
	s.must(s.k.AddRoute(s.ctx, r))
	s.must(s.k.AddRoute(s.ctx, r6))
	r.Gateway, r6.Gateway = ip("10.0.0.3"), ip("2001:db8::3")
	s.must(s.k.ChangeRoute(s.ctx, r))
	s.must(s.k.ChangeRoute(s.ctx, r6))
	s.wantRoutes(r, r6)
	s.wantErr("changing a missing route",
		s.k.ChangeRoute(s.ctx, kernel.Route{Dst: pfx("172.16.0.0/16"), Gateway: ip("10.0.0.1")}), syscall.ENOENT)
	s.wantErr("changing a missing IPv6 route",
		s.k.ChangeRoute(s.ctx, kernel.Route{Dst: pfx("2001:db8:200::/48"), Gateway: ip("2001:db8::1")}), syscall.ENOENT)
	s.wantErr("changing a route to an off-link gateway",
		s.k.ChangeRoute(s.ctx, kernel.Route{Dst: r.Dst, Gateway: ip("10.9.0.1")}), syscall.ENETUNREACH)
	s.wantErr("changing an IPv6 route to an off-link gateway",
		s.k.ChangeRoute(s.ctx, kernel.Route{Dst: r6.Dst, Gateway: ip("2001:db8:9::1")}), syscall.ENETUNREACH)
	s.wantRoutes(r, r6)
}

func testFOU(t *testing.T, s *suite) {
	fous := func() []kernel.FOU {
		got, err := s.k.FOUs(s.ctx)
		s.must(err)
		slices.SortFunc(got, func(a, b kernel.FOU) int {
			return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(fmt.Sprint(a.IPv6), fmt.Sprint(b.IPv6)))
		})
		return got
	}
	s.diff("fou ports of a fresh kernel", fous(), []kernel.FOU{})
	want := []kernel.FOU{{Port: 5555}, {Port: 5555, IPv6: true}, {Port: 6080}}
	for _, f := range want {
		s.must(s.k.AddFOU(s.ctx, f))
	}
	s.diff("fou ports", fous(), want)
	for _, f := range want {
		s.wantErr("adding "+f.String()+" twice", s.k.AddFOU(s.ctx, f), syscall.EEXIST)
	}
	s.must(s.k.DelFOU(s.ctx, want[0]))
	s.diff("fou ports after a delete", fous(), want[1:])
	s.wantErr("deleting a fou port twice", s.k.DelFOU(s.ctx, want[0]), syscall.ENOENT)
	s.wantErr("deleting a missing IPv6 fou port", s.k.DelFOU(s.ctx, kernel.FOU{Port: 6080, IPv6: true}), syscall.ENOENT)
}

func (s *suite) sysctl(key string) string {
	s.t.Helper()
	v, err := s.k.Sysctl(s.ctx, key)
	s.must(err)
	return v
}

func testSysctls(t *testing.T, s *suite) {
	for _, kv := range [][2]string{
		{"net.ipv4.ip_forward", "1"},
		{"net.ipv4.ip_forward", "0"},
		{"net.ipv6.conf.all.forwarding", "1"},
		{"net.ipv4.vs.conntrack", "1"},
		{"net.ipv4.vs.expire_nodest_conn", "1"},
		{"net.ipv4.conf.all.arp_ignore", "1"},
		{"net.ipv4.conf.all.arp_announce", "2"},
		{"net.ipv4.conf." + Device + ".rp_filter", "2"},
		{"net.ipv4.conf." + Device + ".send_redirects", "0"},
	} {
		s.must(s.k.SetSysctl(s.ctx, kv[0], kv[1]))
		if got := s.sysctl(kv[0]); got != kv[1] {
			t.Errorf("%s = %q after writing %q", kv[0], got, kv[1])
		}
	}
}

func testSysctlUnknown(t *testing.T, s *suite) {
	for _, key := range []string{"net.ipv4.nosuch", "net.ipv4.conf.nosuch0.rp_filter", "nosuch"} {
		_, err := s.k.Sysctl(s.ctx, key)
		s.wantErr("reading "+key, err, syscall.ENOENT)
		s.wantErr("writing "+key, s.k.SetSysctl(s.ctx, key, "1"), syscall.ENOENT)
	}
}

func testSysctlPerDevice(t *testing.T, s *suite) {
	// A device name may have dots: the key's device part is all of them.
	for _, name := range []string{"lvs0", "vip.100"} {
		keys := []string{"arp_ignore", "arp_announce", "rp_filter", "send_redirects"}
		for _, k := range keys {
			_, err := s.k.Sysctl(s.ctx, "net.ipv4.conf."+name+"."+k)
			s.wantErr("reading a key of a device not yet there", err, syscall.ENOENT)
		}
		s.must(s.k.AddLink(s.ctx, kernel.Link{Name: name, Kind: "dummy"}))
		for _, k := range keys {
			key := "net.ipv4.conf." + name + "." + k
			s.sysctl(key)
			s.must(s.k.SetSysctl(s.ctx, key, "2"))
			if got := s.sysctl(key); got != "2" {
				t.Errorf("%s = %q after writing 2", key, got)
			}
		}
		s.must(s.k.DelLink(s.ctx, name))
		_, err := s.k.Sysctl(s.ctx, "net.ipv4.conf."+name+".rp_filter")
		s.wantErr("reading a key of a deleted device", err, syscall.ENOENT)
	}
}
