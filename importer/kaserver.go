package importer

// This file reads a virtual_server block and its real_server blocks,
// keyword by keyword and in order, as keepalived does: scheduler flags and
// a real server's forwarding method depend on what came before them. What
// keepalived then programs from them is in kaprogram.go.

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/lvsgen/lvsgen/ipvs"
)

// kaVSKind is how a virtual_server names its services: by address and
// port, by fwmark, or by group.
type kaVSKind int

const (
	vsAddr kaVSKind = iota
	vsFwmark
	vsGroup
)

// kaVS is a virtual_server as read, before keepalived's checks and
// defaults (kaprogram.go); zero values mean not set.
type kaVS struct {
	st       *kaStmt
	kind     kaVSKind
	addr     netip.Addr
	port     uint16
	fwmark   uint32
	group    *kaGroup
	af       ipvs.Family
	sched    string
	flags    uint32
	fwd      kaFwd
	persist  uint32
	gran     uint32 // an IPv4 mask (host order) or IPv6 prefix length
	granSet  bool
	granV6   bool
	pe       string
	proto    ipvs.Protocol
	weight   int32
	reals    []*kaReal
	sorry    *kaReal
	comments []string
	// health is what the real servers' checkers default to; quorum and
	// hysteresis are 0 when not set (keepalived's quorum is then 1).
	health     kaHealth
	quorum     int
	hysteresis int
}

// kaReal is a real_server (or the sorry_server) as read.
type kaReal struct {
	st        *kaStmt
	addr      netip.Addr
	port      uint16
	fwd       kaFwd
	weight    int32
	weightSet bool
	upper     uint32
	lower     uint32
	comments  []string
	health    kaHealth
	// checker is the checker lvsgen imports, check what it becomes.
	checker *kaChecker
	check   *checkSpec
}

// virtualServer reads one virtual_server and returns its services.
func (k *kaImport) virtualServer(st *kaStmt) (*block, error) {
	vs := &kaVS{st: st, weight: 1, health: kaHealth{retry: -1}}
	if len(st.words) < 2 {
		return nil, errAt(st, 0, "want virtual_server ADDRESS [PORT], virtual_server fwmark N or virtual_server group NAME")
	}
	if !st.hasBlock {
		return nil, errAt(st, 0, "virtual_server needs a block")
	}
	// keepalived reads the words it needs and ignores the rest, such as
	// a "dev eth0" some configurations add after the port.
	if extra := extraWords(st); extra != "" {
		after := map[string]string{"fwmark": "mark", "group": "group's name"}[st.words[1]]
		k.warn(st.pos, fmt.Sprintf("virtual_server: keepalived ignores %q after the %s, and so does the import", extra, orDefault(after, "port")))
	}
	switch st.words[1] {
	case "fwmark":
		vs.kind = vsFwmark
		if len(st.words) < 3 {
			return nil, errAt(st, 1, "fwmark needs a mark")
		}
		n, err := strconv.ParseUint(st.words[2], 10, 32)
		if err != nil || n == 0 {
			return nil, errAt(st, 2, "fwmark %q: want 1..4294967295", st.words[2])
		}
		vs.fwmark = uint32(n)
	case "group":
		vs.kind = vsGroup
		if len(st.words) < 3 {
			return nil, errAt(st, 1, "group needs a name")
		}
		vs.group = k.groups[st.words[2]]
		if vs.group == nil {
			return nil, errAt(st, 2, "virtual_server_group %q is not defined", st.words[2])
		}
	default:
		if strings.ContainsAny(st.words[1], "-/") {
			return nil, errAt(st, 1, "%q: address ranges belong in a virtual_server_group", st.words[1])
		}
		a, err := kaAddr(st, 1)
		if err == nil {
			vs.port, err = kaPort(st, 2)
		}
		if err != nil {
			// keepalived skips the virtual server and runs the rest.
			what := fmt.Sprintf("%s: keepalived skips this virtual_server (it logs a configuration error), and so does the import", err.(*Error).Msg)
			k.warn(st.pos, what)
			return &block{comments: wrap("", st.pos.String()+": "+st.text()+": not imported: "+what)}, nil
		}
		vs.addr, vs.af = a, ipvs.FamilyOf(a)
	}
	b := &block{comments: wrap("", st.pos.String()+": "+st.text())}
	var notes []string
	note := func(pos kaPos, what string) {
		k.warn(pos, what)
		notes = append(notes, "Note: "+what)
	}
	for _, s := range st.block {
		if err := k.vsKeyword(vs, s, note); err != nil {
			return nil, err
		}
	}
	for _, r := range vs.reals {
		k.resolveCheck(vs, r)
	}
	// lvsgen loses the quorum below quorum-hysteresis, as keepalived
	// does, but takes a hysteresis only below the quorum.
	if vs.hysteresis > 0 && vs.quorum == 0 {
		note(st.pos, fmt.Sprintf("hysteresis %d without quorum (keepalived's quorum is then 1): dropped, lvsgen takes hysteresis only with a quorum", vs.hysteresis))
		vs.hysteresis = 0
	}
	if vs.quorum > 0 && vs.hysteresis >= vs.quorum {
		note(st.pos, fmt.Sprintf("hysteresis %d is not below quorum %d, which lvsgen refuses: clamped to %d (keepalived would keep the quorum down to a sum of weights of 0)", vs.hysteresis, vs.quorum, vs.quorum-1))
		vs.hysteresis = vs.quorum - 1
	}
	// vs_end_handler: a fwmark service whose real servers all tunnel
	// takes their family when they agree, else IPv4.
	if vs.sorry != nil && vs.sorry.fwd.method != ipvs.Tunnel && vs.af == 0 {
		vs.af = ipvs.FamilyOf(vs.sorry.addr)
	}
	if vs.af == 0 && vs.kind != vsGroup {
		for _, r := range vs.reals {
			f := ipvs.FamilyOf(r.addr)
			if vs.af == 0 {
				vs.af = f
			} else if vs.af != f {
				vs.af = ipvs.IPv4
				break
			}
		}
		if vs.af == 0 {
			vs.af = ipvs.IPv4
		}
	}
	entries, err := k.services(vs, note)
	if err != nil {
		return nil, err
	}
	b.comments = append(b.comments, vs.comments...)
	b.comments = append(b.comments, notes...)
	b.entries = entries
	if len(entries) == 0 {
		b.comments = append(b.comments, "No IPVS service: see the note above.")
	}
	return b, nil
}

