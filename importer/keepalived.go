package importer

// This file works out the IPVS table keepalived programs from its
// configuration, once every health checker passes and every quorum is met,
// following keepalived 2.2 (check_parser.c, check_data.c:
// validate_check_config, ipvswrapper.c), and checked against keepalived
// 2.2.7 on a 6.1 kernel by e2e/importer:
//
//   - A virtual server without a protocol is UDP; without a scheduler,
//     wlc; without lb_kind (lvs_method), NAT. persistence_timeout without
//     a value, persistence_granularity alone, and port 0 mean persistence
//     for 360 s. persistence_engine is sent only with persistence, and
//     ops only for UDP (or fwmark) services.
//   - Scheduler flags are read in order: sh-port and sh-fallback take
//     effect only after lvs_sched sh, mh-port and mh-fallback only after
//     lvs_sched mh; flag-1..3 always. hashed has no effect.
//   - A real server takes the forwarding method (and tunnel settings) the
//     virtual server has when the real server is read, else the virtual
//     server's final one; its weight defaults to the virtual server's
//     weight (1). A DR or TUN real server gets the service port (0 for a
//     fwmark service); a NAT one keeps its own, or the service port when it
//     has none (a fwmark NAT real server without a port gets 0).
//   - A virtual_server group expands into one service per address of each
//     range and per fwmark; a DR or TUN real server takes each entry's
//     port, a NAT one its own (0 when it has none).
//   - A real server of the wrong address family (unless tunnelled) and a
//     second real server of the same address and port are dropped; a
//     virtual server without real servers is not programmed.

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/lvsgen/lvsgen/ipvs"
)

// KeepalivedOptions are the options of FromKeepalived.
type KeepalivedOptions struct {
	Options
	// ConfigID is keepalived's configuration id (-i), which conditional
	// lines (@id) are compared with. Default: the director's name, else
	// the local host name up to its first dot, as keepalived does.
	ConfigID string
	// Files reads the configuration and its includes; OSFiles when nil.
	Files Files
}

// keepalived's defaults and limits.
const (
	kaDefaultPersistence = 360 // IPVS_SVC_PERSISTENT_TIMEOUT
	kaDefaultScheduler   = "wlc"
	kaMaxTimeout         = 2678400 // LVS_MAX_TIMEOUT
	// maxGroupServices bounds what one range, and one import, expands
	// to: lvsgen writes a service per address, and compiling ten
	// thousand of them takes seconds.
	maxGroupServices = 16384
)

