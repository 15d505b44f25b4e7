package ipvs

// This file reads the rules `ipvsadm -R` (ipvsadm 1.31 as Debian ships it)
// reads: every line `ipvsadm -S` prints, and the usual hand-written forms of
// -A, -a and -C lines. It follows ipvsadm's own parsing (ipvsadm.c:
// parse_options, process_options, parse_service, parse_netmask,
// parse_sched_flags, tunnel_opt_check, generic_opt_check; config_stream.c:
// config_stream_read) so that a file it accepts loads the same table
// ipvsadm -R would load, with these deliberate differences:
//
//   - Host and port names are not resolved: addresses must be numeric
//     (inet_aton forms for IPv4, inet_pton for IPv6) and ports decimal.
//   - A line whose first token starts with "#" is a comment. ipvsadm
//     means to skip "#" comments but its check never fires, so it fails on
//     them.
//   - Errors the kernel would report (an unknown scheduler or persistence
//     engine, a service defined twice, a destination for a service not yet
//     defined) are parse errors here; ipvsadm prints them and goes on.
//   - An IPv4 netmask must be contiguous, since Service keeps a prefix
//     length; the kernel would take any mask.
//   - A negative fwmark in -2147483648..-1 is read as the 32-bit mark it
//     stands for: ipvsadm-save prints marks from 2^31 up that way, but
//     ipvsadm -R refuses them.
//   - Only the commands -A, -a and -C are accepted.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ParseError is the error ParseSave returns: the line it is on, the token
// at fault (empty when the line as a whole is wrong) and what is wrong.
type ParseError struct {
	Line  int
	Token string
	Msg   string
	Err   error
}

// Error renders the error as `line 3: unknown option "--foo"`.
func (e *ParseError) Error() string {
	s := fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error, if any.
func (e *ParseError) Unwrap() error { return e.Err }

// ParseSave reads ipvsadm rules, as `ipvsadm-save -n` writes them and
// `ipvsadm -R` reads them, and returns the table they build: the services in
// the order they were added, each with its destinations in the order they
// were added. The values are those ipvsadm would send to the kernel,
// including its defaults: scheduler wlc, persistence timeout 360 for a bare
// -p, netmask /32 or /128, weight 1, direct routing, and the service port
// for a destination given without one or forwarded by -g or -i (ipvsadm
// forces the service port for those when the service is not a fwmark one).
//
// Errors are *ParseError values naming the line and the offending token.
func ParseSave(r io.Reader) ([]Service, error) {
	p := &parser{}
	br := bufio.NewReader(r)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read rules at line %d: %w", lineNo, err)
		}
		if line != "" {
			if perr := p.line(lineNo, line); perr != nil {
				return nil, perr
			}
		}
		if err == io.EOF {
			break
		}
	}
	return p.services, nil
}

// optID identifies an option. The ones below optNumOptc are ipvsadm's
// OPTC_* numbers (the bit each sets, and the index of its name in
// optNames); the rest are commands or options that set no bit.
type optID int

const (
	optNumeric optID = iota
	optConnection
	optService
	optScheduler
	optPersistent
	optNetmask
	optServer
	optForward
	optWeight
	optUThreshold
	optLThreshold
	optMcast
	optTimeout
	optDaemon
	optStats
	optRate
	optThresholds
	optPersistentConn
	optNoSort
	optSyncID
	optExact
	optOnePacket
	optPE
	optSchedFlags
	optMcastGroup
	optMcastPort
	optMcastTTL
	optSyncMaxLen
	optTunInfo
	optTunType
	optTunPort
	optTunNoCsum
	optTunCsum
	optTunRemCsum
	optNumOptc // number of option bits; below are options without one

	optIPv6
	optSort

	cmdAddService
	cmdEditService
	cmdDelService
	cmdClear
	cmdList
	cmdZero
	cmdAddServer
	cmdEditServer
	cmdDelServer
	cmdSet
	cmdHelp
	cmdVersion
	cmdRestore
	cmdSave
	cmdStartDaemon
	cmdStopDaemon
)

