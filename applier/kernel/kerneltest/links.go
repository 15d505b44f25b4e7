package kerneltest

import (
	"slices"
	"syscall"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// linkTests are the tests of kernel.Links.
var linkTests = []test{
	{"Links/Dummy", testLinksDummy},
	{"Links/Fallback", testLinksFallback},
	{"Links/FallbackMode", testLinksFallbackMode},
	{"Links/DeleteFallback", testLinksDeleteFallback},
	{"Links/Missing", testLinksMissing},
	{"Links/OpErrors", testLinkOpErrors},
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

// testLinkOpErrors: a failed device write is an *OpError naming the
// device.
func testLinkOpErrors(t *testing.T, s *suite) {
	s.wantOpError(s.k.AddLink(s.ctx, kernel.Link{Name: "nosuch0", Kind: "veth"}), "adding", "link nosuch0", syscall.EOPNOTSUPP)
	s.wantOpError(s.k.SetLinkUp(s.ctx, "nosuch0"), "setting up", "link nosuch0", syscall.ENODEV)
	s.wantOpError(s.k.DelLink(s.ctx, "nosuch0"), "deleting", "link nosuch0", syscall.ENODEV)
}
