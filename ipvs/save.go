package ipvs

// This file renders services in the text format of `ipvsadm-save -n`
// (= `ipvsadm -S -n`) as Debian's ipvsadm 1.31 prints it. Every rule below
// was read from ipvsadm 1.31's source (ipvsadm.c and libipvs/libipvs.c); the
// function named in each comment is where. oracle_e2eguest_test.go checks
// the output byte for byte against Debian's ipvsadm 1.31 binary on Debian's
// 6.1 kernel in the e2e VM; that is how the two facts the source read did
// not give were found: the fwmark is printed with %d, and a bare -p means
// 360 seconds.
//
// Line syntax (ipvsadm.c: print_service_entry, print_tunnel_rule,
// print_sched_flags, addrport_to_anyname, fwd_switch):
//
//	-A <svc> -s <sched>[ -p <timeout>[ -M <mask>]][ --pe <pe>][ -o][ -b <flags>]
//	-a <svc> -r <addr:port> <-g|-m|-i> -w <weight>[ <tunnel options>]
//
// where <svc> is "-t A:P", "-u A:P", "--sctp-service A:P", "-f MARK" or
// "-f MARK -6", and IPv6 addresses are bracketed ("[2001:db8::1]:80"). The
// mark is printed as a signed 32-bit number, so marks from 2^31 up come out
// negative. The thresholds (-x, -y) are never printed.
//
// What the kernel stores, as opposed to what a user typed, is what save
// prints. The kernel normalisations that matter for the output:
//
//   - A firewall-mark service is dumped without protocol, address and port
//     (ip_vs_genl_fill_service puts only the mark), so libipvs sees
//     protocol 0, address 0 and port 0, which is lvsgen's convention too.
//     This matters for the sort order only.
//   - The persistence timeout is stored in jiffies and dumped divided by HZ,
//     so whole seconds round-trip unchanged (up to 2^32/HZ seconds).
//   - The netmask is stored as sent. ipvsadm -R sends 255.255.255.255 (IPv4)
//     or 128 (IPv6) when -M is absent, and save prints -M only when the
//     service is persistent and the mask differs from that default; a
//     non-persistent service's netmask is kept by the kernel but never
//     printed. The kernel refuses an IPv6 netmask outside 1..128.
//   - The flags are dumped with the kernel's own IP_VS_SVC_F_HASHED bit set;
//     save ignores it.
//   - The forwarding method is stored as sent: kernel 6.1 keeps -g for a
//     destination on one of its own addresses and keeps LOCALNODE when that
//     is what was sent (old kernels turned a local address into LOCALNODE).
//     fwd_switch prints LOCALNODE as "-g", so a Local destination saves
//     like a Route one.
//   - The kernel refuses an IPv4-mapped IPv6 destination (::ffff:a.b.c.d)
//     as not unicast; as a service address it is taken.
//   - The destination port is stored as sent: it is ipvsadm -R (not the
//     kernel) that replaces the port of a -g or -i destination of a
//     non-fwmark service by the service port (process_options).
//   - Tunnel type, port and checksum flags are stored for every
//     destination but printed only for tunnel (-i) destinations.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultNetmaskBits returns the persistence netmask, as a prefix length,
// that ipvsadm sends when no -M is given and that ipvsadm-save therefore
// leaves out: 32 for IPv4 and 128 for IPv6.
func DefaultNetmaskBits(f Family) int {
	if f == IPv6 {
		return 128
	}
	return 32
}

// FormatSave writes services to w exactly as `ipvsadm-save -n` (ipvsadm
// 1.31) prints them once they are loaded into the kernel: services and
// their destinations sorted as ipvsadm sorts them (see Sort), one "-A" line
// per service followed by one "-a" line per destination. The order of
// services and of each service's destinations is the order the kernel
// would dump them in; it only matters when ipvsadm's comparison is not a
// total order (see Sort). FormatSave does not modify services.
//
// FormatSave prints values the way ipvsadm does even where ipvsadm -R could
// not read them back (Validate reports those); it returns an error only for
// values that ipvsadm could not print at all or that the kernel cannot
// hold, such as a missing address, an unknown protocol or forwarding
// method, or a negative weight.
func FormatSave(w io.Writer, services []Service) error {
	sorted := make([]Service, len(services))
	copy(sorted, services)
	for i := range sorted {
		sorted[i].Destinations = append([]Destination(nil), sorted[i].Destinations...)
	}
	Sort(sorted)

	var b bytes.Buffer
	for i := range sorted {
		if err := appendService(&b, &sorted[i]); err != nil {
			return fmt.Errorf("format service %s: %w", sorted[i].ServiceKey, err)
		}
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write save text: %w", err)
	}
	return nil
}

// SaveString returns the `ipvsadm-save -n` text of services (see
// FormatSave). A service FormatSave cannot print is replaced by a line
// starting with "# error: " so that the text still shows what went wrong.
func SaveString(services []Service) string {
	var b strings.Builder
	if err := FormatSave(&b, services); err != nil {
		return "# error: " + err.Error() + "\n"
	}
	return b.String()
}

