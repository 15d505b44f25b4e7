package kerneltest

import (
	"cmp"
	"slices"
	"syscall"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// addressTests are the tests of kernel.Addresses.
var addressTests = []test{
	{"Addresses/Add", testAddresses},
	{"Addresses/Errors", testAddressErrors},
	{"Addresses/PrefixLength", testAddressPrefixLength},
	{"Addresses/Flags", testAddressFlags},
	{"Addresses/LinkDeleted", testAddressesLinkDeleted},
	{"Addresses/Replace", testAddressReplace},
	{"Addresses/OpErrors", testAddressOpErrors},
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

// testAddressOpErrors: a failed address write is an *OpError naming the
// address and its device.
func testAddressOpErrors(t *testing.T, s *suite) {
	a := kernel.Address{Device: "nosuch0", Prefix: pfx("192.0.2.10/32")}
	s.wantOpError(s.k.AddAddress(s.ctx, a), "adding", "address 192.0.2.10/32 dev nosuch0", syscall.ENODEV)
	s.wantOpError(s.k.ReplaceAddress(s.ctx, a), "replacing", "address 192.0.2.10/32 dev nosuch0", syscall.ENODEV)
	a.Device = Device
	s.wantOpError(s.k.DelAddress(s.ctx, a), "deleting", "address 192.0.2.10/32 dev "+Device, syscall.EADDRNOTAVAIL)
}