// optNames are ipvsadm's optnames, used in its messages.
var optNames = [optNumOptc]string{
	"numeric", "connection", "service-address", "scheduler", "persistent",
	"netmask", "real-server", "forwarding-method", "weight", "u-threshold",
	"l-threshold", "mcast-interface", "timeout", "daemon", "stats", "rate",
	"thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe",
	"sched-flags", "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen",
	"tun-info", "tun-type", "tun-port", "tun-nocsum", "tun-csum",
	"tun-remcsum",
}

type argKind int

const (
	noArg argKind = iota
	reqArg
	optArg
)

type optSpec struct {
	long  string
	short byte
	arg   argKind
	id    optID
	proto Protocol // for the service options
	fwd   Forward  // for -g, -m, -i
}

// options is ipvsadm 1.31's popt table.
var options = []optSpec{
	{long: "add-service", short: 'A', id: cmdAddService},
	{long: "edit-service", short: 'E', id: cmdEditService},
	{long: "delete-service", short: 'D', id: cmdDelService},
	{long: "clear", short: 'C', id: cmdClear},
	{long: "list", short: 'L', id: cmdList},
	{long: "list", short: 'l', id: cmdList},
	{long: "zero", short: 'Z', id: cmdZero},
	{long: "add-server", short: 'a', id: cmdAddServer},
	{long: "edit-server", short: 'e', id: cmdEditServer},
	{long: "delete-server", short: 'd', id: cmdDelServer},
	{long: "set", id: cmdSet},
	{long: "help", short: 'h', id: cmdHelp},
	{long: "version", short: 'v', id: cmdVersion},
	{long: "restore", short: 'R', id: cmdRestore},
	{long: "save", short: 'S', id: cmdSave},
	{long: "start-daemon", arg: reqArg, id: cmdStartDaemon},
	{long: "stop-daemon", arg: reqArg, id: cmdStopDaemon},
	{long: "tcp-service", short: 't', arg: reqArg, id: optService, proto: TCP},
	{long: "udp-service", short: 'u', arg: reqArg, id: optService, proto: UDP},
	{long: "sctp-service", arg: reqArg, id: optService, proto: SCTP},
	{long: "fwmark-service", short: 'f', arg: reqArg, id: optService},
	{long: "scheduler", short: 's', arg: reqArg, id: optScheduler},
	{long: "persistent", short: 'p', arg: optArg, id: optPersistent},
	{long: "netmask", short: 'M', arg: reqArg, id: optNetmask},
	{long: "real-server", short: 'r', arg: reqArg, id: optServer},
	{long: "masquerading", short: 'm', id: optForward, fwd: Masq},
	{long: "ipip", short: 'i', id: optForward, fwd: Tunnel},
	{long: "gatewaying", short: 'g', id: optForward, fwd: Route},
	{long: "weight", short: 'w', arg: reqArg, id: optWeight},
	{long: "u-threshold", short: 'x', arg: reqArg, id: optUThreshold},
	{long: "l-threshold", short: 'y', arg: reqArg, id: optLThreshold},
	{long: "numeric", short: 'n', id: optNumeric},
	{long: "connection", short: 'c', id: optConnection},
	{long: "mcast-interface", arg: reqArg, id: optMcast},
	{long: "syncid", arg: reqArg, id: optSyncID},
	{long: "timeout", id: optTimeout},
	{long: "daemon", id: optDaemon},
	{long: "stats", id: optStats},
	{long: "rate", id: optRate},
	{long: "thresholds", id: optThresholds},
	{long: "persistent-conn", id: optPersistentConn},
	{long: "nosort", id: optNoSort},
	{long: "sort", id: optSort},
	{long: "exact", short: 'X', id: optExact},
	{long: "ipv6", short: '6', id: optIPv6},
	{long: "ops", short: 'o', id: optOnePacket},
	{long: "pe", arg: reqArg, id: optPE},
	{long: "sched-flags", short: 'b', arg: reqArg, id: optSchedFlags},
	{long: "mcast-group", arg: reqArg, id: optMcastGroup},
	{long: "mcast-port", arg: reqArg, id: optMcastPort},
	{long: "mcast-ttl", arg: reqArg, id: optMcastTTL},
	{long: "sync-maxlen", arg: reqArg, id: optSyncMaxLen},
	{long: "tun-info", id: optTunInfo},
	{long: "tun-type", arg: reqArg, id: optTunType},
	{long: "tun-port", arg: reqArg, id: optTunPort},
	{long: "tun-nocsum", id: optTunNoCsum},
	{long: "tun-csum", id: optTunCsum},
	{long: "tun-remcsum", id: optTunRemCsum},
}

