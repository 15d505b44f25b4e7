//go:build linux

package netlink

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vishvananda/netlink/nl"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// reply wraps attributes as the kernel's answer: a genl header, then them.
func reply(attrs []byte) []byte {
	return append(putGenl(nil, ipvsCmdNewService, ipvsGenlVersion), attrs...)
}

func TestServiceRoundTrip(t *testing.T) {
	for _, s := range []ipvs.Service{
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, Scheduler: "rr", NetmaskBits: 32},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.UDP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 65535}, Scheduler: "sh", Flags: ipvs.FlagPersistent | ipvs.FlagSched1 | ipvs.FlagSched2, Timeout: 300, NetmaskBits: 24, PE: "sip"},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.SCTP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 1}, Scheduler: "mh", NetmaskBits: 0},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv6, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 443}, Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 60, NetmaskBits: 64},
		{ServiceKey: ipvs.ServiceKey{FWMark: 1<<31 - 1, Family: ipvs.IPv4}, Scheduler: "rr", NetmaskBits: 16},
		{ServiceKey: ipvs.ServiceKey{FWMark: 7, Family: ipvs.IPv6}, Scheduler: "rr", Flags: ipvs.FlagOnePacket, NetmaskBits: 128},
	} {
		a, err := appendService(nil, s)
		if err != nil {
			t.Fatalf("%s: %v", s.ServiceKey, err)
		}
		got, err := decodeService(reply(a))
		if err != nil {
			t.Fatalf("%s: %v", s.ServiceKey, err)
		}
		if d := cmp.Diff(s, got, cmpopts.EquateComparable(netip.Addr{})); d != "" {
			t.Errorf("%s (-sent +read):\n%s", s.ServiceKey, d)
		}
	}
}

// TestServiceWire pins the encodings the kernel reads: the IPv4 netmask is
// a mask in network order, the IPv6 one a host-order prefix length, the
// port big-endian, the flags a {flags, mask} pair.
func TestServiceWire(t *testing.T) {
	attrs := func(s ipvs.Service) map[uint16][]byte {
		t.Helper()
		a, err := appendService(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		m, err := nested(reply(a), ipvsCmdAttrService)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	v4 := attrs(ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.1.2.3"), Port: 8080}, Scheduler: "rr", Flags: ipvs.FlagPersistent | ipvs.FlagHashed, NetmaskBits: 24})
	for name, c := range map[string]struct{ got, want []byte }{
		"netmask": {v4[svcAttrNetmask], []byte{255, 255, 255, 0}},
		"port":    {v4[svcAttrPort], []byte{0x1f, 0x90}},
		"addr":    {v4[svcAttrAddr], []byte{10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		"sched":   {v4[svcAttrSchedName], []byte("rr\x00")},
		"flags":   {v4[svcAttrFlags], binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(nil, ipvs.FlagPersistent), ^uint32(0))},
	} {
		if string(c.got) != string(c.want) {
			t.Errorf("IPv4 %s = % x, want % x", name, c.got, c.want)
		}
	}
	if _, ok := v4[svcAttrPEName]; ok {
		t.Error("a service without a persistence engine sends IPVS_SVC_ATTR_PE_NAME")
	}
	v6 := attrs(ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv6, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 80}, Scheduler: "rr", NetmaskBits: 64})
	if got := binary.NativeEndian.Uint32(v6[svcAttrNetmask]); got != 64 {
		t.Errorf("IPv6 netmask = %d, want 64", got)
	}
	mark := attrs(ipvs.Service{ServiceKey: ipvs.ServiceKey{FWMark: 5, Family: ipvs.IPv4}, Scheduler: "rr", NetmaskBits: 32})
	if _, ok := mark[svcAttrAddr]; ok {
		t.Error("a fwmark service sends an address")
	}
	if got := binary.NativeEndian.Uint32(mark[svcAttrFWMark]); got != 5 {
		t.Errorf("fwmark = %d, want 5", got)
	}
}

func TestServiceInvalid(t *testing.T) {
	for name, s := range map[string]ipvs.Service{
		"no family":        {ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, Scheduler: "rr"},
		"family mismatch":  {ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv6, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, Scheduler: "rr"},
		"no address":       {ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Port: 80}, Scheduler: "rr"},
		"IPv4 netmask /33": {ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, Scheduler: "rr", NetmaskBits: 33},
		"negative netmask": {ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv6, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("::1"), Port: 80}, Scheduler: "rr", NetmaskBits: -1},
	} {
		_, err := appendService(nil, s)
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			t.Errorf("%s: error %v, want an errno", name, err)
		}
	}
}

