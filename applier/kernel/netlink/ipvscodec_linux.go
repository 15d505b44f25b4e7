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
	"golang.org/x/sys/unix"

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

// Attributes are appended to the message being built, into one buffer
// reused request after request: a batch of thousands of writes, or a dump
// of the destinations of every service, allocates nothing per request.

// putAttr appends a netlink attribute (header, value, padding).
func putAttr(b []byte, typ uint16, v ...byte) []byte {
	n := unix.SizeofRtAttr + len(v)
	b = native.AppendUint16(b, uint16(n))
	b = native.AppendUint16(b, typ)
	b = append(b, v...)
	for pad := nlmAlign(n) - n; pad > 0; pad-- {
		b = append(b, 0)
	}
	return b
}

func putU8(b []byte, typ uint16, v uint8) []byte { return putAttr(b, typ, v) }

func putU16(b []byte, typ uint16, v uint16) []byte {
	var a [2]byte
	native.PutUint16(a[:], v)
	return putAttr(b, typ, a[:]...)
}

func putBE16(b []byte, typ uint16, v uint16) []byte {
	var a [2]byte
	binary.BigEndian.PutUint16(a[:], v)
	return putAttr(b, typ, a[:]...)
}

func putU32(b []byte, typ uint16, v uint32) []byte {
	var a [4]byte
	native.PutUint32(a[:], v)
	return putAttr(b, typ, a[:]...)
}

// putString appends a NUL-terminated string attribute.
func putString(b []byte, typ uint16, v string) []byte {
	n := unix.SizeofRtAttr + len(v) + 1
	b = native.AppendUint16(b, uint16(n))
	b = native.AppendUint16(b, typ)
	b = append(b, v...)
	for pad := nlmAlign(n) - n + 1; pad > 0; pad-- {
		b = append(b, 0)
	}
	return b
}

// putAddr appends an address as union nf_inet_addr: 16 bytes, IPv4 in
// the first four.
func putAddr(b []byte, typ uint16, a netip.Addr) []byte {
	var v [16]byte
	if a.Is4() {
		v4 := a.As4()
		copy(v[:], v4[:])
	} else {
		v = a.As16()
	}
	return putAttr(b, typ, v[:]...)
}

// beginNest appends the header of a nested attribute, whose length
// endNest fills in once its contents are appended.
func beginNest(b []byte, typ uint16) ([]byte, int) {
	start := len(b)
	b = native.AppendUint16(b, 0)
	return native.AppendUint16(b, typ), start
}

func endNest(b []byte, start int) []byte {
	native.PutUint16(b[start:], uint16(len(b)-start))
	return b
}

// putGenl appends a generic netlink header.
func putGenl(b []byte, cmd, version uint8) []byte { return append(b, cmd, version, 0, 0) }