func lookupLong(name string) (*optSpec, bool) {
	for i := range options {
		if options[i].long == name {
			return &options[i], true
		}
	}
	return nil, false
}

func lookupShort(c byte) (*optSpec, bool) {
	for i := range options {
		if options[i].short == c {
			return &options[i], true
		}
	}
	return nil, false
}

// Which options each accepted command takes (ipvsadm's
// commands_v_options): required ones and allowed ones. Every other option
// with a bit is illegal with the command.
var (
	addServiceRequired = bits(optService)
	addServiceAllowed  = bits(optService, optScheduler, optPersistent, optNetmask, optOnePacket, optPE, optSchedFlags)
	addServerRequired  = bits(optService, optServer)
	addServerAllowed   = bits(optService, optServer, optForward, optWeight, optUThreshold, optLThreshold,
		optTunType, optTunPort, optTunNoCsum, optTunCsum, optTunRemCsum)
)

func bits(ids ...optID) uint64 {
	var b uint64
	for _, id := range ids {
		b |= 1 << id
	}
	return b
}

// Limits ipvsadm applies.
const (
	maxPersistTimeout = 86400 * 31 // MAX_TIMEOUT, 31 days
	defPersistTimeout = 360        // IPVS_SVC_PERSISTENT_TIMEOUT, 6 minutes
	defScheduler      = "wlc"      // DEF_SCHED
	schedNameMax      = 15         // IP_VS_SCHEDNAME_MAXLEN - 1
)

// parser holds the table being built.
type parser struct {
	services []Service
	// index and dests find a service and a destination by key in
	// constant time: a capture of 10,000 services is 110,000 lines, and
	// searching the table for each took seconds.
	index map[ServiceKey]int
	dests map[destKey]bool
}

// destKey is a destination of the service p.services[svc].
type destKey struct {
	svc  int
	addr netip.Addr
	port uint16
}

// cmdLine is the state of one line, as ipvsadm's ipvs_command_entry.
type cmdLine struct {
	no      int
	cmd     optID
	cmdTok  string
	options uint64

	optTok [optNumOptc]string // each option as it was written

	svc     Service
	svcTok  string // the service option's argument
	mask    uint32 // ce.svc.netmask: an IPv4 mask, or an IPv6 prefix length
	maskTok string
	dest    Destination
	destTok string
	sflags  string // the -b argument
}

// errf returns a *ParseError for this line; format should quote tok.
func (c *cmdLine) errf(tok, format string, args ...any) *ParseError {
	return &ParseError{Line: c.no, Token: tok, Msg: fmt.Sprintf(format, args...)}
}

// fields splits a line as config_stream_read does: on spaces, tabs and
// carriage returns, dropping every token that is exactly "ipvsadm".
func fields(line string) []string {
	f := strings.FieldsFunc(line, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n'
	})
	return slices.DeleteFunc(f, func(s string) bool { return s == "ipvsadm" })
}

func (p *parser) line(no int, line string) error {
	toks := fields(line)
	if len(toks) == 0 || strings.HasPrefix(toks[0], "#") {
		return nil
	}
	c := &cmdLine{no: no, mask: 0xffffffff}
	c.dest.Weight = 1
	c.dest.Forward = Route
	if err := c.parseOptions(toks); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	return p.apply(c)
}

