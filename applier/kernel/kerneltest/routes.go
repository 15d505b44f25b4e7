package kerneltest

import (
	"cmp"
	"slices"
	"syscall"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// routeTests are the tests of kernel.Routes.
var routeTests = []test{
	{"Routes/Add", testRoutes},
	{"Routes/Errors", testRouteErrors},
	{"Routes/Change", testRouteChange},
	{"Routes/OpErrors", testRouteOpErrors},
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

// testRouteOpErrors: a failed route write is an *OpError naming the
// route.
func testRouteOpErrors(t *testing.T, s *suite) {
	s.connect()
	r := kernel.Route{Dst: pfx("192.168.0.0/16"), Gateway: ip("10.0.0.1")}
	s.must(s.k.AddRoute(s.ctx, r))
	s.wantOpError(s.k.AddRoute(s.ctx, r), "adding", "route 192.168.0.0/16 via 10.0.0.1", syscall.EEXIST)
	s.wantOpError(s.k.DelRoute(s.ctx, kernel.Route{Dst: pfx("172.16.0.0/16"), Gateway: ip("10.0.0.1")}), "deleting", "route 172.16.0.0/16 via 10.0.0.1", syscall.ESRCH)
	s.wantOpError(s.k.ChangeRoute(s.ctx, kernel.Route{Dst: r.Dst, Gateway: ip("10.9.0.1")}), "changing", "route 192.168.0.0/16 via 10.9.0.1", syscall.ENETUNREACH)
	s.wantRoutes(r)
}