// FromKeepalived imports the IPVS services keepalived programs from the
// configuration in path and the files it includes. The director is
// opts.Director, else global_defs' router_id. Malformed input, and
// settings keepalived refuses, are an *Error with the file, the line and
// the offending token.
func FromKeepalived(path string, opts KeepalivedOptions) (*Result, error) {
	files := opts.Files
	if files == nil {
		files = OSFiles{}
	}
	configID := opts.ConfigID
	if configID == "" {
		configID = opts.Director
	}
	if configID == "" {
		if h, err := os.Hostname(); err == nil {
			configID, _, _ = strings.Cut(h, ".")
		}
	}
	stmts, rd, err := parseKeepalived(files, path, configID)
	if err != nil {
		return nil, err
	}
	k := &kaImport{groups: map[string]*kaGroup{}, keys: map[string]string{}}
	k.warnings = append(k.warnings, rd.warnings...)
	if rd.conditionals > 0 && opts.ConfigID == "" {
		k.warn(kaPos{file: path}, fmt.Sprintf("conditional lines (@id) were read for configuration id %q; pass --config-id if keepalived runs with another -i", configID))
	}
	if err := k.collect(stmts); err != nil {
		return nil, err
	}
	o := opts.Options
	if o.Director == "" {
		if k.routerID == "" {
			return nil, fmt.Errorf("%s has no global_defs router_id to name the director: pass --director NAME", path)
		}
		if err := CheckName("director", k.routerID); err != nil {
			return nil, fmt.Errorf("global_defs router_id %q cannot name the director (pass --director NAME): %w", k.routerID, err)
		}
		o.Director = k.routerID
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	if err := k.build(stmts); err != nil {
		return nil, err
	}

	d := &document{opts: o, timeouts: k.timeouts, blocks: k.blocks, warnings: k.warnings, unmodelled: k.unmodelled}
	d.intro = wrap("", fmt.Sprintf("Imported by %s: the IPVS services keepalived programs on director %s once its health checkers pass.",
		importedBy(o, "keepalived", path), o.Director))
	d.intro = append(d.intro, wrap("", "keepalived keeps what lvsgen does not do: VRRP (which holds the VIPs), health checking and what follows from it (weights, sorry servers, quorum), notify scripts. docs/IMPORT.md tells how to run both during the move without them fighting over weights.")...)
	d.assumptions = assumptions(o.Director, "keepalived.conf")
	d.nextSteps = nextSteps(o.Director, true)
	d.vipComment = "keepalived (VRRP virtual_ipaddress) or the host's own setup binds the VIPs: with \"none\" lvsgen adds no address."
	return d.finish()
}

type kaImport struct {
	routerID   string
	timeouts   *timeouts
	groups     map[string]*kaGroup
	keys       map[string]string // service key → where defined
	blocks     []*block
	warnings   []Note
	unmodelled []Note
}

func (k *kaImport) warn(pos kaPos, what string) {
	w := ""
	if pos.file != "" {
		w = pos.String()
		if pos.line == 0 {
			w = pos.file
		}
	}
	k.warnings = append(k.warnings, Note{Where: w, What: what})
}

// keep records a setting keepalived keeps doing and returns its comment.
func (k *kaImport) keep(pos kaPos, keyword, what string) string {
	k.unmodelled = append(k.unmodelled, Note{Where: pos.String(), Keyword: keyword, What: what})
	return "keepalived keeps (" + pos.String() + "): " + what
}

func errAt(st *kaStmt, i int, format string, args ...any) *Error {
	tok := ""
	if i < len(st.words) {
		tok = st.words[i]
	}
	return &Error{File: st.pos.file, Line: st.pos.line, Token: tok, Msg: fmt.Sprintf(format, args...)}
}

// collect reads what the services need from anywhere in the file:
// global_defs and the virtual server groups.
func (k *kaImport) collect(stmts []*kaStmt) error {
	for _, st := range stmts {
		switch st.keyword() {
		case "global_defs":
			for _, g := range st.block {
				switch g.keyword() {
				case "router_id":
					if len(g.words) != 2 {
						return errAt(g, 0, "router_id takes one name")
					}
					k.routerID = g.words[1]
				case "lvs_timeouts":
					t, err := parseTimeouts(g)
					if err != nil {
						return err
					}
					k.timeouts = t
				}
			}
		case "virtual_server_group":
			if len(st.words) != 2 || !st.hasBlock {
				return errAt(st, 0, "virtual_server_group takes a name and a block")
			}
			name := st.words[1]
			if _, dup := k.groups[name]; dup {
				return errAt(st, 1, "virtual_server_group %q is defined twice", name)
			}
			g, err := parseGroup(st)
			if err != nil {
				return err
			}
			k.groups[name] = g
		}
	}
	return nil
}

// parseTimeouts reads `lvs_timeouts [tcp N] [tcpfin N] [udp N]`.
func parseTimeouts(st *kaStmt) (*timeouts, error) {
	t := &timeouts{where: st.pos.String()}
	for i := 1; i < len(st.words); i += 2 {
		if i+1 >= len(st.words) {
			return nil, errAt(st, i, "lvs_timeouts %s needs a number of seconds", st.words[i])
		}
		n, err := strconv.ParseUint(st.words[i+1], 10, 32)
		if err != nil || n < 1 || n > 2147483 {
			return nil, errAt(st, i+1, "lvs_timeouts %s %q: want 1..2147483 seconds", st.words[i], st.words[i+1])
		}
		switch st.words[i] {
		case "tcp":
			t.tcp = int(n)
		case "tcpfin":
			t.tcpfin = int(n)
		case "udp":
			t.udp = int(n)
		default:
			return nil, errAt(st, i, "lvs_timeouts: unknown timeout %q (want tcp, tcpfin or udp)", st.words[i])
		}
	}
	return t, nil
}

// kaGroup is a virtual_server_group: address ranges and fwmarks.
type kaGroup struct {
	st     *kaStmt
	ranges []kaRange
	marks  []kaMark
	v4, v6 bool
	// markNoFamily is set when a fwmark entry has no family.
	markNoFamily bool
}

type kaRange struct {
	pos        kaPos
	first, end netip.Addr
	port       uint16
}

type kaMark struct {
	pos    kaPos
	mark   uint32
	family ipvs.Family // 0: not given
}

func parseGroup(st *kaStmt) (*kaGroup, error) {
	g := &kaGroup{st: st}
	for _, e := range st.block {
		if e.hasBlock {
			return nil, errAt(e, 0, "a virtual_server_group entry has no block")
		}
		if e.keyword() == "fwmark" {
			if len(e.words) < 2 || len(e.words) > 3 {
				return nil, errAt(e, 0, "want fwmark N [inet|inet6]")
			}
			n, err := strconv.ParseUint(e.words[1], 10, 32)
			if err != nil || n == 0 {
				return nil, errAt(e, 1, "fwmark %q: want 1..4294967295", e.words[1])
			}
			m := kaMark{pos: e.pos, mark: uint32(n)}
			if len(e.words) == 3 {
				switch e.words[2] {
				case "inet":
					m.family, g.v4 = ipvs.IPv4, true
				case "inet6":
					m.family, g.v6 = ipvs.IPv6, true
				default:
					return nil, errAt(e, 2, "fwmark family %q: want inet or inet6", e.words[2])
				}
			} else {
				g.markNoFamily = true
			}
			g.marks = append(g.marks, m)
			continue
		}
		if len(e.words) > 2 {
			return nil, errAt(e, 2, "want ADDRESS[-END|/BITS] [PORT]")
		}
		port, err := kaPort(e, 1)
		if err != nil {
			return nil, err
		}
		r, err := parseRange(e, e.words[0])
		if err != nil {
			return nil, err
		}
		r.port = port
		if r.first.Is4() {
			g.v4 = true
		} else {
			g.v6 = true
		}
		g.ranges = append(g.ranges, r)
	}
	return g, nil
}

// parseRange reads an address, a range (A-B with B the last byte of an
// IPv4 address in decimal, the last 16 bits of an IPv6 address in hex, or
// a whole address) or a prefix (A/BITS, host bits zero).
func parseRange(st *kaStmt, s string) (kaRange, error) {
	r := kaRange{pos: st.pos}
	bad := func(why string) (kaRange, error) { return kaRange{}, errAt(st, 0, "address range %q: %s", s, why) }
	if a, bits, ok := strings.Cut(s, "/"); ok {
		p, err := netip.ParsePrefix(a + "/" + bits)
		if err != nil || p.Bits() == 0 || p.Addr().Zone() != "" {
			return bad("not an address with a prefix length of 1..32 or 1..128")
		}
		if p.Masked() != p {
			return bad("address bits beyond the prefix length are set")
		}
		r.first = p.Addr()
		r.end = lastAddr(p)
		if rangeSize(r.first, r.end) > maxGroupServices {
			return bad(fmt.Sprintf("more than %d addresses", maxGroupServices))
		}
		return r, nil
	}
	a, endStr, isRange := strings.Cut(s, "-")
	first, err := netip.ParseAddr(a)
	if err != nil || first.Zone() != "" || first.Is4In6() {
		return bad("not a numeric IPv4 or IPv6 address")
	}
	r.first, r.end = first, first
	if !isRange {
		return r, nil
	}
	if (first.Is4() && strings.Contains(endStr, ".")) || (first.Is6() && strings.Contains(endStr, ":")) {
		end, err := netip.ParseAddr(endStr)
		if err != nil || end.Is4() != first.Is4() || end.Zone() != "" {
			return bad("the end is not an address of the same family")
		}
		if end.Less(first) {
			return bad("the end is below the start")
		}
		r.end = end
	} else {
		base, limit := 10, uint64(255)
		if first.Is6() {
			base, limit = 16, 0xffff
		}
		n, err := strconv.ParseUint(endStr, base, 64)
		if err != nil || n > limit {
			return bad("the end is not a number up to " + strconv.FormatUint(limit, base))
		}
		b := first.AsSlice()
		var start uint64
		if first.Is4() {
			start = uint64(b[3])
			b[3] = byte(n)
		} else {
			start = uint64(b[14])<<8 | uint64(b[15])
			b[14], b[15] = byte(n>>8), byte(n)
		}
		if start >= n {
			return bad("the end is not above the start")
		}
		r.end, _ = netip.AddrFromSlice(b)
	}
	if rangeSize(r.first, r.end) > maxGroupServices {
		return bad(fmt.Sprintf("more than %d addresses", maxGroupServices))
	}
	return r, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rangeSize counts the addresses from a to b, capped above
// maxGroupServices.
func rangeSize(a, b netip.Addr) int {
	n := 1
	for x := a; x != b && n <= maxGroupServices; x = x.Next() {
		n++
	}
	return n
}

// kaPort reads the optional port at st.words[i]: keepalived takes a
// missing port, and any number of zeros, as none.
func kaPort(st *kaStmt, i int) (uint16, error) {
	if i >= len(st.words) || strings.Trim(st.words[i], "0") == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(st.words[i], 10, 16)
	if err != nil || n == 0 {
		return 0, errAt(st, i, "port %q: want 1..65535", st.words[i])
	}
	return uint16(n), nil
}

// kaAddr reads a plain numeric address, as inet_pton takes it.
func kaAddr(st *kaStmt, i int) (netip.Addr, error) {
	if i >= len(st.words) {
		return netip.Addr{}, errAt(st, 0, "%s needs an address", st.keyword())
	}
	a, err := netip.ParseAddr(st.words[i])
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, errAt(st, i, "%q is not a numeric IPv4 or IPv6 address", st.words[i])
	}
	return a, nil
}

// kaFwd is a forwarding method with its tunnel settings.
type kaFwd struct {
	set      bool
	method   ipvs.Forward
	tunType  ipvs.TunType
	tunPort  uint16
	tunFlags uint16
}

// parseFwd reads `lvs_method NAT|DR|TUN [type ipip|gue|gre] [port N]
// [nocsum|csum|remcsum]`.
func parseFwd(k *kaImport, st *kaStmt) (kaFwd, error) {
	if len(st.words) < 2 {
		return kaFwd{}, errAt(st, 0, "%s needs NAT, DR or TUN", st.keyword())
	}
	f := kaFwd{set: true}
	switch st.words[1] {
	case "NAT":
		f.method = ipvs.Masq
	case "DR":
		f.method = ipvs.Route
	case "TUN":
		f.method = ipvs.Tunnel
	default:
		return kaFwd{}, errAt(st, 1, "%s %q: want NAT, DR or TUN (in capitals)", st.keyword(), st.words[1])
	}
	for i := 2; i < len(st.words); i++ {
		switch w := st.words[i]; w {
		case "type":
			if i+1 >= len(st.words) {
				return kaFwd{}, errAt(st, i, "type needs ipip, gue or gre")
			}
			i++
			switch st.words[i] {
			case "ipip":
				f.tunType = ipvs.TunIPIP
			case "gue":
				f.tunType = ipvs.TunGUE
			case "gre":
				f.tunType = ipvs.TunGRE
			default:
				return kaFwd{}, errAt(st, i, "tunnel type %q: want ipip, gue or gre", st.words[i])
			}
		case "port":
			if i+1 >= len(st.words) {
				return kaFwd{}, errAt(st, i, "port needs a number")
			}
			i++
			n, err := strconv.ParseUint(st.words[i], 10, 16)
			if err != nil || n == 0 {
				return kaFwd{}, errAt(st, i, "tunnel port %q: want 1..65535", st.words[i])
			}
			f.tunPort = uint16(n)
		case "nocsum":
			f.tunFlags = 0
		case "csum":
			f.tunFlags = ipvs.TunFlagCsum
		case "remcsum":
			f.tunFlags = ipvs.TunFlagRemCsum
		default:
			return kaFwd{}, errAt(st, i, "unknown tunnel option %q", w)
		}
	}
	if (f.tunType == ipvs.TunGUE) != (f.tunPort != 0) {
		return kaFwd{}, errAt(st, 1, "gue tunnels need a port, and only they take one")
	}
	if f.tunType == ipvs.TunIPIP && f.tunFlags != 0 {
		return kaFwd{}, errAt(st, 1, "ipip tunnels take no checksum option")
	}
	if f.tunType == ipvs.TunGRE && f.tunFlags == ipvs.TunFlagRemCsum {
		return kaFwd{}, errAt(st, 1, "gre tunnels take no remcsum")
	}
	if f.method != ipvs.Tunnel && len(st.words) > 2 {
		k.warn(st.pos, fmt.Sprintf("%s %s: tunnel options without TUN have no effect", st.keyword(), st.words[1]))
	}
	return f, nil
}

type kaVSKind int

const (
	vsAddr kaVSKind = iota
	vsFwmark
	vsGroup
)

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
}

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
}