// vsKeyword handles one statement of a virtual_server block.
func (k *kaImport) vsKeyword(vs *kaVS, s *kaStmt, note func(kaPos, string)) error {
	kw := s.keyword()
	arg := func(n int) error {
		if len(s.words) != n+1 {
			return errAt(s, 0, "%s takes %d argument(s)", kw, n)
		}
		if s.hasBlock {
			return errAt(s, 0, "%s takes no block", kw)
		}
		return nil
	}
	switch kw {
	case "ip_family":
		if err := arg(1); err != nil {
			return err
		}
		var af ipvs.Family
		switch s.words[1] {
		case "inet":
			af = ipvs.IPv4
		case "inet6":
			af = ipvs.IPv6
		default:
			return errAt(s, 1, "ip_family %q: want inet or inet6", s.words[1])
		}
		if vs.af != 0 && vs.af != af {
			return errAt(s, 1, "ip_family %s conflicts with the virtual server's %s addresses", s.words[1], vs.af)
		}
		vs.af = af
	case "lb_algo", "lvs_sched":
		if err := arg(1); err != nil {
			return err
		}
		if !slices.Contains(ipvs.Schedulers, s.words[1]) {
			note(s.pos, fmt.Sprintf("%s %q: keepalived knows no such scheduler; it logs a configuration error, ignores it and keeps %s, and so does the import", kw, s.words[1], orDefault(vs.sched, kaDefaultScheduler+" (its default)")))
			return nil
		}
		vs.sched = s.words[1]
	case "hashed":
		note(s.pos, "hashed has no effect (keepalived ignores it)")
	case "ops":
		vs.flags |= ipvs.FlagOnePacket
	case "flag-1":
		vs.flags |= ipvs.FlagSched1
	case "flag-2":
		vs.flags |= ipvs.FlagSched2
	case "flag-3":
		vs.flags |= ipvs.FlagSched3
	case "sh-port", "sh-fallback", "mh-port", "mh-fallback":
		own := kw[:2]
		if vs.sched != own {
			note(s.pos, fmt.Sprintf("keepalived ignores %s here: it reads scheduler flags in order and the scheduler is %q at this point, not %s", kw, orDefault(vs.sched, "not set"), own))
			return nil
		}
		if strings.HasSuffix(kw, "fallback") {
			vs.flags |= ipvs.FlagSched1
		} else {
			vs.flags |= ipvs.FlagSched2
		}
	case "lb_kind", "lvs_method":
		f, ok, err := kaFwdFallback(k, s, fwdName(vs.fwd, "NAT (its default)"), note)
		if err != nil {
			return err
		}
		if ok {
			vs.fwd = f
		}
	case "persistence_engine":
		if err := arg(1); err != nil {
			return err
		}
		if s.words[1] != "sip" {
			return errAt(s, 1, "persistence engine %q: the kernel has only sip", s.words[1])
		}
		vs.pe = s.words[1]
	case "persistence_timeout":
		if len(s.words) == 1 {
			vs.persist = kaDefaultPersistence
			return nil
		}
		if err := arg(1); err != nil {
			return err
		}
		n, err := strconv.ParseUint(s.words[1], 10, 32)
		if err != nil || n < 1 || n > kaMaxTimeout {
			// Often "persistence_timeout 0", meant as no persistence.
			note(s.pos, fmt.Sprintf("persistence_timeout %q is not 1..%d seconds: keepalived ignores it (it logs a configuration error), and so does the import", s.words[1], kaMaxTimeout))
			return nil
		}
		vs.persist = uint32(n)
	case "persistence_granularity":
		if err := arg(1); err != nil {
			return err
		}
		af := vs.af
		if af == 0 {
			af = ipvs.IPv6
			if strings.Contains(s.words[1], ".") {
				af = ipvs.IPv4
			}
		}
		if af == ipvs.IPv6 {
			n, err := strconv.ParseUint(s.words[1], 10, 8)
			if err != nil || n < 1 || n > 128 {
				return errAt(s, 1, "IPv6 persistence_granularity %q: want a prefix length 1..128", s.words[1])
			}
			vs.gran, vs.granV6 = uint32(n), true
		} else {
			m, err := netip.ParseAddr(s.words[1])
			if err != nil || !m.Is4() {
				return errAt(s, 1, "IPv4 persistence_granularity %q: want a netmask such as 255.255.255.0", s.words[1])
			}
			b := m.As4()
			vs.gran, vs.granV6 = uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]), false
		}
		vs.granSet = true
		if vs.af == 0 {
			vs.af = af
		}
		if vs.persist == 0 {
			vs.persist = kaDefaultPersistence
		}
	case "protocol":
		if err := arg(1); err != nil {
			return err
		}
		switch strings.ToUpper(s.words[1]) {
		case "TCP":
			vs.proto = ipvs.TCP
		case "UDP":
			vs.proto = ipvs.UDP
		case "SCTP":
			vs.proto = ipvs.SCTP
		default:
			note(s.pos, fmt.Sprintf("protocol %q: keepalived knows TCP, UDP and SCTP; it ignores this one (it logs a configuration error), and so does the import", s.words[1]))
		}
	case "weight":
		if err := arg(1); err != nil {
			return err
		}
		n, err := strconv.ParseUint(s.words[1], 10, 31)
		if err != nil || n < 1 {
			return errAt(s, 1, "virtual server weight %q: want 1..%d", s.words[1], math.MaxInt32)
		}
		vs.weight = int32(n)
	case "real_server":
		r, err := k.realServer(vs, s, note)
		if err != nil {
			return err
		}
		if r != nil {
			vs.reals = append(vs.reals, r)
		}
	case "sorry_server":
		a, err := kaAddr(s, 1)
		if err != nil {
			return err
		}
		port, err := kaPort(s, 2)
		if err != nil {
			return err
		}
		vs.sorry = &kaReal{st: s, addr: a, port: port, fwd: vs.fwd}
	case "quorum", "hysteresis":
		if err := arg(1); err != nil {
			return err
		}
		n, err := strconv.ParseUint(s.words[1], 10, 31)
		if err != nil || (kw == "quorum" && n < 1) {
			return errAt(s, 1, "%s %q: want %d..%d", kw, s.words[1], map[bool]int{true: 1}[kw == "quorum"], math.MaxInt32)
		}
		if kw == "quorum" {
			vs.quorum = int(n)
		} else {
			vs.hysteresis = int(n)
		}
	default:
		if k.healthKeyword(&vs.health, s) {
			return nil
		}
		if why, ok := vsUnmodelled[kw]; ok {
			if kw == "sorry_server_lvs_method" && vs.sorry != nil {
				if f, err := parseFwd(k, s); err == nil {
					vs.sorry.fwd = f
				}
			}
			vs.comments = append(vs.comments, wrap("", k.keep(s.pos, kw, s.text()+": "+why))...)
			return nil
		}
		note(s.pos, ignoredKeyword(kw, "virtual_server"))
	}
	return nil
}

