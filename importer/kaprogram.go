package importer

// This file applies keepalived's checks and defaults to a virtual server
// read by kaserver.go and returns the IPVS services keepalived programs for
// it: the default protocol, scheduler and persistence, the real servers it
// drops, the ports it gives them, and a group's expansion into one service
// per address and per fwmark.

import (
	"fmt"
	"math"
	"net/netip"
	"slices"

	"github.com/lvsgen/lvsgen/ipvs"
)

// services applies keepalived's checks and defaults to a virtual server
// and returns the IPVS services it programs.
func (k *kaImport) services(vs *kaVS, note func(kaPos, string)) ([]*entry, error) {
	st := vs.st
	if len(vs.reals) == 0 {
		note(st.pos, "no real servers: keepalived does not program this virtual server")
		return nil, nil
	}
	g := vs.group
	if g != nil {
		if len(g.ranges) == 0 && len(g.marks) == 0 {
			note(st.pos, fmt.Sprintf("virtual_server_group %s has no entries: keepalived removes it and ignores this virtual server", st.words[2]))
			return nil, nil
		}
		if g.v4 && g.v6 && g.markNoFamily {
			note(st.pos, fmt.Sprintf("virtual_server_group %s has IPv4, IPv6 and a fwmark without a family: keepalived removes it and ignores this virtual server", st.words[2]))
			return nil, nil
		}
	}
	byAddress := vs.kind == vsAddr || (g != nil && len(g.ranges) > 0)
	if byAddress {
		if vs.proto == 0 {
			note(st.pos, "no protocol: keepalived programs UDP (it logs \"no protocol set - defaulting to UDP\"); set protocol TCP in keepalived.conf if that is what you meant")
			vs.proto = ipvs.UDP
		}
		if vs.flags&ipvs.FlagOnePacket != 0 && vs.proto != ipvs.UDP {
			note(st.pos, "keepalived drops ops: one-packet scheduling is for UDP only")
			vs.flags &^= ipvs.FlagOnePacket
		}
		if vs.kind == vsAddr && vs.persist == 0 && vs.port == 0 {
			note(st.pos, "port 0: keepalived makes the service persistent for 360 s")
			vs.persist = kaDefaultPersistence
		}
	}
	if g != nil && vs.persist == 0 && slices.ContainsFunc(g.ranges, func(r kaRange) bool { return r.port == 0 }) {
		note(st.pos, "an address of the group has no port: keepalived makes every service of this virtual server persistent for 360 s")
		vs.persist = kaDefaultPersistence
	}
	if vs.proto != 0 && (vs.kind == vsFwmark || (g != nil && len(g.ranges) == 0)) {
		note(st.pos, "a fwmark service has no protocol: keepalived ignores it")
		vs.proto = 0
	}
	if vs.sched == "" {
		vs.sched = kaDefaultScheduler
	}
	if vs.pe != "" && vs.persist == 0 {
		note(st.pos, "persistence_engine without persistence: keepalived does not send it")
	}

	// The real servers as keepalived keeps them.
	var reals []*kaReal
	for _, r := range vs.reals {
		if slices.ContainsFunc(reals, func(x *kaReal) bool { return x.addr == r.addr && x.port == r.port }) {
			note(r.st.pos, fmt.Sprintf("%s is a duplicate: keepalived removes it", r.st.text()))
			continue
		}
		if !r.fwd.set {
			r.fwd = vs.fwd
			if !r.fwd.set {
				r.fwd = kaFwd{set: true, method: ipvs.Masq}
			}
		}
		if !r.weightSet {
			r.weight = vs.weight
		}
		reals = append(reals, r)
	}

	base := ipvs.Service{Scheduler: vs.sched, Flags: vs.flags}
	skip := ""
	if vs.persist != 0 {
		base.Flags |= ipvs.FlagPersistent
		base.Timeout = vs.persist
		base.PE = vs.pe
	}

	var entries []*entry
	add := func(key ipvs.ServiceKey, destPort func(r *kaReal) uint16, grouped bool) error {
		s := base
		s.ServiceKey = key
		s.NetmaskBits = ipvs.DefaultNetmaskBits(key.Family)
		thisSkip := skip
		if vs.granSet && s.Flags&ipvs.FlagPersistent != 0 && !grouped {
			if vs.granV6 != (key.Family == ipvs.IPv6) {
				thisSkip = "persistence_granularity of the other address family"
			} else if vs.granV6 {
				s.NetmaskBits = int(vs.gran)
			} else if n, ok := ipvs.MaskBits(vs.gran); ok {
				s.NetmaskBits = n
			} else {
				thisSkip = fmt.Sprintf("persistence_granularity %d.%d.%d.%d is not a contiguous netmask", vs.gran>>24, vs.gran>>16&0xff, vs.gran>>8&0xff, vs.gran&0xff)
			}
		}
		e := &entry{svc: s, where: st.pos.String(), realComments: map[int][]string{}, realChecks: map[int]*checkSpec{}, skip: thisSkip}
		e.quorum, e.hysteresis = vs.quorum, vs.hysteresis
		if vs.kind == vsGroup {
			e.comments = []string{"From virtual_server group " + st.words[2] + "."}
		}
		ks := key.String()
		if len(k.keys) >= maxGroupServices {
			return errAt(st, 0, "more than %d services in all: too many for one lvsgen file", maxGroupServices)
		}
		if prev, dup := k.keys[ks]; dup {
			return errAt(st, 1, "service %s is already defined at %s (the kernel would refuse the second)", ks, prev)
		}
		k.keys[ks] = st.pos.String()
		// A set, not a search: a virtual server of 10,000 real servers.
		have := make(map[netip.AddrPort]bool, len(reals))
		for _, r := range reals {
			d := ipvs.Destination{Addr: r.addr, Port: destPort(r), Forward: r.fwd.method, Weight: r.weight, UpperThreshold: r.upper, LowerThreshold: r.lower}
			if d.Forward == ipvs.Tunnel {
				d.TunType, d.TunPort, d.TunFlags = r.fwd.tunType, r.fwd.tunPort, r.fwd.tunFlags
			}
			switch {
			case ipvs.FamilyOf(d.Addr) != key.Family && d.Forward != ipvs.Tunnel:
				note(r.st.pos, fmt.Sprintf("real server %s is not %s and does not tunnel: the kernel refuses it for %s", d.Addr, key.Family, key))
				continue
			case !forwardable(d.Addr):
				note(r.st.pos, fmt.Sprintf("real server %s is not a unicast address: the kernel refuses it", d.Addr))
				continue
			case d.UpperThreshold > math.MaxInt32 || d.LowerThreshold > math.MaxInt32:
				note(r.st.pos, fmt.Sprintf("real server %s: a threshold above %d, which lvsgen does not take: kernels with the 6.1 threshold fix refuse it, earlier ones keep it", d.Addr, math.MaxInt32))
				continue
			case d.LowerThreshold > d.UpperThreshold:
				note(r.st.pos, fmt.Sprintf("real server %s: lthreshold %d above uthreshold %d: the kernel refuses it", d.Addr, d.LowerThreshold, d.UpperThreshold))
				continue
			case have[d.AddrPort()]:
				note(r.st.pos, fmt.Sprintf("real server %s is already a destination of %s: the kernel refuses the second", d.AddrPort(), key))
				continue
			}
			if r.check != nil {
				if r.check.port == 0 && d.Port == 0 {
					// Once for the real server, whatever services it is in.
					c := r.checker.st
					k.warn(c.pos, fmt.Sprintf("%s of real server %s has no connect_port and the real server no port of its own: lvsgen needs the port to check, so the check stays with keepalived", c.keyword(), r.addr))
					r.comments = append(r.comments, wrap("", k.keep(c.pos, c.keyword(), r.st.text()+": "+checkerSummary(c)+" (no port to check)"))...)
					r.check = nil
				} else {
					e.realChecks[len(s.Destinations)] = r.check
				}
			}
			if len(r.comments) > 0 {
				e.realComments[len(s.Destinations)] = r.comments
			}
			have[d.AddrPort()] = true
			s.Destinations = append(s.Destinations, d)
		}
		e.sorry = k.sorryOf(vs, key, s.Destinations, destPort)
		e.svc = s
		entries = append(entries, e)
		return nil
	}

	switch vs.kind {
	case vsAddr:
		key := ipvs.ServiceKey{Family: vs.af, Protocol: vs.proto, Addr: vs.addr, Port: vs.port}
		err := add(key, func(r *kaReal) uint16 {
			if r.fwd.method == ipvs.Masq {
				if r.port == 0 {
					return vs.port
				}
				return r.port
			}
			if r.port != 0 && r.port != vs.port {
				note(r.st.pos, fmt.Sprintf("real server %s port %d is not the service port %d: keepalived uses %d", r.addr, r.port, vs.port, vs.port))
			}
			return vs.port
		}, false)
		return entries, err
	case vsFwmark:
		key := ipvs.ServiceKey{FWMark: vs.fwmark, Family: vs.af}
		err := add(key, func(r *kaReal) uint16 {
			if r.fwd.method == ipvs.Masq {
				return r.port
			}
			if r.port != 0 {
				note(r.st.pos, fmt.Sprintf("real server %s of a fwmark service: keepalived clears its port", r.addr))
			}
			return 0
		}, false)
		return entries, err
	}

	if vs.granSet && vs.persist != 0 {
		note(st.pos, "persistence_granularity with a virtual_server_group: keepalived programs the group's services with the full netmask")
	}
	n := 0
	for _, rg := range g.ranges {
		for a := rg.first; ; a = a.Next() {
			n++
			if n > maxGroupServices {
				return nil, errAt(st, 2, "group %s makes more than %d services", st.words[2], maxGroupServices)
			}
			key := ipvs.ServiceKey{Family: ipvs.FamilyOf(a), Protocol: vs.proto, Addr: a, Port: rg.port}
			port := rg.port
			if err := add(key, func(r *kaReal) uint16 {
				if r.fwd.method == ipvs.Masq {
					return r.port
				}
				return port
			}, true); err != nil {
				return nil, err
			}
			if a == rg.end {
				break
			}
		}
	}
	for _, m := range g.marks {
		f := m.family
		if f == 0 {
			f = vs.af
		}
		if f == 0 {
			f = ipvs.IPv4
		}
		key := ipvs.ServiceKey{FWMark: m.mark, Family: f}
		if err := add(key, func(r *kaReal) uint16 {
			if r.fwd.method == ipvs.Masq {
				return r.port
			}
			return 0
		}, true); err != nil {
			return nil, err
		}
	}
	return entries, nil
}