func TestDestRoundTrip(t *testing.T) {
	for _, d := range []ipvs.Destination{
		{Addr: netip.MustParseAddr("10.0.1.1"), Port: 8080, Forward: ipvs.Masq, Weight: 1},
		{Addr: netip.MustParseAddr("10.0.1.2"), Port: 80, Forward: ipvs.Route, Weight: 2147483647, UpperThreshold: 100, LowerThreshold: 10},
		{Addr: netip.MustParseAddr("10.0.1.3"), Port: 80, Forward: ipvs.Tunnel, Weight: 65536, TunType: ipvs.TunGUE, TunPort: 6080, TunFlags: ipvs.TunFlagRemCsum},
		{Addr: netip.MustParseAddr("2001:db8::3"), Port: 80, Forward: ipvs.Tunnel, Weight: 0, TunType: ipvs.TunGRE, TunFlags: ipvs.TunFlagCsum},
	} {
		a, err := appendDest(nil, d, true)
		if err != nil {
			t.Fatal(err)
		}
		// The service is IPv4: the destination's own family decides.
		got, err := decodeDest(ipvs.IPv4, append(putGenl(nil, ipvsCmdNewDest, ipvsGenlVersion), a...))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(d, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("%s (-sent +read):\n%s", d.AddrPort(), diff)
		}
	}
}

func TestNetmaskBits(t *testing.T) {
	for _, c := range []struct {
		f    ipvs.Family
		b    []byte
		want int
	}{
		{ipvs.IPv4, []byte{255, 255, 255, 255}, 32},
		{ipvs.IPv4, []byte{255, 255, 240, 0}, 20},
		{ipvs.IPv4, []byte{0, 0, 0, 0}, 0},
		{ipvs.IPv4, []byte{255, 0, 255, 0}, 8}, // not a prefix: its leading ones
		{ipvs.IPv6, binary.NativeEndian.AppendUint32(nil, 128), 128},
		{ipvs.IPv6, binary.NativeEndian.AppendUint32(nil, 48), 48},
	} {
		if got := netmaskBits(c.f, c.b); got != c.want {
			t.Errorf("netmaskBits(%s, % x) = %d, want %d", c.f, c.b, got, c.want)
		}
	}
}

func TestTimeouts(t *testing.T) {
	attrs, err := timeoutsAttrs(kernel.Timeouts{TCP: 900, TCPFin: 0, UDP: -1})
	if err != nil {
		t.Fatal(err)
	}
	b := genlMessage(ipvsCmdSetConfig, ipvsGenlVersion, attrs...)
	got, err := decodeTimeouts(b)
	if err != nil {
		t.Fatal(err)
	}
	// -1 travels as the kernel's int reads it, for the kernel to refuse.
	if want := (kernel.Timeouts{TCP: 900, TCPFin: 0, UDP: 1<<32 - 1}); got != want {
		t.Errorf("timeouts = %+v, want %+v", got, want)
	}
	if _, err := timeoutsAttrs(kernel.Timeouts{TCP: 1 << 40}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("timeout 2^40: %v, want EINVAL", err)
	}
}