// netmask encodes a persistence granularity as the kernel reads it: for
// IPv4 a mask in network byte order, for IPv6 the prefix length as a
// host-order number (ip_vs_add_service reads it with a __force cast).
func netmask(f ipvs.Family, bitsLen int) ([4]byte, error) {
	var v [4]byte
	if f == ipvs.IPv4 {
		if bitsLen < 0 || bitsLen > 32 {
			return v, fmt.Errorf("IPv4 netmask /%d: %w", bitsLen, syscall.EINVAL)
		}
		mask := uint32(0)
		if bitsLen > 0 {
			mask = ^uint32(0) << (32 - bitsLen)
		}
		binary.BigEndian.PutUint32(v[:], mask)
		return v, nil
	}
	if bitsLen < 0 {
		return v, fmt.Errorf("IPv6 netmask /%d: %w", bitsLen, syscall.EINVAL)
	}
	native.PutUint32(v[:], uint32(bitsLen))
	return v, nil
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

// putKeyFields appends the attributes that name a service.
func putKeyFields(b []byte, k ipvs.ServiceKey) []byte {
	b = putU16(b, svcAttrAF, uint16(k.Family))
	if k.FWMark != 0 {
		return putU32(b, svcAttrFWMark, k.FWMark)
	}
	b = putU16(b, svcAttrProtocol, uint16(k.Protocol))
	b = putAddr(b, svcAttrAddr, k.Addr)
	return putBE16(b, svcAttrPort, k.Port)
}

// appendServiceKey appends IPVS_CMD_ATTR_SERVICE naming k.
func appendServiceKey(b []byte, k ipvs.ServiceKey) ([]byte, error) {
	if err := checkKey(k); err != nil {
		return b, err
	}
	b, start := beginNest(b, ipvsCmdAttrService)
	b = putKeyFields(b, k)
	return endNest(b, start), nil
}

// appendService appends IPVS_CMD_ATTR_SERVICE with everything of s but
// its destinations.
func appendService(b []byte, s ipvs.Service) ([]byte, error) {
	if err := checkKey(s.ServiceKey); err != nil {
		return b, err
	}
	mask, err := netmask(s.Family, s.NetmaskBits)
	if err != nil {
		return b, err
	}
	b, start := beginNest(b, ipvsCmdAttrService)
	b = putKeyFields(b, s.ServiceKey)
	b = putString(b, svcAttrSchedName, s.Scheduler)
	// struct ip_vs_flags {flags, mask}: every bit is set or cleared. The
	// hashed bit belongs to the kernel, which keeps it whatever is sent.
	var flags [8]byte
	native.PutUint32(flags[:], s.Flags&^ipvs.FlagHashed)
	native.PutUint32(flags[4:], ^uint32(0))
	b = putAttr(b, svcAttrFlags, flags[:]...)
	b = putU32(b, svcAttrTimeout, s.Timeout)
	b = putAttr(b, svcAttrNetmask, mask[:]...)
	if s.PE != "" {
		b = putString(b, svcAttrPEName, s.PE)
	}
	return endNest(b, start), nil
}

// appendDest appends IPVS_CMD_ATTR_DEST for d; full adds everything but
// the address, for adding and updating.
func appendDest(b []byte, d ipvs.Destination, full bool) ([]byte, error) {
	if !d.Addr.IsValid() {
		return b, fmt.Errorf("destination address %v: %w", d.Addr, syscall.EINVAL)
	}
	b, start := beginNest(b, ipvsCmdAttrDest)
	b = putAddr(b, destAttrAddr, d.Addr)
	b = putBE16(b, destAttrPort, d.Port)
	b = putU16(b, destAttrAddrFamily, uint16(ipvs.FamilyOf(d.Addr)))
	if full {
		b = putU32(b, destAttrFwdMethod, uint32(d.Forward))
		b = putU32(b, destAttrWeight, uint32(d.Weight))
		b = putU32(b, destAttrUThresh, d.UpperThreshold)
		b = putU32(b, destAttrLThresh, d.LowerThreshold)
		b = putU8(b, destAttrTunType, uint8(d.TunType))
		b = putBE16(b, destAttrTunPort, d.TunPort)
		b = putU16(b, destAttrTunFlags, d.TunFlags)
	}
	return endNest(b, start), nil
}

// writeCmds are the IPVS commands of the writes.
var writeCmds = [...]uint8{
	kernel.AddService: ipvsCmdNewService, kernel.UpdateService: ipvsCmdSetService, kernel.DelService: ipvsCmdDelService,
	kernel.AddDestination: ipvsCmdNewDest, kernel.UpdateDestination: ipvsCmdSetDest, kernel.DelDestination: ipvsCmdDelDest,
}

// appendWrite appends the generic netlink payload of an IPVS write: its
// genl header and attributes. On error b comes back as it was.
func appendWrite(b []byte, w kernel.IPVSWrite) ([]byte, error) {
	if int(w.Op) >= len(writeCmds) || writeCmds[w.Op] == 0 {
		return b, fmt.Errorf("%v: %w", w.Op, syscall.EINVAL)
	}
	orig := len(b)
	b = putGenl(b, writeCmds[w.Op], ipvsGenlVersion)
	var err error
	switch w.Op {
	case kernel.AddService, kernel.UpdateService:
		b, err = appendService(b, w.Service)
	case kernel.DelService:
		b, err = appendServiceKey(b, w.Service.ServiceKey)
	default:
		if b, err = appendServiceKey(b, w.Service.ServiceKey); err == nil {
			b, err = appendDest(b, w.Dest, w.Op != kernel.DelDestination)
		}
	}
	if err != nil {
		return b[:orig], err
	}
	return b, nil
}

// forAttrs calls f with the type (without its flag bits) and value of
// each attribute in b, in order.
func forAttrs(b []byte, f func(typ uint16, v []byte)) error {
	for len(b) >= unix.SizeofRtAttr {
		l := int(native.Uint16(b))
		if l < unix.SizeofRtAttr || l > len(b) {
			return fmt.Errorf("attribute of %d bytes in %d", l, len(b))
		}
		f(native.Uint16(b[2:])&nl.NLA_TYPE_MASK, b[unix.SizeofRtAttr:l])
		b = b[min(nlmAlign(l), len(b)):]
	}
	return nil
}

// nestedAttr returns the value of the top-level attribute typ of a
// generic netlink message.
func nestedAttr(data []byte, typ uint16) ([]byte, error) {
	if len(data) < genlHdrLen {
		return nil, errors.New("short generic netlink message")
	}
	var found []byte
	if err := forAttrs(data[genlHdrLen:], func(t uint16, v []byte) {
		if t == typ && found == nil {
			found = v
		}
	}); err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("no attribute %d in the kernel's answer", typ)
	}
	return found, nil
}

