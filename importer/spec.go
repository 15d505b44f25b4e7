package importer

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/ipvs"
)

// serviceSpec is an lvsgen service that compiles to exactly one IPVS
// service: every field as the CUE output sets it.
type serviceSpec struct {
	fwmark     uint32
	family     ipvs.Family
	vip        netip.Addr
	protocol   string
	port       uint16
	forwarding string // "" when the service has no real servers (lvsgen's default, dr)
	tunType    string
	tunPort    uint16
	tunCsum    string
	scheduler  string
	flags      []string
	persistent bool
	timeout    uint32
	netmask    int // 0: the family's default
	engine     string
	onePacket  bool
	reals      []realSpec
}

type realSpec struct {
	addr    netip.Addr
	port    uint16
	setPort bool
	weight  int32
	upper   uint32
	lower   uint32
}

// maxFWMark is the largest mark lvsgen accepts (see schema/config.cue).
const maxFWMark = math.MaxInt32

// specOf returns the lvsgen service that reproduces s, or why there is
// none. The checks mirror what hoststate.IPVSService produces, so that the
// service compiles back to s as far as the kernel and ipvsadm-save see it.
func specOf(s ipvs.Service) (*serviceSpec, string) {
	sp := &serviceSpec{family: s.Family, scheduler: s.Scheduler}
	if s.Family != ipvs.IPv4 && s.Family != ipvs.IPv6 {
		return nil, fmt.Sprintf("address family %d is not IPv4 or IPv6", uint16(s.Family))
	}
	if !slices.Contains(ipvs.Schedulers, s.Scheduler) {
		return nil, fmt.Sprintf("scheduler %q is not one the kernel has", s.Scheduler)
	}
	if s.FWMark != 0 {
		if s.FWMark > maxFWMark {
			return nil, fmt.Sprintf("fwmark %d is 2^31 or more: ipvsadm-save prints it negative, ipvsadm -R refuses it, and lvsgen accepts marks up to %d", s.FWMark, maxFWMark)
		}
		sp.fwmark = s.FWMark
	} else {
		switch s.Protocol {
		case ipvs.TCP, ipvs.UDP, ipvs.SCTP:
			sp.protocol = s.Protocol.String()
		default:
			return nil, fmt.Sprintf("protocol %d is not tcp, udp or sctp", uint16(s.Protocol))
		}
		if !s.Addr.IsValid() || s.Addr.Zone() != "" || ipvs.FamilyOf(s.Addr) != s.Family {
			return nil, fmt.Sprintf("the virtual address %s is not a plain %s address", s.Addr, s.Family)
		}
		if s.Addr.Is4In6() {
			return nil, fmt.Sprintf("the virtual address %s is IPv4-mapped, which lvsgen refuses (write the IPv4 address)", s.Addr)
		}
		if why := compiler.Unusable(s.Addr); why != "" {
			return nil, fmt.Sprintf("the virtual address %s is %s, which lvsgen refuses (rule vip-unicast)", s.Addr, why)
		}
		sp.vip = s.Addr
		sp.port = s.Port
		if s.Port == 0 && s.Flags&ipvs.FlagPersistent == 0 {
			return nil, "port 0 without persistence"
		}
	}

	known := ipvs.FlagPersistent | ipvs.FlagHashed | ipvs.FlagOnePacket | ipvs.FlagSched1 | ipvs.FlagSched2 | ipvs.FlagSched3
	if s.Flags&^known != 0 {
		return nil, fmt.Sprintf("unknown service flags %#x", s.Flags&^known)
	}
	sched := s.Flags & (ipvs.FlagSched1 | ipvs.FlagSched2 | ipvs.FlagSched3)
	switch s.Scheduler {
	case "sh", "mh":
		if sched&ipvs.FlagSched3 != 0 {
			return nil, fmt.Sprintf("the %s scheduler with flag-3, which it does not have a name for (ipvsadm-save prints \"-b\" without it) and lvsgen refuses", s.Scheduler)
		}
		if sched&ipvs.FlagSched1 != 0 {
			sp.flags = append(sp.flags, s.Scheduler+"-fallback")
		}
		if sched&ipvs.FlagSched2 != 0 {
			sp.flags = append(sp.flags, s.Scheduler+"-port")
		}
	default:
		for i, bit := range []uint32{ipvs.FlagSched1, ipvs.FlagSched2, ipvs.FlagSched3} {
			if sched&bit != 0 {
				sp.flags = append(sp.flags, "flag-"+strconv.Itoa(i+1))
			}
		}
	}
	if s.Flags&ipvs.FlagOnePacket != 0 {
		if s.FWMark == 0 && s.Protocol != ipvs.UDP {
			return nil, "one-packet scheduling on a " + s.Protocol.String() + " service"
		}
		sp.onePacket = true
	}
	if s.Flags&ipvs.FlagPersistent != 0 {
		sp.persistent = true
		if s.Timeout < 1 || s.Timeout > 2678400 {
			return nil, fmt.Sprintf("persistence timeout %d outside 1..2678400", s.Timeout)
		}
		sp.timeout = s.Timeout
		maxBits := 32
		if s.Family == ipvs.IPv6 {
			maxBits = 128
		}
		if s.NetmaskBits < 1 || s.NetmaskBits > maxBits {
			return nil, fmt.Sprintf("persistence netmask /%d (lvsgen takes 1..%d)", s.NetmaskBits, maxBits)
		}
		if s.NetmaskBits != maxBits {
			sp.netmask = s.NetmaskBits
		}
		switch s.PE {
		case "":
		case "sip":
			sp.engine = s.PE
		default:
			return nil, fmt.Sprintf("persistence engine %q", s.PE)
		}
	} else if s.PE != "" {
		return nil, fmt.Sprintf("persistence engine %q without persistence, which lvsgen cannot express (its persistence.engine makes the service persistent)", s.PE)
	}

	// The forwarding method and tunnel settings are per service in lvsgen,
	// per destination in the kernel.
	for i, d := range s.Destinations {
		fwd, err := forwardName(d.Forward)
		if err != "" {
			return nil, err
		}
		if i == 0 {
			sp.forwarding = fwd
		} else if fwd != sp.forwarding {
			return nil, fmt.Sprintf("its real servers use different forwarding methods (%s and %s); lvsgen has one per service", sp.forwarding, fwd)
		}
		if fwd == "tun" {
			t, port, csum, why := tunnelOf(d)
			if why != "" {
				return nil, fmt.Sprintf("real server %s: %s", d.AddrPort(), why)
			}
			if i > 0 && (t != sp.tunType || port != sp.tunPort || csum != sp.tunCsum) {
				return nil, "its tunnel real servers use different tunnel settings; lvsgen has one per service"
			}
			sp.tunType, sp.tunPort, sp.tunCsum = t, port, csum
		}
	}
	seen := map[netip.AddrPort]bool{}
	for _, d := range s.Destinations {
		if !d.Addr.IsValid() || d.Addr.Zone() != "" {
			return nil, fmt.Sprintf("real server address %s is not a plain address", d.Addr)
		}
		if ipvs.FamilyOf(d.Addr) != s.Family && sp.forwarding != "tun" {
			return nil, fmt.Sprintf("real server %s is not %s and does not tunnel", d.Addr, s.Family)
		}
		if seen[d.AddrPort()] {
			return nil, fmt.Sprintf("real server %s twice", d.AddrPort())
		}
		seen[d.AddrPort()] = true
		if d.Weight < 0 {
			return nil, fmt.Sprintf("real server %s: negative weight %d", d.AddrPort(), d.Weight)
		}
		if d.Addr.Is4In6() {
			return nil, fmt.Sprintf("real server %s is IPv4-mapped, which lvsgen refuses", d.Addr)
		}
		if !forwardable(d.Addr) {
			return nil, fmt.Sprintf("real server %s is not a unicast address the kernel forwards to", d.Addr)
		}
		// A local real server, which IPVS serves on the director itself:
		// lvsgen refuses it (rule real-vip).
		if s.FWMark == 0 && d.Addr == s.Addr {
			return nil, fmt.Sprintf("real server %s is the virtual address itself, which lvsgen refuses (rule real-vip)", d.Addr)
		}
		if d.UpperThreshold > math.MaxInt32 || d.LowerThreshold > math.MaxInt32 {
			return nil, fmt.Sprintf("real server %s: a threshold above %d, which lvsgen does not take: kernels with the 6.1 threshold fix refuse it, earlier ones keep it", d.AddrPort(), math.MaxInt32)
		}
		if d.LowerThreshold > d.UpperThreshold {
			return nil, fmt.Sprintf("real server %s: lower threshold %d above upper threshold %d", d.AddrPort(), d.LowerThreshold, d.UpperThreshold)
		}
		r := realSpec{addr: d.Addr, port: d.Port, weight: d.Weight, upper: d.UpperThreshold, lower: d.LowerThreshold}
		// lvsgen's default real port is the service port (0 for fwmark
		// services); DR and TUN cannot use another.
		if d.Port != s.Port {
			if sp.forwarding != "nat" {
				if s.FWMark != 0 {
					return nil, fmt.Sprintf("real server %s has port %d, which lvsgen allows with fwmark services only for nat (dr and tun take port 0)", d.Addr, d.Port)
				}
				return nil, fmt.Sprintf("real server %s has port %d, not the service port %d, which %s cannot do", d.Addr, d.Port, s.Port, sp.forwarding)
			}
			r.setPort = true
		}
		sp.reals = append(sp.reals, r)
	}
	// What the kernel or ipvsadm -R would not take as it is, lvsgen does
	// not render either: check the service as lvsgen would render it.
	if err := normalized(s).Validate(); err != nil {
		return nil, "the kernel or ipvsadm -R would not take it as it is: " + err.Error()
	}
	return sp, ""
}