// Keywords keepalived takes in a virtual_server and a real_server that
// only health checking, notification and quorum use.
var (
	vsUnmodelled = map[string]string{
		"delay_loop": "health checking", "retry": "health checking", "delay_before_retry": "health checking",
		"warmup": "health checking", "connect_timeout": "health checking", "inhibit_on_failure": "health checking (weight 0 instead of removal on failure)",
		"ha_suspend": "health checking", "smtp_alert": "notification", "virtualhost": "health checking",
		"snmp_name": "SNMP", "alpha": "health checking (real servers start down)", "omega": "notification",
		"quorum": "quorum", "quorum_up": "quorum notification", "quorum_down": "quorum notification",
		"hysteresis": "quorum", "sorry_server_inhibit": "the sorry server", "sorry_server_lvs_method": "the sorry server",
	}
	rsUnmodelled = map[string]string{
		"inhibit_on_failure": "health checking (weight 0 instead of removal on failure)", "notify_up": "notification", "notify_down": "notification",
		"alpha": "health checking", "retry": "health checking", "delay_before_retry": "health checking",
		"warmup": "health checking", "connect_timeout": "health checking", "delay_loop": "health checking",
		"smtp_alert": "notification", "virtualhost": "health checking", "snmp_name": "SNMP",
		"track_file": "health checking", "track_bfd": "health checking",
	}
	checkers = map[string]bool{
		"HTTP_GET": true, "SSL_GET": true, "TCP_CHECK": true, "SMTP_CHECK": true, "DNS_CHECK": true,
		"MISC_CHECK": true, "BFD_CHECK": true, "UDP_CHECK": true, "PING_CHECK": true, "FILE_CHECK": true,
	}
	// topUnmodelled are top-level keywords keepalived knows that have
	// nothing to do with the IPVS table.
	topUnmodelled = map[string]string{
		"vrrp_instance": "VRRP", "vrrp_sync_group": "VRRP", "vrrp_script": "VRRP tracking", "vrrp_track_process": "VRRP tracking",
		"track_file": "tracking", "vrrp_track_file": "tracking", "static_ipaddress": "static addresses", "static_routes": "static routes",
		"static_rules": "static rules", "linkbeat_interfaces": "link beat", "bfd_instance": "BFD", "garp_group": "gratuitous ARP",
		"SSL": "checker TLS", "net_namespace": "the namespace", "net_namespace_ipvs": "the namespace", "instance": "the instance",
		"use_pid_dir": "process handling", "child_wait_time": "process handling", "vrrp_garp_interval": "VRRP",
	}
)