// appendService writes the -A line of s and the -a lines of its
// destinations, in the order they are in.
func appendService(b *bytes.Buffer, s *Service) error {
	name, err := serviceName(s)
	if err != nil {
		return err
	}
	if s.Scheduler == "" {
		return errors.New("no scheduler")
	}

	// print_service_entry, FMT_RULE branch.
	b.WriteString("-A ")
	b.WriteString(name)
	b.WriteString(" -s ")
	b.WriteString(s.Scheduler)
	if s.Flags&FlagPersistent != 0 {
		b.WriteString(" -p ")
		b.WriteString(strconv.FormatUint(uint64(s.Timeout), 10))
		switch s.Family {
		case IPv4:
			if s.NetmaskBits != 32 {
				if s.NetmaskBits < 0 || s.NetmaskBits > 32 {
					return fmt.Errorf("ipv4 netmask /%d out of range", s.NetmaskBits)
				}
				// inet_ntoa of the mask.
				b.WriteString(" -M ")
				b.WriteString(maskString(s.NetmaskBits))
			}
		case IPv6:
			if s.NetmaskBits != 128 {
				b.WriteString(" -M ")
				b.WriteString(strconv.Itoa(s.NetmaskBits))
			}
		}
	}
	if s.PE != "" {
		b.WriteString(" --pe ")
		b.WriteString(s.PE)
	}
	if s.Flags&FlagOnePacket != 0 {
		b.WriteString(" -o")
	}
	if s.Flags&(FlagSched1|FlagSched2|FlagSched3) != 0 {
		// ipvsadm prints " -b " and then the names; for sh or mh with
		// only flag-3 set there are no names, leaving "-b " at the end.
		b.WriteString(" -b ")
		b.WriteString(schedFlagNames(s.Scheduler, s.Flags))
	}
	b.WriteByte('\n')

	for i := range s.Destinations {
		if err := appendDest(b, name, s.ServiceKey, &s.Destinations[i]); err != nil {
			return fmt.Errorf("destination %s: %w", s.Destinations[i].AddrPort(), err)
		}
	}
	return nil
}

// serviceName is ipvsadm's svc_name in FMT_RULE mode: the service option
// and its argument, reused in every -a line.
func serviceName(s *Service) (string, error) {
	if s.Family != IPv4 && s.Family != IPv6 {
		return "", fmt.Errorf("unknown address family %d", uint16(s.Family))
	}
	if s.FWMark != 0 {
		// Debian's ipvsadm 1.31 prints the mark with "%d": marks of
		// 2^31 and more come out negative ("-f -1" for 4294967295).
		mark := strconv.FormatInt(int64(int32(s.FWMark)), 10)
		if s.Family == IPv6 {
			return "-f " + mark + " -6", nil
		}
		return "-f " + mark, nil
	}
	var opt string
	// option_from_protocol. ipvsadm would print "--xxx-service" for any
	// other protocol, but the kernel accepts only these three.
	switch s.Protocol {
	case TCP:
		opt = "-t "
	case UDP:
		opt = "-u "
	case SCTP:
		opt = "--sctp-service "
	default:
		return "", fmt.Errorf("unknown protocol %d", uint16(s.Protocol))
	}
	a, err := addrPortString(s.Family, s.Addr, s.Port)
	if err != nil {
		return "", err
	}
	return opt + a, nil
}

// addrPortString is addrport_to_anyname with FMT_NUMERIC: inet_ntop of the
// address, bracketed unless IPv4, then ":" and the port in decimal.
func addrPortString(f Family, a netip.Addr, port uint16) (string, error) {
	if !a.IsValid() {
		return "", errors.New("no address")
	}
	if a.Zone() != "" {
		return "", fmt.Errorf("address %s has a zone", a)
	}
	if FamilyOf(a) != f {
		return "", fmt.Errorf("address %s is not %s", a, f)
	}
	p := strconv.FormatUint(uint64(port), 10)
	if f == IPv4 {
		return a.String() + ":" + p, nil
	}
	return "[" + inetNtop6(a.As16()) + "]:" + p, nil
}