// normalized is s without what the kernel keeps but does not use and
// lvsgen does not render: the hashed flag, a non-persistent service's
// timeout and netmask, and the tunnel settings of destinations that do not
// tunnel; Local forwarding is Route.
func normalized(s ipvs.Service) ipvs.Service {
	s.Flags &^= ipvs.FlagHashed
	if s.Flags&ipvs.FlagPersistent == 0 {
		s.Timeout = 0
		s.NetmaskBits = ipvs.DefaultNetmaskBits(s.Family)
	}
	s.Destinations = slices.Clone(s.Destinations)
	for i := range s.Destinations {
		d := &s.Destinations[i]
		if d.Forward == ipvs.Local {
			d.Forward = ipvs.Route
		}
		if d.Forward != ipvs.Tunnel {
			d.TunType, d.TunPort, d.TunFlags = 0, 0, 0
		}
	}
	return s
}

func forwardName(f ipvs.Forward) (string, string) {
	switch f {
	case ipvs.Route, ipvs.Local:
		return "dr", ""
	case ipvs.Masq:
		return "nat", ""
	case ipvs.Tunnel:
		return "tun", ""
	}
	return "", fmt.Sprintf("unknown forwarding method %d", uint32(f))
}

// tunnelOf returns the tunnel settings of a tunnel destination as lvsgen
// writes them, or why lvsgen would render them differently.
func tunnelOf(d ipvs.Destination) (typ string, port uint16, csum string, why string) {
	csum = "none"
	switch d.TunFlags {
	case 0:
	case ipvs.TunFlagCsum:
		csum = "csum"
	case ipvs.TunFlagRemCsum:
		csum = "remcsum"
	default:
		return "", 0, "", fmt.Sprintf("tunnel flags %#x", d.TunFlags)
	}
	switch d.TunType {
	case ipvs.TunIPIP:
		if d.TunPort != 0 || csum != "none" {
			return "", 0, "", "an ipip tunnel with a port or checksum option"
		}
		return "ipip", 0, csum, ""
	case ipvs.TunGUE:
		if d.TunPort == 0 {
			return "", 0, "", "a gue tunnel without a port"
		}
		return "gue", d.TunPort, csum, ""
	case ipvs.TunGRE:
		if d.TunPort != 0 || csum == "remcsum" {
			return "", 0, "", "a gre tunnel with a port or remote checksum offload"
		}
		return "gre", 0, csum, ""
	}
	return "", 0, "", fmt.Sprintf("tunnel type %d", d.TunType)
}

// serviceName derives a readable service name from the kernel's key:
// "tcp-192-0-2-10-80", "udp-2001-db8--10-53", "fwmark-100",
// "fwmark-100-ipv6".
func serviceName(k ipvs.ServiceKey) string {
	if k.FWMark != 0 {
		n := "fwmark-" + strconv.FormatUint(uint64(k.FWMark), 10)
		if k.Family == ipvs.IPv6 {
			n += "-ipv6"
		}
		return n
	}
	a := strings.NewReplacer(".", "-", ":", "-").Replace(k.Addr.WithZone("").String())
	return k.Protocol.String() + "-" + a + "-" + strconv.Itoa(int(k.Port))
}

// forwardable reports whether the kernel takes a as a destination: a
// unicast address, for IPv6 not link-local (the schema's real-unicast).
func forwardable(a netip.Addr) bool {
	return !a.IsUnspecified() && !a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255}) &&
		!(a.Is6() && a.IsLinkLocalUnicast())
}