// build turns the statements into blocks of services and comments, in
// the order of the configuration.
func (k *kaImport) build(stmts []*kaStmt) error {
	for _, st := range stmts {
		switch kw := st.keyword(); {
		case kw == "global_defs":
			k.globalDefs(st)
		case kw == "virtual_server_group":
			// Read by collect; its services come with the virtual
			// servers that use it.
		case kw == "virtual_server":
			b, err := k.virtualServer(st)
			if err != nil {
				return err
			}
			if b != nil {
				k.blocks = append(k.blocks, b)
			}
		case topUnmodelled[kw] != "":
			what := kw
			if len(st.words) > 1 {
				what += " " + strings.Join(st.words[1:], " ")
			}
			what += ": " + topUnmodelled[kw]
			if vips := vrrpAddresses(st); len(vips) > 0 {
				what += ", with virtual_ipaddress " + elide(vips, 8)
			}
			k.blocks = append(k.blocks, &block{comments: wrap("", k.keep(st.pos, kw, what))})
		default:
			k.warn(st.pos, fmt.Sprintf("unknown keepalived keyword %q: left to keepalived", kw))
			k.blocks = append(k.blocks, &block{comments: wrap("", k.keep(st.pos, kw, st.text()+" (a keyword the import does not know)"))})
		}
	}
	return nil
}