// retired are keywords keepalived once read and now ignores, with what
// they were.
var retired = map[string]string{
	"nat_mask": "the NAT netmask of keepalived 1.x", "net_mask": "a netmask",
	"timeout": "a timeout", "lvs_sched_flags": "scheduler flags of keepalived 1.x",
}

// ignoredKeyword is the warning for a keyword keepalived does not know in
// a block: it logs a configuration error and goes on without it.
func ignoredKeyword(kw, in string) string {
	if what, ok := retired[kw]; ok {
		return fmt.Sprintf("%s in %s (%s): keepalived no longer reads it and ignores it, and so does the import", kw, in, what)
	}
	return fmt.Sprintf("unknown keyword %q in %s: keepalived ignores it (it logs a configuration error), and so does the import", kw, in)
}

// extraWords returns the words of a virtual_server or real_server after
// the ones keepalived reads, joined by blanks.
func extraWords(st *kaStmt) string {
	if len(st.words) <= 3 {
		return ""
	}
	return strings.Join(st.words[3:], " ")
}

// orDefault is s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// realServer reads a real_server; nil when keepalived drops it.
func (k *kaImport) realServer(vs *kaVS, s *kaStmt, note func(kaPos, string)) (*kaReal, error) {
	if len(s.words) < 2 {
		return nil, errAt(s, 0, "want real_server ADDRESS [PORT]")
	}
	if extra := extraWords(s); extra != "" {
		note(s.pos, fmt.Sprintf("real_server: keepalived ignores %q after the port, and so does the import", extra))
	}
	a, err := kaAddr(s, 1)
	var port uint16
	if err == nil {
		port, err = kaPort(s, 2)
	}
	if err != nil {
		note(s.pos, fmt.Sprintf("%s: keepalived skips this real_server (it logs a configuration error), and so does the import", err.(*Error).Msg))
		return nil, nil
	}
	r := &kaReal{st: s, addr: a, port: port, fwd: vs.fwd, health: kaHealth{retry: -1}}
	var keptCheckers []string // checkers before the imported one
	for _, x := range s.block {
		kw := x.keyword()
		one := func() error {
			if len(x.words) != 2 || x.hasBlock {
				return errAt(x, 0, "%s takes one argument", kw)
			}
			return nil
		}
		switch {
		case kw == "weight":
			if err := one(); err != nil {
				return nil, err
			}
			n, err := strconv.ParseUint(x.words[1], 10, 31)
			if err != nil {
				note(x.pos, fmt.Sprintf("real server weight %q is not 0..%d: keepalived ignores it (it logs a configuration error), and so does the import", x.words[1], math.MaxInt32))
				continue
			}
			r.weight, r.weightSet = int32(n), true
		case kw == "lvs_method":
			f, ok, err := kaFwdFallback(k, x, fwdName(r.fwd, "NAT (keepalived's default)")+", the virtual server's", note)
			if err != nil {
				return nil, err
			}
			if ok {
				r.fwd = f
			}
		case kw == "uthreshold" || kw == "lthreshold":
			if err := one(); err != nil {
				return nil, err
			}
			n, err := strconv.ParseUint(x.words[1], 10, 32)
			if err != nil {
				return nil, errAt(x, 1, "%s %q: want 0..4294967295", kw, x.words[1])
			}
			if kw == "uthreshold" {
				r.upper = uint32(n)
			} else {
				r.lower = uint32(n)
			}
		case checkers[kw]:
			var c *kaChecker
			why := "lvsgen has one check per real server"
			if r.checker == nil {
				c, why = k.checker(r, x)
			} else {
				k.warn(x.pos, fmt.Sprintf("%s: keepalived needs every checker of %s to pass; lvsgen has one check per real server and imports the %s at %s, not this one", kw, s.text(), r.checker.st.keyword(), r.checker.st.pos))
			}
			if c != nil {
				r.checker = c
				if len(keptCheckers) > 0 {
					k.warn(x.pos, fmt.Sprintf("%s: keepalived needs every checker of %s to pass; lvsgen has one check per real server and imports this one, not the ones at %s (they stay with keepalived)", kw, s.text(), strings.Join(keptCheckers, ", ")))
				}
				continue
			}
			if r.checker == nil {
				keptCheckers = append(keptCheckers, x.keyword()+" "+x.pos.String())
			}
			r.comments = append(r.comments, wrap("", k.keep(x.pos, kw, s.text()+": "+checkerSummary(x)+" ("+why+")"))...)
		case k.healthKeyword(&r.health, x):
		case rsUnmodelled[kw] != "":
			r.comments = append(r.comments, wrap("", k.keep(x.pos, kw, s.text()+": "+x.text()+": "+rsUnmodelled[kw]))...)
		default:
			note(x.pos, ignoredKeyword(kw, "real_server"))
		}
	}
	// rs_end_handler: a real server that does not tunnel sets, or must
	// match, the virtual server's family.
	if !(r.fwd.set && r.fwd.method == ipvs.Tunnel) {
		f := ipvs.FamilyOf(a)
		if vs.af == 0 {
			vs.af = f
		} else if vs.af != f {
			note(s.pos, fmt.Sprintf("keepalived skips real server %s: it is %s, the virtual server %s, and it does not tunnel", a, f, vs.af))
			return nil, nil
		}
	}
	return r, nil
}
