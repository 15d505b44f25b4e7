package ipvs

import (
	"fmt"
	"net/netip"
	"strconv"
)

// Family is an address family as the kernel numbers it.
type Family uint16

// Address families (AF_INET, AF_INET6).
const (
	IPv4 Family = 2
	IPv6 Family = 10
)

func (f Family) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return fmt.Sprintf("family(%d)", uint16(f))
}

// FamilyOf returns the family of a.
func FamilyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// Protocol is an IP protocol number. A firewall-mark service has protocol 0
// in lvsgen's values (the kernel ignores the protocol of fwmark services).
type Protocol uint16

// Protocols IPVS balances.
const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case SCTP:
		return "sctp"
	case 0:
		return "none"
	}
	return fmt.Sprintf("proto(%d)", uint16(p))
}

// ParseProtocol maps a protocol name (tcp, udp, sctp) to its number.
func ParseProtocol(s string) (Protocol, error) {
	switch s {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	case "sctp":
		return SCTP, nil
	}
	return 0, fmt.Errorf("unknown protocol %q", s)
}

// Schedulers lists every scheduler name the kernel knows (ip_vs_<name>.ko).
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf", "twos"}

// Service flag bits as the kernel defines them (IP_VS_SVC_F_*).
const (
	FlagPersistent uint32 = 0x0001
	FlagHashed     uint32 = 0x0002 // set by the kernel; never sent, ignored when read
	FlagOnePacket  uint32 = 0x0004
	FlagSched1     uint32 = 0x0008 // sh-fallback, mh-fallback
	FlagSched2     uint32 = 0x0010 // sh-port, mh-port
	FlagSched3     uint32 = 0x0020
)

// ServiceKey identifies a virtual service: either a firewall mark (FWMark
// != 0, with Family) or an (address, protocol, port) triple.
type ServiceKey struct {
	FWMark   uint32
	Family   Family
	Protocol Protocol
	Addr     netip.Addr
	Port     uint16
}

// Same reports whether k and o name the same kernel service, compared as
// the kernel does: a fwmark service by (mark, family), others by (family,
// protocol, address, port).
func (k ServiceKey) Same(o ServiceKey) bool {
	if k.FWMark != 0 || o.FWMark != 0 {
		return k.FWMark == o.FWMark && k.Family == o.Family
	}
	return k.Family == o.Family && k.Protocol == o.Protocol && k.Addr == o.Addr && k.Port == o.Port
}

// Canonical returns k with only the fields Same compares: a firewall-mark
// key keeps its mark and family, any other its family, protocol, address
// and port. Two keys are Same exactly when their Canonical forms are
// equal, so Canonical keys index maps of services.
func (k ServiceKey) Canonical() ServiceKey {
	if k.FWMark != 0 {
		return ServiceKey{FWMark: k.FWMark, Family: k.Family}
	}
	return k
}

func (k ServiceKey) String() string {
	// Appended rather than formatted with fmt: a compile makes one per
	// service, and fmt was a third of a service's view.
	b := make([]byte, 0, 56)
	if k.FWMark != 0 {
		b = append(b, "fwm:"...)
		b = strconv.AppendUint(b, uint64(k.FWMark), 10)
		b = append(b, '/')
		b = append(b, k.Family.String()...)
		return string(b)
	}
	b = append(b, k.Protocol.String()...)
	b = append(b, ':')
	ap := netip.AddrPortFrom(k.Addr, k.Port)
	if !ap.Addr().IsValid() {
		// AppendTo writes nothing for it; String "invalid AddrPort".
		return string(append(b, ap.String()...))
	}
	return string(ap.AppendTo(b))
}

// Service is one IPVS virtual service with its destinations.
type Service struct {
	ServiceKey
	Scheduler string
	// Flags holds the IP_VS_SVC_F_* bits: persistence, one-packet
	// scheduling and the three scheduler flags.
	Flags uint32
	// Timeout is the persistence timeout in seconds; meaningful only with
	// FlagPersistent.
	Timeout uint32
	// NetmaskBits is the persistence granularity as a prefix length (32 or
	// 128 means per client address).
	NetmaskBits int
	// PE is the persistence engine name ("sip"), empty for none.
	PE           string
	Destinations []Destination
}

// Forward is a destination's forwarding method (IP_VS_CONN_F_* masks).
type Forward uint32

// Forwarding methods as the kernel numbers them.
const (
	Masq   Forward = 0 // NAT, ipvsadm -m
	Local  Forward = 1 // local node; the kernel picks it for a local address
	Tunnel Forward = 2 // ipvsadm -i
	Route  Forward = 3 // direct routing, ipvsadm -g
)

func (f Forward) String() string {
	switch f {
	case Masq:
		return "nat"
	case Local:
		return "local"
	case Tunnel:
		return "tun"
	case Route:
		return "dr"
	}
	return fmt.Sprintf("forward(%d)", uint32(f))
}

// TunType is the encapsulation of a tunnel destination (IP_VS_CONN_F_TUNNEL_TYPE_*).
type TunType uint8

// Tunnel types.
const (
	TunIPIP TunType = 0
	TunGUE  TunType = 1
	TunGRE  TunType = 2
)

func (t TunType) String() string {
	switch t {
	case TunIPIP:
		return "ipip"
	case TunGUE:
		return "gue"
	case TunGRE:
		return "gre"
	}
	return fmt.Sprintf("tuntype(%d)", uint8(t))
}

// Tunnel checksum flags (IP_VS_TUNNEL_ENCAP_FLAG_*). Zero means no checksum.
const (
	TunFlagCsum    uint16 = 1 << 0
	TunFlagRemCsum uint16 = 1 << 1
)

// Destination is one real server of a service.
type Destination struct {
	Addr    netip.Addr
	Port    uint16
	Forward Forward
	// Weight is 0..2147483647; 0 quiesces the destination.
	Weight int32
	// UpperThreshold and LowerThreshold bound active connections; 0 means
	// no limit.
	UpperThreshold uint32
	LowerThreshold uint32
	// TunType, TunPort and TunFlags apply to Tunnel destinations only.
	TunType  TunType
	TunPort  uint16
	TunFlags uint16
	// ActiveConns and InactiveConns are the kernel's connection counters
	// as read back; writes ignore them and comparisons of desired and
	// observed state leave them out.
	ActiveConns   uint32
	InactiveConns uint32
}

// AddrPort returns the destination's address and port.
func (d Destination) AddrPort() netip.AddrPort { return netip.AddrPortFrom(d.Addr, d.Port) }
