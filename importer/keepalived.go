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
//
// The import is split by concern: kaparse.go reads the syntax into
// statements; this file holds the entry point and the top level (global_defs,
// and the order of blocks in the output); kagroup.go reads
// virtual_server_group, kaserver.go virtual_server and real_server blocks,
// kaargs.go their arguments; kaprogram.go applies the checks and defaults
// above and returns the IPVS services; kakept.go lists and reports what
// keepalived keeps doing (health checkers, VRRP, notification, quorum).

import (
	"fmt"
	"strconv"
	"strings"
)

// KeepalivedOptions are the options of FromKeepalived.
type KeepalivedOptions struct {
	Options
	// ConfigID is keepalived's configuration id (-i), which conditional
	// lines (@id) are compared with. Default: the director's name
	// (Options.Director, else global_defs' router_id), so that the import
	// does not depend on the machine it runs on; keepalived itself
	// defaults to its host's name.
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
	// The configuration id defaults to the director's name, never to the
	// name of the machine running the import: --director, else
	// global_defs' router_id, read with no id first and then again with
	// the router_id when conditional lines could change what was read.
	configID := opts.ConfigID
	if configID == "" {
		configID = opts.Director
	}
	stmts, rd, err := parseKeepalived(files, path, configID)
	if err != nil {
		return nil, err
	}
	if configID == "" {
		if id := routerID(stmts); id != "" {
			configID = id
			if rd.conditionals > 0 {
				if stmts, rd, err = parseKeepalived(files, path, configID); err != nil {
					return nil, err
				}
			}
		}
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
	d.intro = append(d.intro, wrap("", "Health checkers lvsgen can run, sorry servers and quorums are imported as check, sorry and quorum; keepalived keeps the rest: VRRP (which holds the VIPs), the other checkers, notify scripts. docs/IMPORT.md tells how to run both during the move without them fighting over weights.")...)
	d.assumptions = assumptions(o.Director, "keepalived.conf")
	d.nextSteps = nextSteps(o.Director, true)
	d.vipComment = "keepalived (VRRP virtual_ipaddress) or the host's own setup binds the VIPs: with \"none\" lvsgen adds no address."
	res, err := d.finish()
	if err != nil {
		return nil, err
	}
	res.emptyWhy = kaEmptyWhy(path, stmts, rd, configID)
	return res, nil
}

// kaEmptyWhy says why a keepalived configuration may program no service:
// what it lacks, and what the reader skipped on the way.
func kaEmptyWhy(path string, stmts []*kaStmt, rd *kaReader, configID string) string {
	n := 0
	for _, st := range stmts {
		if st.keyword() == "virtual_server" {
			n++
		}
	}
	why := fmt.Sprintf("%s has no virtual_server", path)
	if n > 0 {
		why = fmt.Sprintf("keepalived programs no IPVS service from the %d virtual_server block(s) of %s (the notes above say why)", n, path)
	}
	var also []string
	for _, w := range rd.warnings {
		if strings.Contains(w.What, "matches no file") {
			also = append(also, w.String())
		}
	}
	if rd.conditionals > 0 {
		also = append(also, fmt.Sprintf("conditional lines (@id) were read for configuration id %q; --config-id picks another", configID))
	}
	if len(also) > 0 {
		why += "; " + strings.Join(also, "; ")
	}
	return why
}

// routerID is the last global_defs router_id of stmts, or "".
func routerID(stmts []*kaStmt) string {
	id := ""
	for _, st := range stmts {
		if st.keyword() != "global_defs" {
			continue
		}
		for _, g := range st.block {
			if g.keyword() == "router_id" && len(g.words) == 2 {
				id = g.words[1]
			}
		}
	}
	return id
}

// kaImport is one keepalived import in progress: what collect gathers
// first, the services defined so far, and the output blocks and notes.
type kaImport struct {
	routerID   string
	scriptUser string // global_defs script_user
	timeouts   *timeouts
	groups     map[string]*kaGroup
	keys       map[string]string // service key → where defined
	blocks     []*block
	warnings   []Note
	unmodelled []Note
}

// warn records a warning at pos (the file alone when pos has no line).
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
				case "script_user":
					if len(g.words) >= 2 {
						k.scriptUser = g.words[1]
					}
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

// globalDefs reports what global_defs holds beyond what collect read:
// keepalived keeps it, and some of it (lvs_flush) needs the operator.
func (k *kaImport) globalDefs(st *kaStmt) {
	var kept []string
	for _, g := range st.block {
		switch g.keyword() {
		case "router_id", "lvs_timeouts":
		case "lvs_sync_daemon":
			k.blocks = append(k.blocks, &block{comments: wrap("", k.keep(g.pos, "lvs_sync_daemon", "lvs_sync_daemon "+strings.Join(g.words[1:], " ")+": IPVS connection synchronisation, left to keepalived (it starts and stops the daemons with the VRRP state); for lvsgen to run them instead, declare the cluster's sync (docs/OPERATIONS.md) and remove this line, never both"))})
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
