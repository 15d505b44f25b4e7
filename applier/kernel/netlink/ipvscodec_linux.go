//go:build linux

package netlink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink/nl"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// The IPVS generic netlink family (include/uapi/linux/ip_vs.h).
const (
	ipvsGenlName    = "IPVS"
	ipvsGenlVersion = 1

	ipvsCmdNewService = 1
	ipvsCmdSetService = 2
	ipvsCmdDelService = 3
	ipvsCmdGetService = 4
	ipvsCmdNewDest    = 5
	ipvsCmdSetDest    = 6
	ipvsCmdDelDest    = 7
	ipvsCmdGetDest    = 8
	ipvsCmdSetConfig  = 12
	ipvsCmdGetConfig  = 13

	ipvsCmdAttrService       = 1
	ipvsCmdAttrDest          = 2
	ipvsCmdAttrTimeoutTCP    = 4
	ipvsCmdAttrTimeoutTCPFin = 5
	ipvsCmdAttrTimeoutUDP    = 6

	svcAttrAF        = 1
	svcAttrProtocol  = 2
	svcAttrAddr      = 3
	svcAttrPort      = 4
	svcAttrFWMark    = 5
	svcAttrSchedName = 6
	svcAttrFlags     = 7
	svcAttrTimeout   = 8
	svcAttrNetmask   = 9
	svcAttrPEName    = 11

	destAttrAddr        = 1
	destAttrPort        = 2
	destAttrFwdMethod   = 3
	destAttrWeight      = 4
	destAttrUThresh     = 5
	destAttrLThresh     = 6
	destAttrActiveConns = 7
	destAttrInactConns  = 8
	destAttrAddrFamily  = 11
	destAttrTunType     = 13
	destAttrTunPort     = 14
	destAttrTunFlags    = 15

	// ipvsFwdMask selects the forwarding method in IPVS_DEST_ATTR_FWD_METHOD
	// (IP_VS_CONN_F_FWD_MASK).
	ipvsFwdMask = 0x7
)

var native = binary.NativeEndian

// addr16 is an address as union nf_inet_addr: 16 bytes, IPv4 in the first
// four.
func addr16(a netip.Addr) []byte {
	b := make([]byte, 16)
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
	} else {
		v := a.As16()
		copy(b, v[:])
	}
	return b
}

// addrFrom reads a union nf_inet_addr of family f.
func addrFrom(f ipvs.Family, b []byte) (netip.Addr, error) {
	switch {
	case f == ipvs.IPv4 && len(b) >= 4:
		return netip.AddrFrom4([4]byte(b[:4])), nil
	case f == ipvs.IPv6 && len(b) >= 16:
		return netip.AddrFrom16([16]byte(b[:16])), nil
	}
	return netip.Addr{}, fmt.Errorf("address of %d bytes for %s", len(b), f)
}

// netmaskAttr encodes a persistence granularity as the kernel reads it:
// for IPv4 a mask in network byte order, for IPv6 the prefix length as a
// host-order number (ip_vs_add_service reads it with a __force cast).
func netmaskAttr(f ipvs.Family, bitsLen int) ([]byte, error) {
	if f == ipvs.IPv4 {
		if bitsLen < 0 || bitsLen > 32 {
			return nil, fmt.Errorf("IPv4 netmask /%d: %w", bitsLen, syscall.EINVAL)
		}
		mask := uint32(0)
		if bitsLen > 0 {
			mask = ^uint32(0) << (32 - bitsLen)
		}
		return binary.BigEndian.AppendUint32(nil, mask), nil
	}
	if bitsLen < 0 {
		return nil, fmt.Errorf("IPv6 netmask /%d: %w", bitsLen, syscall.EINVAL)
	}
	return native.AppendUint32(nil, uint32(bitsLen)), nil
}

// netmaskBits decodes IPVS_SVC_ATTR_NETMASK. An IPv4 mask that is not a
// prefix (another tool may set one) reads as its leading ones.
func netmaskBits(f ipvs.Family, b []byte) int {
	if len(b) < 4 {
		return 0
	}
	if f == ipvs.IPv4 {
		return bits.LeadingZeros32(^binary.BigEndian.Uint32(b))
	}
	return int(native.Uint32(b))
}

func checkKey(k ipvs.ServiceKey) error {
	if k.Family != ipvs.IPv4 && k.Family != ipvs.IPv6 {
		return syscall.EAFNOSUPPORT
	}
	if k.FWMark == 0 && (!k.Addr.IsValid() || ipvs.FamilyOf(k.Addr) != k.Family) {
		return fmt.Errorf("address %v is not %s: %w", k.Addr, k.Family, syscall.EINVAL)
	}
	return nil
}