// nested returns the attributes inside the top-level attribute typ of a
// generic netlink message, by type.
func nested(data []byte, typ uint16) (map[uint16][]byte, error) {
	v, err := nestedAttr(data, typ)
	if err != nil {
		return nil, err
	}
	return attrMap(v)
}

func attrMap(b []byte) (map[uint16][]byte, error) {
	m := map[uint16][]byte{}
	err := forAttrs(b, func(typ uint16, v []byte) { m[typ] = v })
	return m, err
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
	attrs, err := nestedAttr(data, ipvsCmdAttrService)
	if err != nil {
		return ipvs.Service{}, err
	}
	var s ipvs.Service
	var addr, mask []byte
	err = forAttrs(attrs, func(typ uint16, v []byte) {
		switch typ {
		case svcAttrAF:
			s.Family = ipvs.Family(u16(v))
		case svcAttrFWMark:
			s.FWMark = u32(v)
		case svcAttrProtocol:
			s.Protocol = ipvs.Protocol(u16(v))
		case svcAttrAddr:
			addr = v
		case svcAttrPort:
			s.Port = be16(v)
		case svcAttrSchedName:
			s.Scheduler = cstring(v)
		case svcAttrFlags:
			s.Flags = u32(v) &^ ipvs.FlagHashed
		case svcAttrTimeout:
			s.Timeout = u32(v)
		case svcAttrNetmask:
			mask = v
		case svcAttrPEName:
			s.PE = cstring(v)
		}
	})
	if err != nil {
		return ipvs.Service{}, err
	}
	if s.FWMark != 0 {
		s.Protocol, s.Port = 0, 0
	} else if s.Addr, err = addrFrom(s.Family, addr); err != nil {
		return ipvs.Service{}, fmt.Errorf("service: %w", err)
	}
	s.NetmaskBits = netmaskBits(s.Family, mask)
	return s, nil
}

// decodeDest reads a destination from an IPVS_CMD_NEW_DEST message of a
// service of family f.
func decodeDest(f ipvs.Family, data []byte) (ipvs.Destination, error) {
	attrs, err := nestedAttr(data, ipvsCmdAttrDest)
	if err != nil {
		return ipvs.Destination{}, err
	}
	var d ipvs.Destination
	var addr []byte
	err = forAttrs(attrs, func(typ uint16, v []byte) {
		switch typ {
		case destAttrAddrFamily:
			f = ipvs.Family(u16(v))
		case destAttrAddr:
			addr = v
		case destAttrPort:
			d.Port = be16(v)
		case destAttrFwdMethod:
			d.Forward = ipvs.Forward(u32(v) & ipvsFwdMask)
		case destAttrWeight:
			d.Weight = int32(u32(v))
		case destAttrUThresh:
			d.UpperThreshold = u32(v)
		case destAttrLThresh:
			d.LowerThreshold = u32(v)
		case destAttrTunType:
			if len(v) > 0 {
				d.TunType = ipvs.TunType(v[0])
			}
		case destAttrTunPort:
			d.TunPort = be16(v)
		case destAttrTunFlags:
			d.TunFlags = u16(v)
		case destAttrActiveConns:
			d.ActiveConns = u32(v)
		case destAttrInactConns:
			d.InactiveConns = u32(v)
		}
	})
	if err != nil {
		return ipvs.Destination{}, err
	}
	if d.Addr, err = addrFrom(f, addr); err != nil {
		return ipvs.Destination{}, fmt.Errorf("destination: %w", err)
	}
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
