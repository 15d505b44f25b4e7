package kerneltest

import (
	"syscall"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// hostTests are the tests where objects of two kinds meet: they need the whole kernel.
var hostTests = []test{
	{"Destinations/Addresses", testDestAddresses},
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