// inetNtop6 formats an IPv6 address as glibc's inet_ntop does. It differs
// from netip.Addr.String in one way: glibc writes the last 32 bits as a
// dotted quad not only for ::ffff:a.b.c.d but also whenever the first six
// 16-bit words and no more are zero ("::1:2" is printed "::0.1.0.2",
// "::102:304" is "::1.2.3.4"); "::1" and "::" stay as they are.
func inetNtop6(a [16]byte) string {
	var words [8]uint16
	for i := range words {
		words[i] = uint16(a[2*i])<<8 | uint16(a[2*i+1])
	}
	// Longest run of zero words, the first one on a tie, at least two long.
	bestBase, bestLen := -1, 0
	curBase, curLen := -1, 0
	for i, w := range words {
		if w == 0 {
			if curBase == -1 {
				curBase, curLen = i, 1
			} else {
				curLen++
			}
			continue
		}
		if curBase != -1 {
			if bestBase == -1 || curLen > bestLen {
				bestBase, bestLen = curBase, curLen
			}
			curBase = -1
		}
	}
	if curBase != -1 && (bestBase == -1 || curLen > bestLen) {
		bestBase, bestLen = curBase, curLen
	}
	if bestBase != -1 && bestLen < 2 {
		bestBase = -1
	}

	var b strings.Builder
	for i := 0; i < 8; i++ {
		if bestBase != -1 && i >= bestBase && i < bestBase+bestLen {
			if i == bestBase {
				b.WriteByte(':')
			}
			continue
		}
		if i != 0 {
			b.WriteByte(':')
		}
		if i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 5 && words[5] == 0xffff)) {
			fmt.Fprintf(&b, "%d.%d.%d.%d", a[12], a[13], a[14], a[15])
			break
		}
		b.WriteString(strconv.FormatUint(uint64(words[i]), 16))
	}
	if bestBase != -1 && bestBase+bestLen == 8 {
		b.WriteByte(':')
	}
	return b.String()
}

// maskString is inet_ntoa of the IPv4 netmask with the given prefix length.
func maskString(bits int) string {
	var m uint32
	if bits > 0 {
		m = ^uint32(0) << (32 - bits)
	}
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}

// schedFlagNames is print_sched_flags: sh and mh name their first two flags
// (and have no name for the third), every other scheduler prints flag-1,
// flag-2 and flag-3; always in bit order, comma-separated.
func schedFlagNames(sched string, flags uint32) string {
	var names []string
	switch sched {
	case "sh":
		if flags&FlagSched1 != 0 {
			names = append(names, "sh-fallback")
		}
		if flags&FlagSched2 != 0 {
			names = append(names, "sh-port")
		}
	case "mh":
		if flags&FlagSched1 != 0 {
			names = append(names, "mh-fallback")
		}
		if flags&FlagSched2 != 0 {
			names = append(names, "mh-port")
		}
	default:
		if flags&FlagSched1 != 0 {
			names = append(names, "flag-1")
		}
		if flags&FlagSched2 != 0 {
			names = append(names, "flag-2")
		}
		if flags&FlagSched3 != 0 {
			names = append(names, "flag-3")
		}
	}
	return strings.Join(names, ",")
}

// tunFlagOptions is ipvsadm's tun_flags_opts, indexed by the tunnel flags
// value itself (0 = no checksum, 1 = TunFlagCsum, 2 = TunFlagRemCsum).
var tunFlagOptions = [...]string{"--tun-nocsum", "--tun-csum", "--tun-remcsum"}

// appendDest writes one -a line (print_service_entry's FMT_RULE branch and
// print_tunnel_rule).
func appendDest(b *bytes.Buffer, svcName string, svc ServiceKey, d *Destination) error {
	if !d.Addr.IsValid() {
		return errors.New("no address")
	}
	addr, err := addrPortString(FamilyOf(d.Addr), d.Addr, d.Port)
	if err != nil {
		return err
	}
	var fwd string
	switch d.Forward {
	case Masq:
		fwd = "-m"
	case Tunnel:
		fwd = "-i"
	case Local, Route:
		fwd = "-g"
	default:
		return fmt.Errorf("unknown forwarding method %d", uint32(d.Forward))
	}
	if d.Weight < 0 {
		return fmt.Errorf("negative weight %d", d.Weight)
	}

	b.WriteString("-a ")
	b.WriteString(svcName)
	b.WriteString(" -r ")
	b.WriteString(addr)
	b.WriteByte(' ')
	b.WriteString(fwd)
	b.WriteString(" -w ")
	b.WriteString(strconv.FormatInt(int64(d.Weight), 10))
	if d.Forward == Tunnel {
		switch d.TunType {
		case TunIPIP:
			b.WriteString(" --tun-type ipip")
		case TunGUE:
			if int(d.TunFlags) >= len(tunFlagOptions) {
				return fmt.Errorf("tunnel flags %#x have no ipvsadm option", d.TunFlags)
			}
			b.WriteString(" --tun-type gue --tun-port ")
			b.WriteString(strconv.FormatUint(uint64(d.TunPort), 10))
			b.WriteByte(' ')
			b.WriteString(tunFlagOptions[d.TunFlags])
		case TunGRE:
			if int(d.TunFlags) >= len(tunFlagOptions) {
				return fmt.Errorf("tunnel flags %#x have no ipvsadm option", d.TunFlags)
			}
			b.WriteString(" --tun-type gre ")
			b.WriteString(tunFlagOptions[d.TunFlags])
		default:
			// print_tunnel_rule's default case: no tunnel options.
		}
	}
	b.WriteByte('\n')
	return nil
}