// parseOptions walks the tokens as popt does for ipvsadm's table: long
// options with "--name value" or "--name=value", short options alone or
// clustered ("-Ln"), a short option's value attached ("-w5") or in the next
// token, and -p's optional value taken from the next token unless that
// starts with "-". The first option must be the command.
func (c *cmdLine) parseOptions(toks []string) error {
	var args []string
	for i := 0; i < len(toks); {
		t := toks[i]
		i++
		switch {
		case t == "--":
			args = append(args, toks[i:]...)
			i = len(toks)
		case strings.HasPrefix(t, "--"):
			name, val, hasVal := strings.Cut(t[2:], "=")
			spec, ok := lookupLong(name)
			if !ok {
				return c.errf(t, "unknown option %q", t)
			}
			switch spec.arg {
			case noArg:
				if hasVal {
					return c.errf(t, "option %q takes no value", t)
				}
			case reqArg:
				if !hasVal {
					if i >= len(toks) {
						return c.errf(t, "missing value for option %q", t)
					}
					val, hasVal = toks[i], true
					i++
				}
			case optArg:
				if !hasVal && i < len(toks) && !strings.HasPrefix(toks[i], "-") {
					val, hasVal = toks[i], true
					i++
				}
			}
			if err := c.option(spec, t, val, hasVal); err != nil {
				return err
			}
		case len(t) > 1 && t[0] == '-':
			for k := 1; k < len(t); k++ {
				tok := t
				if len(t) > 2 {
					tok = "-" + t[k:k+1]
				}
				spec, ok := lookupShort(t[k])
				if !ok {
					return c.errf(tok, "unknown option %q", tok)
				}
				if spec.arg == noArg {
					if err := c.option(spec, tok, "", false); err != nil {
						return err
					}
					continue
				}
				val, hasVal := t[k+1:], k+1 < len(t)
				if !hasVal {
					switch {
					case spec.arg == reqArg && i >= len(toks):
						return c.errf(tok, "missing value for option %q", tok)
					case spec.arg == reqArg,
						i < len(toks) && !strings.HasPrefix(toks[i], "-"):
						val, hasVal = toks[i], true
						i++
					}
				}
				if err := c.option(spec, tok, val, hasVal); err != nil {
					return err
				}
				break
			}
		default:
			args = append(args, t)
		}
	}
	if c.cmd == 0 {
		return c.errf("", "no command (-A, -a or -C) on the line")
	}
	if len(args) > 0 {
		return c.errf(args[0], "unexpected argument %q", args[0])
	}
	return nil
}

// setOption is set_option: each option may be given once.
func (c *cmdLine) setOption(id optID, tok string) error {
	if c.options&(1<<id) != 0 {
		return c.errf(tok, "option %q repeats the %s option", tok, optNames[id])
	}
	c.options |= 1 << id
	c.optTok[id] = tok
	return nil
}