// vrrpAddresses lists a vrrp_instance's virtual addresses.
func vrrpAddresses(st *kaStmt) []string {
	var out []string
	for _, s := range st.block {
		if s.keyword() == "virtual_ipaddress" || s.keyword() == "virtual_ipaddress_excluded" {
			for _, a := range s.block {
				out = append(out, a.keyword())
			}
		}
	}
	return out
}

func (k *kaImport) globalDefs(st *kaStmt) {
	var kept []string
	for _, g := range st.block {
		switch g.keyword() {
		case "router_id", "lvs_timeouts":
		case "lvs_sync_daemon":
			k.blocks = append(k.blocks, &block{comments: wrap("", k.keep(g.pos, "lvs_sync_daemon", "lvs_sync_daemon "+strings.Join(g.words[1:], " ")+": IPVS connection synchronisation (lvsgen does not run the sync daemon)"))})
		case "lvs_flush":
			k.warn(g.pos, "lvs_flush: keepalived flushes the whole IPVS table when it starts, services lvsgen manages too; remove it before lvsgen manages any (docs/IMPORT.md)")
			kept = append(kept, g.keyword())
		case "lvs_flush_on_stop":
			if len(g.words) == 1 {
				k.warn(g.pos, "lvs_flush_on_stop: keepalived flushes the whole IPVS table when it stops, services lvsgen manages too; use lvs_flush_on_stop VS, or remove it, before lvsgen manages any (docs/IMPORT.md)")
			}
			kept = append(kept, g.keyword())
		default:
			kept = append(kept, g.keyword())
		}
	}
	if len(kept) > 0 {
		k.blocks = append(k.blocks, &block{comments: wrap("", k.keep(st.pos, "global_defs", "global_defs ("+elide(kept, 10)+")"))})
	}
}

