package ipvs

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Validate reports whether the kernel would hold s as it is and whether the
// `ipvsadm-save -n` text of s (FormatSave) reads back through ipvsadm -R,
// or ParseSave, into values that format to the same text again. It returns
// the first problem found.
//
// What save does not print is not carried back, and Validate does not
// mind it: the destination thresholds, FlagHashed, the timeout and netmask
// of a non-persistent service, and the difference between Local and Route
// forwarding (both print as -g; ParseSave reads Route).
//
// Beyond the kernel's own limits Validate refuses what ipvsadm -R would
// refuse or change: a fwmark of 2^31 or more, a persistence timeout
// outside 1..2678400 s, a zero
// port on a non-persistent service, one-packet scheduling on a TCP or SCTP
// service, flag-3 on sh or mh (save prints no name for it), a scheduler or
// persistence engine the kernel does not have, a -g or -i destination of a
// non-fwmark service whose port is not the service port, tunnel settings on
// a destination that does not tunnel, and tunnel options ipvsadm does not
// allow for the tunnel type.
func (s Service) Validate() error {
	switch s.Family {
	case IPv4, IPv6:
	default:
		return fmt.Errorf("unknown address family %d", uint16(s.Family))
	}
	if s.FWMark > math.MaxInt32 {
		return fmt.Errorf("fwmark %d is 2^31 or more: ipvsadm-save prints it negative and ipvsadm -R refuses that", s.FWMark)
	}
	if s.FWMark != 0 {
		if s.Protocol != 0 || s.Addr.IsValid() || s.Port != 0 {
			return errors.New("a firewall-mark service has no protocol, address or port")
		}
	} else {
		switch s.Protocol {
		case TCP, UDP, SCTP:
		default:
			return fmt.Errorf("unknown protocol %d", uint16(s.Protocol))
		}
		if _, err := addrPortString(s.Family, s.Addr, s.Port); err != nil {
			return err
		}
		if s.Port == 0 && s.Flags&FlagPersistent == 0 {
			return errors.New("port 0 needs persistence")
		}
	}
	if !slices.Contains(Schedulers, s.Scheduler) {
		return fmt.Errorf("unknown scheduler %q", s.Scheduler)
	}
	known := FlagPersistent | FlagHashed | FlagOnePacket | FlagSched1 | FlagSched2 | FlagSched3
	if s.Flags&^known != 0 {
		return fmt.Errorf("unknown flags %#x", s.Flags&^known)
	}
	if s.Flags&FlagPersistent != 0 && (s.Timeout < 1 || s.Timeout > maxPersistTimeout) {
		return fmt.Errorf("persistence timeout %d outside 1..%d", s.Timeout, maxPersistTimeout)
	}
	if s.Family == IPv4 && (s.NetmaskBits < 0 || s.NetmaskBits > 32) {
		return fmt.Errorf("ipv4 netmask /%d outside 0..32", s.NetmaskBits)
	}
	if s.Family == IPv6 && (s.NetmaskBits < 1 || s.NetmaskBits > 128) {
		return fmt.Errorf("ipv6 netmask /%d outside 1..128", s.NetmaskBits)
	}
	if s.PE != "" && s.PE != "sip" {
		return fmt.Errorf("unknown persistence engine %q", s.PE)
	}
	if s.Flags&FlagOnePacket != 0 && s.FWMark == 0 && s.Protocol != UDP {
		return errors.New("one-packet scheduling is only for UDP services")
	}
	if (s.Scheduler == "sh" || s.Scheduler == "mh") && s.Flags&FlagSched3 != 0 {
		return fmt.Errorf("scheduler %s has no flag-3", s.Scheduler)
	}

	seen := make(map[[2]any]bool, len(s.Destinations))
	for i := range s.Destinations {
		d := &s.Destinations[i]
		if err := d.validate(s.ServiceKey); err != nil {
			return fmt.Errorf("destination %s: %w", d.AddrPort(), err)
		}
		k := [2]any{d.Addr, d.Port}
		if seen[k] {
			return fmt.Errorf("destination %s: listed twice", d.AddrPort())
		}
		seen[k] = true
	}
	return nil
}

func (d *Destination) validate(svc ServiceKey) error {
	if !d.Addr.IsValid() {
		return errors.New("no address")
	}
	if d.Addr.Zone() != "" {
		return errors.New("address has a zone")
	}
	if d.Weight < 0 {
		return fmt.Errorf("negative weight %d", d.Weight)
	}
	switch d.Forward {
	case Masq, Local, Route, Tunnel:
	default:
		return fmt.Errorf("unknown forwarding method %d", uint32(d.Forward))
	}
	if FamilyOf(d.Addr) != svc.Family && d.Forward != Tunnel {
		return errors.New("a different address family needs tunnel forwarding")
	}
	if svc.FWMark == 0 && d.Forward != Masq && d.Port != svc.Port {
		return fmt.Errorf("port %d differs from the service port with %s forwarding", d.Port, d.Forward)
	}
	if d.Forward != Tunnel {
		if d.TunType != 0 || d.TunPort != 0 || d.TunFlags != 0 {
			return errors.New("tunnel settings without tunnel forwarding")
		}
		return nil
	}
	switch d.TunType {
	case TunIPIP:
		if d.TunPort != 0 || d.TunFlags != 0 {
			return errors.New("an ipip tunnel takes no port or checksum option")
		}
	case TunGUE:
		if d.TunPort == 0 {
			return errors.New("a gue tunnel needs a port")
		}
		if d.TunFlags != 0 && d.TunFlags != TunFlagCsum && d.TunFlags != TunFlagRemCsum {
			return fmt.Errorf("tunnel flags %#x are not one checksum option", d.TunFlags)
		}
	case TunGRE:
		if d.TunPort != 0 {
			return errors.New("a gre tunnel takes no port")
		}
		if d.TunFlags != 0 && d.TunFlags != TunFlagCsum {
			return fmt.Errorf("tunnel flags %#x are not allowed with gre", d.TunFlags)
		}
	default:
		return fmt.Errorf("unknown tunnel type %d", uint8(d.TunType))
	}
	return nil
}