// serviceKeyAttrs are the attributes that name a service.
func serviceKeyAttrs(a *nl.RtAttr, k ipvs.ServiceKey) {
	a.AddRtAttr(svcAttrAF, nl.Uint16Attr(uint16(k.Family)))
	if k.FWMark != 0 {
		a.AddRtAttr(svcAttrFWMark, nl.Uint32Attr(k.FWMark))
		return
	}
	a.AddRtAttr(svcAttrProtocol, nl.Uint16Attr(uint16(k.Protocol)))
	a.AddRtAttr(svcAttrAddr, addr16(k.Addr))
	a.AddRtAttr(svcAttrPort, nl.BEUint16Attr(k.Port))
}

// serviceKeyAttr is IPVS_CMD_ATTR_SERVICE naming k.
func serviceKeyAttr(k ipvs.ServiceKey) (*nl.RtAttr, error) {
	if err := checkKey(k); err != nil {
		return nil, err
	}
	a := nl.NewRtAttr(ipvsCmdAttrService, nil)
	serviceKeyAttrs(a, k)
	return a, nil
}

// serviceAttr is IPVS_CMD_ATTR_SERVICE with everything of s but its
// destinations.
func serviceAttr(s ipvs.Service) (*nl.RtAttr, error) {
	if err := checkKey(s.ServiceKey); err != nil {
		return nil, err
	}
	mask, err := netmaskAttr(s.Family, s.NetmaskBits)
	if err != nil {
		return nil, err
	}
	a := nl.NewRtAttr(ipvsCmdAttrService, nil)
	serviceKeyAttrs(a, s.ServiceKey)
	a.AddRtAttr(svcAttrSchedName, nl.ZeroTerminated(s.Scheduler))
	// struct ip_vs_flags {flags, mask}: every bit is set or cleared. The
	// hashed bit belongs to the kernel, which keeps it whatever is sent.
	flags := native.AppendUint32(nil, s.Flags&^ipvs.FlagHashed)
	flags = native.AppendUint32(flags, ^uint32(0))
	a.AddRtAttr(svcAttrFlags, flags)
	a.AddRtAttr(svcAttrTimeout, nl.Uint32Attr(s.Timeout))
	a.AddRtAttr(svcAttrNetmask, mask)
	if s.PE != "" {
		a.AddRtAttr(svcAttrPEName, nl.ZeroTerminated(s.PE))
	}
	return a, nil
}

// destAttr is IPVS_CMD_ATTR_DEST for d; full adds everything but the
// address, for adding and updating.
func destAttr(d ipvs.Destination, full bool) (*nl.RtAttr, error) {
	if !d.Addr.IsValid() {
		return nil, fmt.Errorf("destination address %v: %w", d.Addr, syscall.EINVAL)
	}
	a := nl.NewRtAttr(ipvsCmdAttrDest, nil)
	a.AddRtAttr(destAttrAddr, addr16(d.Addr))
	a.AddRtAttr(destAttrPort, nl.BEUint16Attr(d.Port))
	a.AddRtAttr(destAttrAddrFamily, nl.Uint16Attr(uint16(ipvs.FamilyOf(d.Addr))))
	if !full {
		return a, nil
	}
	a.AddRtAttr(destAttrFwdMethod, nl.Uint32Attr(uint32(d.Forward)))
	a.AddRtAttr(destAttrWeight, nl.Uint32Attr(uint32(d.Weight)))
	a.AddRtAttr(destAttrUThresh, nl.Uint32Attr(d.UpperThreshold))
	a.AddRtAttr(destAttrLThresh, nl.Uint32Attr(d.LowerThreshold))
	a.AddRtAttr(destAttrTunType, nl.Uint8Attr(uint8(d.TunType)))
	a.AddRtAttr(destAttrTunPort, nl.BEUint16Attr(d.TunPort))
	a.AddRtAttr(destAttrTunFlags, nl.Uint16Attr(d.TunFlags))
	return a, nil
}

// nested returns the attributes inside the top-level attribute typ of a
// generic netlink message.
func nested(data []byte, typ uint16) (map[uint16][]byte, error) {
	if len(data) < genlHdrLen {
		return nil, errors.New("short generic netlink message")
	}
	top, err := nl.ParseRouteAttr(data[genlHdrLen:])
	if err != nil {
		return nil, err
	}
	for _, a := range top {
		if a.Attr.Type&nl.NLA_TYPE_MASK == typ {
			return attrMap(a.Value)
		}
	}
	return nil, fmt.Errorf("no attribute %d in the kernel's answer", typ)
}

func attrMap(b []byte) (map[uint16][]byte, error) {
	attrs, err := nl.ParseRouteAttr(b)
	if err != nil {
		return nil, err
	}
	m := make(map[uint16][]byte, len(attrs))
	for _, a := range attrs {
		m[a.Attr.Type&nl.NLA_TYPE_MASK] = a.Value
	}
	return m, nil
}