// option handles one option, as the switches in parse_options do.
func (c *cmdLine) option(spec *optSpec, tok, val string, hasVal bool) error {
	if spec.id >= cmdAddService {
		if c.cmd != 0 {
			return c.errf(tok, "second command %q", tok)
		}
		switch spec.id {
		case cmdAddService, cmdAddServer, cmdClear:
		default:
			return c.errf(tok, "unsupported command %q (only -A, -a and -C are)", tok)
		}
		c.cmd, c.cmdTok = spec.id, tok
		return nil
	}
	if c.cmd == 0 {
		return c.errf(tok, "option %q before the command", tok)
	}
	if spec.id < optNumOptc {
		if err := c.setOption(spec.id, tok); err != nil {
			return err
		}
	}

	switch spec.id {
	case optService:
		c.svcTok = val
		if spec.proto == 0 { // -f
			mark, err := parseFWMark(val)
			if err != nil {
				return c.errf(val, "invalid fwmark %q", val)
			}
			c.svc.Family = IPv4
			c.svc.FWMark = mark
			return nil
		}
		c.svc.Protocol = spec.proto
		a, port, hasPort, ok := c.parseService(val)
		if !ok {
			return c.errf(val, "illegal virtual server address[:port] %q", val)
		}
		c.svc.Addr = a
		c.svc.Family = FamilyOf(a)
		if c.svc.Family == IPv6 {
			c.mask = 128
		}
		if hasPort {
			c.svc.Port = port
		}
	case optScheduler:
		if len(val) > schedNameMax {
			return c.errf(val, "scheduler name %q too long", val)
		}
		c.svc.Scheduler = val
	case optPersistent:
		c.svc.Flags |= FlagPersistent
		c.svc.Timeout = defPersistTimeout
		if hasVal {
			n, ok := cNumber(val, 1, maxPersistTimeout)
			if !ok {
				return c.errf(val, "invalid persistence timeout %q", val)
			}
			c.svc.Timeout = uint32(n)
		}
	case optNetmask:
		if c.svc.Family != IPv6 {
			m, ok := inetAton(val)
			if !ok {
				return c.errf(val, "illegal persistence netmask %q", val)
			}
			b := m.As4()
			c.mask = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			c.maskTok = val
		} else {
			// ipvsadm uses atoi; this takes the digits only.
			n, ok := cNumber(val, 1, 128)
			if !ok {
				return c.errf(val, "illegal ipv6 netmask %q", val)
			}
			c.mask = uint32(n)
		}
	case optServer:
		a, port, hasPort, ok := c.parseService(val)
		if !ok {
			return c.errf(val, "illegal real server address[:port] %q", val)
		}
		c.destTok = val
		c.dest.Addr = a
		c.dest.Port = c.svc.Port // copy vport to dport if not specified
		if hasPort {
			c.dest.Port = port
		}
	case optForward:
		c.dest.Forward = spec.fwd
	case optWeight:
		n, ok := cNumber(val, 0, math.MaxInt32)
		if !ok {
			return c.errf(val, "illegal weight %q", val)
		}
		c.dest.Weight = int32(n)
	case optUThreshold:
		n, ok := cNumber(val, 0, math.MaxInt32)
		if !ok {
			return c.errf(val, "illegal upper threshold %q", val)
		}
		c.dest.UpperThreshold = uint32(n)
	case optLThreshold:
		n, ok := cNumber(val, 0, math.MaxInt32)
		if !ok {
			return c.errf(val, "illegal lower threshold %q", val)
		}
		c.dest.LowerThreshold = uint32(n)
	case optIPv6:
		if c.svc.FWMark == 0 {
			return c.errf(tok, "option %q used before -f", tok)
		}
		c.svc.Family = IPv6
		c.mask = 128
	case optOnePacket:
		c.svc.Flags |= FlagOnePacket
	case optPE:
		if val != "sip" {
			return c.errf(val, "unknown persistence engine %q", val)
		}
		c.svc.PE = val
	case optSchedFlags:
		c.sflags = val
	case optTunType:
		switch val {
		case "ipip":
			c.dest.TunType = TunIPIP
		case "gue":
			c.dest.TunType = TunGUE
		case "gre":
			c.dest.TunType = TunGRE
		default:
			return c.errf(val, "illegal tunnel type %q", val)
		}
	case optTunPort:
		n, ok := cNumber(val, 1, 65535)
		if !ok {
			return c.errf(val, "illegal tunnel port %q", val)
		}
		c.dest.TunPort = uint16(n)
	case optTunCsum:
		c.dest.TunFlags |= TunFlagCsum
	case optTunRemCsum:
		c.dest.TunFlags |= TunFlagRemCsum
	}
	// Every other option only sets its bit, which check then finds
	// illegal with -A, -a and -C.
	return nil
}