func TestSysctlPath(t *testing.T) {
	for key, want := range map[string]string{
		"net.ipv4.ip_forward":                 "/proc/sys/net/ipv4/ip_forward",
		"net.ipv4.vs.conntrack":               "/proc/sys/net/ipv4/vs/conntrack",
		"net.ipv4.conf.all.rp_filter":         "/proc/sys/net/ipv4/conf/all/rp_filter",
		"net.ipv4.conf.eth0.100.rp_filter":    "/proc/sys/net/ipv4/conf/eth0.100/rp_filter",
		"net.ipv6.conf.vip.1.2.forwarding":    "/proc/sys/net/ipv6/conf/vip.1.2/forwarding",
		"net.ipv4.neigh.eth0.5.gc_stale_time": "/proc/sys/net/ipv4/neigh/eth0.5/gc_stale_time",
		"net/ipv4/conf/eth0.100/rp_filter":    "/proc/sys/net/ipv4/conf/eth0.100/rp_filter",
		"kernel.hostname":                     "/proc/sys/kernel/hostname",
	} {
		got, ok := sysctlPath(key)
		if !ok || got != want {
			t.Errorf("sysctlPath(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
	for _, key := range []string{"", "net..ipv4", "net.ipv4.conf.eth0", "net.ipv4.conf..rp_filter", "net/../etc", "../x", "net.ipv4.", ".net"} {
		if got, ok := sysctlPath(key); ok {
			t.Errorf("sysctlPath(%q) = %q, want no path", key, got)
		}
	}
}

func TestValidLinkName(t *testing.T) {
	for name, want := range map[string]bool{
		"eth0": true, "vip.100": true, "a-b_c": true, "123456789012345": true,
		"": false, ".": false, "..": false, "1234567890123456": false, "a/b": false, "a:b": false, "a b": false,
	} {
		if got := validLinkName(name); got != want {
			t.Errorf("validLinkName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestEncodingMatchesRtAttr holds the hand-written attribute encoders to
// vishvananda/netlink's serializer, byte for byte, for a service, a key and
// a destination: the padding of odd-sized values and the lengths of nested
// attributes are where such encoders go wrong.
func TestEncodingMatchesRtAttr(t *testing.T) {
	s := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv6, Protocol: ipvs.UDP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 5060},
		Scheduler: "wlc", Flags: ipvs.FlagPersistent | ipvs.FlagHashed, Timeout: 360, NetmaskBits: 64, PE: "sip"}
	want := nl.NewRtAttr(ipvsCmdAttrService, nil)
	want.AddRtAttr(svcAttrAF, nl.Uint16Attr(uint16(s.Family)))
	want.AddRtAttr(svcAttrProtocol, nl.Uint16Attr(uint16(s.Protocol)))
	want.AddRtAttr(svcAttrAddr, s.Addr.AsSlice())
	want.AddRtAttr(svcAttrPort, nl.BEUint16Attr(s.Port))
	want.AddRtAttr(svcAttrSchedName, nl.ZeroTerminated(s.Scheduler))
	want.AddRtAttr(svcAttrFlags, binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(nil, ipvs.FlagPersistent), ^uint32(0)))
	want.AddRtAttr(svcAttrTimeout, nl.Uint32Attr(s.Timeout))
	want.AddRtAttr(svcAttrNetmask, nl.Uint32Attr(64))
	want.AddRtAttr(svcAttrPEName, nl.ZeroTerminated(s.PE))
	got, err := appendService(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want.Serialize(), got); d != "" {
		t.Errorf("service (-rtattr +ours):\n%s", d)
	}

	mark := ipvs.ServiceKey{FWMark: 9, Family: ipvs.IPv4}
	want = nl.NewRtAttr(ipvsCmdAttrService, nil)
	want.AddRtAttr(svcAttrAF, nl.Uint16Attr(uint16(ipvs.IPv4)))
	want.AddRtAttr(svcAttrFWMark, nl.Uint32Attr(9))
	if got, err = appendServiceKey(nil, mark); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want.Serialize(), got); d != "" {
		t.Errorf("fwmark key (-rtattr +ours):\n%s", d)
	}

	dst := ipvs.Destination{Addr: netip.MustParseAddr("10.0.1.3"), Port: 80, Forward: ipvs.Tunnel, Weight: 7, UpperThreshold: 9, LowerThreshold: 2, TunType: ipvs.TunGUE, TunPort: 6080, TunFlags: ipvs.TunFlagCsum}
	want = nl.NewRtAttr(ipvsCmdAttrDest, nil)
	want.AddRtAttr(destAttrAddr, append(dst.Addr.AsSlice(), make([]byte, 12)...))
	want.AddRtAttr(destAttrPort, nl.BEUint16Attr(dst.Port))
	want.AddRtAttr(destAttrAddrFamily, nl.Uint16Attr(uint16(ipvs.IPv4)))
	want.AddRtAttr(destAttrFwdMethod, nl.Uint32Attr(uint32(dst.Forward)))
	want.AddRtAttr(destAttrWeight, nl.Uint32Attr(7))
	want.AddRtAttr(destAttrUThresh, nl.Uint32Attr(9))
	want.AddRtAttr(destAttrLThresh, nl.Uint32Attr(2))
	want.AddRtAttr(destAttrTunType, nl.Uint8Attr(uint8(dst.TunType)))
	want.AddRtAttr(destAttrTunPort, nl.BEUint16Attr(dst.TunPort))
	want.AddRtAttr(destAttrTunFlags, nl.Uint16Attr(dst.TunFlags))
	if got, err = appendDest(nil, dst, true); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want.Serialize(), got); d != "" {
		t.Errorf("destination (-rtattr +ours):\n%s", d)
	}
}

// TestAppendWriteKeepsBufferOnError: a write that cannot be encoded leaves
// the shared request buffer as it was, so the batch's other requests are
// intact.
func TestAppendWriteKeepsBufferOnError(t *testing.T) {
	good := kernel.IPVSWrite{Op: kernel.AddService, Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, Scheduler: "rr", NetmaskBits: 32}}
	b, err := appendWrite(nil, good)
	if err != nil {
		t.Fatal(err)
	}
	before := string(b)
	bad := kernel.IPVSWrite{Op: kernel.AddDestination, Service: good.Service, Dest: ipvs.Destination{Port: 80}}
	b2, err := appendWrite(b, bad)
	if !errors.Is(err, syscall.EINVAL) || string(b2) != before {
		t.Fatalf("bad write: %v, buffer %d bytes, want EINVAL and %d bytes", err, len(b2), len(before))
	}
	if _, err := appendWrite(nil, kernel.IPVSWrite{Op: 99}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("unknown op: %v", err)
	}
}