func u16(b []byte) uint16 {
	if len(b) < 2 {
		return 0
	}
	return native.Uint16(b)
}

func be16(b []byte) uint16 {
	if len(b) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func u32(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return native.Uint32(b)
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// decodeService reads a service (without destinations) from an
// IPVS_CMD_NEW_SERVICE message. A firewall-mark service reads with
// protocol 0, no address and port 0, whatever the kernel keeps.
func decodeService(data []byte) (ipvs.Service, error) {
	m, err := nested(data, ipvsCmdAttrService)
	if err != nil {
		return ipvs.Service{}, err
	}
	var s ipvs.Service
	s.Family = ipvs.Family(u16(m[svcAttrAF]))
	if mark, ok := m[svcAttrFWMark]; ok && u32(mark) != 0 {
		s.FWMark = u32(mark)
	} else {
		s.Protocol = ipvs.Protocol(u16(m[svcAttrProtocol]))
		if s.Addr, err = addrFrom(s.Family, m[svcAttrAddr]); err != nil {
			return ipvs.Service{}, fmt.Errorf("service: %w", err)
		}
		s.Port = be16(m[svcAttrPort])
	}
	s.Scheduler = cstring(m[svcAttrSchedName])
	s.Flags = u32(m[svcAttrFlags]) &^ ipvs.FlagHashed
	s.Timeout = u32(m[svcAttrTimeout])
	s.NetmaskBits = netmaskBits(s.Family, m[svcAttrNetmask])
	s.PE = cstring(m[svcAttrPEName])
	return s, nil
}

// decodeDest reads a destination from an IPVS_CMD_NEW_DEST message of a
// service of family f.
func decodeDest(f ipvs.Family, data []byte) (ipvs.Destination, error) {
	m, err := nested(data, ipvsCmdAttrDest)
	if err != nil {
		return ipvs.Destination{}, err
	}
	var d ipvs.Destination
	if af, ok := m[destAttrAddrFamily]; ok {
		f = ipvs.Family(u16(af))
	}
	if d.Addr, err = addrFrom(f, m[destAttrAddr]); err != nil {
		return ipvs.Destination{}, fmt.Errorf("destination: %w", err)
	}
	d.Port = be16(m[destAttrPort])
	d.Forward = ipvs.Forward(u32(m[destAttrFwdMethod]) & ipvsFwdMask)
	d.Weight = int32(u32(m[destAttrWeight]))
	d.UpperThreshold = u32(m[destAttrUThresh])
	d.LowerThreshold = u32(m[destAttrLThresh])
	if b := m[destAttrTunType]; len(b) > 0 {
		d.TunType = ipvs.TunType(b[0])
	}
	d.TunPort = be16(m[destAttrTunPort])
	d.TunFlags = u16(m[destAttrTunFlags])
	d.ActiveConns = u32(m[destAttrActiveConns])
	d.InactiveConns = u32(m[destAttrInactConns])
	return d, nil
}

// timeoutsAttrs encodes IPVS_CMD_SET_CONFIG's timeouts; the kernel keeps
// a timeout sent as zero. The kernel reads them as ints: a negative one
// reaches it as such, as from ipvsadm, and is refused there.
func timeoutsAttrs(t kernel.Timeouts) ([]*nl.RtAttr, error) {
	var attrs []*nl.RtAttr
	for _, v := range []struct {
		typ int
		sec int
	}{{ipvsCmdAttrTimeoutTCP, t.TCP}, {ipvsCmdAttrTimeoutTCPFin, t.TCPFin}, {ipvsCmdAttrTimeoutUDP, t.UDP}} {
		if v.sec < math.MinInt32 || v.sec > math.MaxInt32 {
			return nil, fmt.Errorf("timeout %d s: %w", v.sec, syscall.EINVAL)
		}
		attrs = append(attrs, nl.NewRtAttr(v.typ, nl.Uint32Attr(uint32(int32(v.sec)))))
	}
	return attrs, nil
}

func decodeTimeouts(data []byte) (kernel.Timeouts, error) {
	if len(data) < genlHdrLen {
		return kernel.Timeouts{}, errors.New("short generic netlink message")
	}
	m, err := attrMap(data[genlHdrLen:])
	if err != nil {
		return kernel.Timeouts{}, err
	}
	return kernel.Timeouts{
		TCP:    int(u32(m[ipvsCmdAttrTimeoutTCP])),
		TCPFin: int(u32(m[ipvsCmdAttrTimeoutTCPFin])),
		UDP:    int(u32(m[ipvsCmdAttrTimeoutUDP])),
	}, nil
}