// check is the part of parse_options and process_options after the options
// are read: scheduler flags, the legality table, and the per-command rules.
func (c *cmdLine) check() error {
	// An empty -b argument is no -b at all (ipvsadm tests its first byte).
	if c.sflags != "" {
		sched := c.svc.Scheduler
		if sched == "" {
			sched = defScheduler
		}
		f, err := parseSchedFlags(sched, c.sflags)
		if err != nil {
			return c.errf(c.sflags, "illegal scheduler flags %q: %v", c.sflags, err)
		}
		c.svc.Flags &^= FlagSched1 | FlagSched2 | FlagSched3
		c.svc.Flags |= f
	}

	var required, allowed uint64 // none for -C
	switch c.cmd {
	case cmdAddService:
		required, allowed = addServiceRequired, addServiceAllowed
	case cmdAddServer:
		required, allowed = addServerRequired, addServerAllowed
	}
	for id := optID(0); id < optNumOptc; id++ {
		bit := uint64(1) << id
		switch {
		case c.options&bit == 0 && required&bit != 0:
			return c.errf(c.cmdTok, "command %q needs the %s option", c.cmdTok, optNames[id])
		case c.options&bit != 0 && allowed&bit == 0:
			return c.errf(c.optTok[id], "option %q not allowed with %q", c.optTok[id], c.cmdTok)
		}
	}

	switch c.cmd {
	case cmdAddService:
		if c.svc.FWMark == 0 && c.svc.Port == 0 && c.svc.Flags&FlagPersistent == 0 {
			return c.errf(c.svcTok, "zero port in %q for a non-persistent service", c.svcTok)
		}
		if c.svc.Flags&FlagOnePacket != 0 && c.svc.FWMark == 0 && c.svc.Protocol != UDP {
			return c.errf(c.optTok[optOnePacket], "one-packet scheduling (%q) is only for UDP services", c.optTok[optOnePacket])
		}
		if c.svc.Scheduler == "" {
			c.svc.Scheduler = defScheduler
		}
		if !slices.Contains(Schedulers, c.svc.Scheduler) {
			return c.errf(c.svc.Scheduler, "unknown scheduler %q", c.svc.Scheduler)
		}
		if c.svc.Family == IPv6 {
			c.svc.NetmaskBits = int(c.mask)
		} else {
			n, ok := MaskBits(c.mask)
			if !ok {
				// Shown as ipvsadm-save prints it, whatever form -M had.
				m := c.mask
				return c.errf(c.maskTok, "non-contiguous persistence netmask %d.%d.%d.%d: lvsgen keeps a prefix length", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
			}
			c.svc.NetmaskBits = n
		}
	case cmdAddServer:
		fwd := c.dest.Forward
		if c.svc.FWMark == 0 && (fwd == Tunnel || fwd == Route) {
			c.dest.Port = c.svc.Port
		}
		if FamilyOf(c.dest.Addr) != c.svc.Family && fwd != Tunnel {
			return c.errf(c.destTok, "real server %q: a different address family is allowed only with -i", c.destTok)
		}
		for _, id := range []optID{optTunType, optTunPort, optTunNoCsum, optTunCsum, optTunRemCsum} {
			if t := c.optTok[id]; t != "" && fwd != Tunnel {
				return c.errf(t, "tunnel option %q needs forwarding method -i", t)
			}
		}
		if err := c.tunnelOptCheck(); err != nil {
			return err
		}
	}
	return nil
}

// tunnelOptCheck is tunnel_opt_check: which of --tun-port and the checksum
// options each tunnel type needs or takes, with at most one checksum option.
func (c *cmdLine) tunnelOptCheck() error {
	type rule struct {
		port, nocsum, csum, remcsum byte // '+' required, 'x' illegal, '1' one of
	}
	rules := map[TunType]rule{
		TunIPIP: {'x', 'x', 'x', 'x'},
		TunGUE:  {'+', '1', '1', '1'},
		TunGRE:  {'x', '1', '1', 'x'},
	}
	r := rules[c.dest.TunType]
	checks := []struct {
		id   optID
		rule byte
	}{{optTunPort, r.port}, {optTunNoCsum, r.nocsum}, {optTunCsum, r.csum}, {optTunRemCsum, r.remcsum}}
	var one optID = -1
	for _, ch := range checks {
		set := c.options&(1<<ch.id) != 0
		name := "--" + optNames[ch.id]
		switch {
		case !set && ch.rule == '+':
			return c.errf(c.cmdTok, "tunnel type %s needs option %q", c.dest.TunType, name)
		case set && ch.rule == 'x':
			return c.errf(c.optTok[ch.id], "tunnel type %s does not take option %q", c.dest.TunType, c.optTok[ch.id])
		case set && ch.rule == '1':
			if one >= 0 {
				return c.errf(c.optTok[ch.id], "option %q conflicts with %q", c.optTok[ch.id], c.optTok[one])
			}
			one = ch.id
		}
	}
	return nil
}

// apply carries out the command on the table, refusing what the kernel
// would refuse.
func (p *parser) apply(c *cmdLine) error {
	switch c.cmd {
	case cmdClear:
		p.services, p.index, p.dests = nil, nil, nil
	case cmdAddService:
		if p.find(c.svc.ServiceKey) >= 0 {
			return c.errf(c.svcTok, "service %q already exists", c.svcTok)
		}
		if p.index == nil {
			p.index, p.dests = map[ServiceKey]int{}, map[destKey]bool{}
		}
		p.index[c.svc.ServiceKey.Canonical()] = len(p.services)
		p.services = append(p.services, c.svc)
	case cmdAddServer:
		i := p.find(c.svc.ServiceKey)
		if i < 0 {
			return c.errf(c.svcTok, "service %q is not defined", c.svcTok)
		}
		dk := destKey{svc: i, addr: c.dest.Addr, port: c.dest.Port}
		if p.dests[dk] {
			return c.errf(c.destTok, "destination %q already exists", c.destTok)
		}
		p.dests[dk] = true
		s := &p.services[i]
		s.Destinations = append(s.Destinations, c.dest)
	}
	return nil
}

// find returns the index of the service with key k, as the kernel looks
// services up: by mark and family, or by family, protocol, address and
// port (ServiceKey.Canonical), or -1.
func (p *parser) find(k ServiceKey) int {
	if i, ok := p.index[k.Canonical()]; ok {
		return i
	}
	return -1
}

// parseService is parse_service for numeric input. It returns the address,
// the port and whether one was given; ok is false where ipvsadm's result
// has no address.
//
// Its quirks are ipvsadm's: an unbracketed IPv6 address never has a port
// ("2001:db8::1:80" is an address), "[::1]" without ":port" is refused, and
// a bracketed IPv4 address loses its port ("[10.0.0.1]:80" has none).
func (c *cmdLine) parseService(s string) (a netip.Addr, port uint16, hasPort, ok bool) {
	if isDigits(s) {
		return netip.Addr{}, 0, false, false
	}
	var portStr *string
	if s[0] == '[' {
		host, rest, found := strings.Cut(s[1:], "]")
		if !found || !strings.HasPrefix(rest, ":") {
			return netip.Addr{}, 0, false, false
		}
		ps := rest[1:]
		s, portStr = host, &ps
	}
	if v6, ok6 := inetPton6(s); ok6 {
		a = v6
	} else {
		// The port, if any, is after the last colon of what is left;
		// a bracketed IPv4 address has none left.
		portStr = nil
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			ps := s[i+1:]
			s, portStr = s[:i], &ps
		}
		v4, ok4 := inetAton(s)
		if !ok4 {
			return netip.Addr{}, 0, false, false
		}
		a = v4
	}
	if portStr != nil {
		n, okp := cNumber(*portStr, 0, 65535)
		if !okp {
			return netip.Addr{}, 0, false, false
		}
		return a, uint16(n), true, true
	}
	return a, 0, false, true
}