// virtualServer reads one virtual_server and returns its services.
func (k *kaImport) virtualServer(st *kaStmt) (*block, error) {
	vs := &kaVS{st: st, weight: 1}
	if len(st.words) < 2 || len(st.words) > 3 {
		return nil, errAt(st, 0, "want virtual_server ADDRESS [PORT], virtual_server fwmark N or virtual_server group NAME")
	}
	if !st.hasBlock {
		return nil, errAt(st, 0, "virtual_server needs a block")
	}
	switch st.words[1] {
	case "fwmark":
		vs.kind = vsFwmark
		if len(st.words) != 3 {
			return nil, errAt(st, 1, "fwmark needs a mark")
		}
		n, err := strconv.ParseUint(st.words[2], 10, 32)
		if err != nil || n == 0 {
			return nil, errAt(st, 2, "fwmark %q: want 1..4294967295", st.words[2])
		}
		vs.fwmark = uint32(n)
	case "group":
		vs.kind = vsGroup
		if len(st.words) != 3 {
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
		if err != nil {
			return nil, err
		}
		vs.addr, vs.af = a, ipvs.FamilyOf(a)
		if vs.port, err = kaPort(st, 2); err != nil {
			return nil, err
		}
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
			return errAt(s, 1, "unknown scheduler %q", s.words[1])
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
		f, err := parseFwd(k, s)
		if err != nil {
			return err
		}
		vs.fwd = f
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
			return errAt(s, 1, "persistence_timeout %q: want 1..%d seconds", s.words[1], kaMaxTimeout)
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
			return errAt(s, 1, "protocol %q: want TCP, UDP or SCTP", s.words[1])
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
		vs.sorry = &kaReal{st: s, addr: a, fwd: vs.fwd}
		vs.comments = append(vs.comments, wrap("", k.keep(s.pos, kw, s.text()+": the sorry server, which keepalived puts in when the quorum is lost"))...)
	default:
		if why, ok := vsUnmodelled[kw]; ok {
			if kw == "sorry_server_lvs_method" && vs.sorry != nil {
				if f, err := parseFwd(k, s); err == nil {
					vs.sorry.fwd = f
				}
			}
			vs.comments = append(vs.comments, wrap("", k.keep(s.pos, kw, s.text()+": "+why))...)
			return nil
		}
		return errAt(s, 0, "unknown keyword %q in virtual_server (keepalived would ignore it with a configuration error)", kw)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// realServer reads a real_server; nil when keepalived drops it.
func (k *kaImport) realServer(vs *kaVS, s *kaStmt, note func(kaPos, string)) (*kaReal, error) {
	if len(s.words) < 2 || len(s.words) > 3 {
		return nil, errAt(s, 0, "want real_server ADDRESS [PORT]")
	}
	a, err := kaAddr(s, 1)
	if err != nil {
		return nil, err
	}
	port, err := kaPort(s, 2)
	if err != nil {
		return nil, err
	}
	r := &kaReal{st: s, addr: a, port: port, fwd: vs.fwd}
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
				return nil, errAt(x, 1, "real server weight %q: want 0..%d", x.words[1], math.MaxInt32)
			}
			r.weight, r.weightSet = int32(n), true
		case kw == "lvs_method":
			f, err := parseFwd(k, x)
			if err != nil {
				return nil, err
			}
			r.fwd = f
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
			r.comments = append(r.comments, wrap("", k.keep(x.pos, kw, s.text()+": "+checkerSummary(x)))...)
		case rsUnmodelled[kw] != "":
			r.comments = append(r.comments, wrap("", k.keep(x.pos, kw, s.text()+": "+x.text()+": "+rsUnmodelled[kw]))...)
		default:
			return nil, errAt(x, 0, "unknown keyword %q in real_server (keepalived would ignore it with a configuration error)", kw)
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

// checkerSummary describes a health checker block in one line.
func checkerSummary(st *kaStmt) string {
	var inner []string
	for _, s := range st.block {
		if !slices.Contains(inner, s.keyword()) {
			inner = append(inner, s.keyword())
		}
	}
	s := st.text() + " health checker"
	if len(inner) > 0 {
		s += " {" + elide(inner, 8) + "}"
	}
	return s
}

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
		e := &entry{svc: s, where: st.pos.String(), realComments: map[int][]string{}, skip: thisSkip}
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
				note(r.st.pos, fmt.Sprintf("real server %s: a threshold above %d: the kernel refuses it", d.Addr, math.MaxInt32))
				continue
			case d.LowerThreshold > d.UpperThreshold:
				note(r.st.pos, fmt.Sprintf("real server %s: lthreshold %d above uthreshold %d: the kernel refuses it", d.Addr, d.LowerThreshold, d.UpperThreshold))
				continue
			case slices.ContainsFunc(s.Destinations, func(x ipvs.Destination) bool { return x.AddrPort() == d.AddrPort() }):
				note(r.st.pos, fmt.Sprintf("real server %s is already a destination of %s: the kernel refuses the second", d.AddrPort(), key))
				continue
			}
			if len(r.comments) > 0 {
				e.realComments[len(s.Destinations)] = r.comments
			}
			s.Destinations = append(s.Destinations, d)
		}
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