// isDigits is str_is_digit: true for a string of decimal digits, and for
// the empty string.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cNumber is string_to_number: strtol in base 10 over the whole string
// (an optional sign, then digits), within [min, max].
func cNumber(s string, min, max int64) (int64, bool) {
	if s == "" || strings.ContainsAny(s, "_") {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min || n > max {
		return 0, false
	}
	return n, true
}

// parseFWMark is parse_fwmark, a decimal number in 1..2^32-1, and also
// takes the negative numbers -2^31..-1 that ipvsadm-save prints for marks
// from 2^31 up.
func parseFWMark(s string) (uint32, error) {
	n, ok := cNumber(s, math.MinInt32, math.MaxUint32)
	if !ok || n == 0 {
		return 0, errors.New("not a number in 1..4294967295 or -2147483648..-1")
	}
	return uint32(n), nil
}

// inetPton6 parses an IPv6 address the way inet_pton(AF_INET6) does: no
// zone, no IPv4 address on its own.
func inetPton6(s string) (netip.Addr, bool) {
	if !strings.Contains(s, ":") || strings.Contains(s, "%") {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return netip.Addr{}, false
	}
	return a, true
}

// inetAton parses an IPv4 address in any form glibc's inet_aton takes: one
// to four parts separated by dots, each decimal, octal (leading 0) or hex
// (leading 0x), the last part filling the remaining bytes.
func inetAton(s string) (netip.Addr, bool) {
	var parts []uint64
	i := 0
	for {
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return netip.Addr{}, false
		}
		base := uint64(10)
		if s[i] == '0' {
			i++
			base = 8
			if i < len(s) && (s[i] == 'x' || s[i] == 'X') {
				base = 16
				i++
			}
		}
		var v uint64
		for i < len(s) {
			d, ok := digitVal(s[i], base)
			if !ok {
				break
			}
			v = v*base + d
			if v > math.MaxUint32 {
				return netip.Addr{}, false
			}
			i++
		}
		if i < len(s) && s[i] == '.' {
			if len(parts) >= 3 || v > 0xff {
				return netip.Addr{}, false
			}
			parts = append(parts, v)
			i++
			continue
		}
		if i != len(s) {
			return netip.Addr{}, false
		}
		max := [4]uint64{0xffffffff, 0xffffff, 0xffff, 0xff}[len(parts)]
		if v > max {
			return netip.Addr{}, false
		}
		var n uint64
		for k, p := range parts {
			n |= p << (24 - 8*k)
		}
		n |= v
		return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
	}
}

func digitVal(c byte, base uint64) (uint64, bool) {
	var d uint64
	switch {
	case c >= '0' && c <= '9':
		d = uint64(c - '0')
	case base == 16 && c >= 'a' && c <= 'f':
		d = uint64(c-'a') + 10
	case base == 16 && c >= 'A' && c <= 'F':
		d = uint64(c-'A') + 10
	default:
		return 0, false
	}
	if d >= base {
		return 0, false
	}
	return d, true
}

// MaskBits returns the prefix length of a contiguous IPv4 mask (as a
// number in host order), and false when the mask is not contiguous.
func MaskBits(m uint32) (int, bool) {
	n := 0
	for n < 32 && m&(1<<(31-n)) != 0 {
		n++
	}
	if n < 32 && m<<n != 0 {
		return 0, false
	}
	return n, true
}

// parseSchedFlags is parse_sched_flags: comma-separated names, flag-1..3
// for any scheduler, sh-fallback and sh-port only for sh, mh-fallback and
// mh-port only for mh. Empty names between commas are skipped, as strtok
// skips them.
func parseSchedFlags(sched, arg string) (uint32, error) {
	var flags uint32
	n := 0
	for _, f := range strings.Split(arg, ",") {
		if f == "" {
			continue
		}
		n++
		var bit uint32
		var only string
		switch f {
		case "flag-1":
			bit = FlagSched1
		case "flag-2":
			bit = FlagSched2
		case "flag-3":
			bit = FlagSched3
		case "sh-fallback":
			bit, only = FlagSched1, "sh"
		case "sh-port":
			bit, only = FlagSched2, "sh"
		case "mh-fallback":
			bit, only = FlagSched1, "mh"
		case "mh-port":
			bit, only = FlagSched2, "mh"
		default:
			return 0, fmt.Errorf("invalid flag %q", f)
		}
		if only != "" && sched != only {
			return 0, fmt.Errorf("flag %q incompatible with scheduler %s", f, sched)
		}
		flags |= bit
	}
	if n == 0 {
		return 0, errors.New("no flag")
	}
	return flags, nil
}
