package importer

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/token"

	"github.com/lvsgen/lvsgen/ipvs"
)

// document is an import before it is written: the services, in blocks of
// related services, with the comments that go with them.
type document struct {
	opts Options
	// intro is the first paragraph of the header comment; assumptions
	// and nextSteps follow it.
	intro       []string
	assumptions []string
	nextSteps   []string
	// vipComment explains vip.bind.
	vipComment string
	timeouts   *timeouts
	blocks     []*block
	warnings   []Note
	unmodelled []Note
}

// timeouts are the IPVS timeouts the source sets; 0 is not set.
type timeouts struct {
	tcp, tcpfin, udp int
	where            string
}

// block is a group of services written together, such as the services of
// one VIP or of one keepalived virtual_server, or only comments.
type block struct {
	comments []string
	entries  []*entry
}

// entry is one IPVS service of the source.
type entry struct {
	svc      ipvs.Service
	where    string
	comments []string
	// realComments are comments for a destination, by its index.
	realComments map[int][]string
	// realChecks are the health checks of destinations, by index;
	// sorry, quorum and hysteresis are the service's (zero: none).
	realChecks map[int]*checkSpec
	sorry      *sorrySpec
	quorum     int
	hysteresis int

	name string
	spec *serviceSpec
	skip string
}

// finish decides which services lvsgen can express, names them, infers
// the director's interfaces and writes the CUE.
func (d *document) finish() (*Result, error) {
	res := &Result{Director: d.opts.Director, Cluster: d.opts.cluster(), Warnings: d.warnings, Unmodelled: d.unmodelled}
	for _, b := range d.blocks {
		for _, e := range b.entries {
			if e.skip == "" {
				e.spec, e.skip = specOf(e.svc)
			}
		}
	}
	ifaces := d.inferSubnets()
	used := map[string]bool{}
	for _, b := range d.blocks {
		for _, e := range b.entries {
			res.Table = append(res.Table, e.svc)
			if e.skip != "" {
				e.spec = nil
				res.Skipped = append(res.Skipped, Skipped{Service: e.svc, Reason: e.skip, Where: e.where})
				continue
			}
			e.name = uniqueName(serviceName(e.svc.ServiceKey), used)
			res.Imported = append(res.Imported, Imported{Name: e.name, Service: e.svc})
		}
	}

	file := &ast.File{}
	pkg := &ast.Package{Name: ast.NewIdent("lvs")}
	addComment(pkg, d.header(res, ifaces))
	file.Decls = append(file.Decls, pkg)
	file.Decls = append(file.Decls, d.hosts(ifaces), d.clusters(), d.services())
	for _, decl := range file.Decls[1:] {
		section(decl)
	}
	b, err := format.Node(file)
	if err != nil {
		return nil, fmt.Errorf("format the configuration: %w", err)
	}
	res.CUE = b
	return res, nil
}

func uniqueName(base string, used map[string]bool) string {
	name := base
	for i := 2; used[name]; i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	used[name] = true
	return name
}

// inferSubnets infers the director's interfaces from the services that
// are to be imported (inferInterfaces), and leaves out, with the reason,
// those with an address that no subnet the import may declare takes.
// Leaving a service out only takes addresses away, which never makes a
// subnet wider nor strands another address: the loop asks again for the
// interfaces without them, and ends because each stranded address is a
// remaining service's.
func (d *document) inferSubnets() []inferredInterface {
	for {
		// members must share a subnet with the director; others only
		// must not be at the edge of one (rules real-subnet-edge and
		// vip-subnet-edge check every real server and VIP).
		var members, others []netip.Addr
		for _, b := range d.blocks {
			for _, e := range b.entries {
				if e.skip != "" {
					continue
				}
				list := &others
				if e.spec.forwarding == "dr" || e.spec.forwarding == "nat" {
					list = &members
				}
				for _, r := range e.spec.reals {
					*list = append(*list, r.addr)
				}
				if e.sorry != nil {
					*list = append(*list, e.sorry.addr)
				}
				if e.spec.vip.IsValid() {
					others = append(others, e.spec.vip)
				}
			}
		}
		ifaces, stranded := inferInterfaces(members, others)
		if len(stranded) == 0 {
			return ifaces
		}
		left := 0
		for _, b := range d.blocks {
			for _, e := range b.entries {
				if e.skip == "" {
					e.skip = strandedReason(e, stranded)
					if e.skip != "" {
						left++
					}
				}
			}
		}
		if left == 0 {
			// Not reached: every stranded address is a service's. Check
			// would report the subnet rather than the loop spin.
			return ifaces
		}
	}
}

// strandedReason says why e cannot be imported when one of its addresses
// is stranded, or returns "".
func strandedReason(e *entry, stranded map[netip.Addr]stranding) string {
	shared := e.spec.forwarding == "dr" || e.spec.forwarding == "nat"
	why := func(what string, a netip.Addr, rule string) string {
		st, ok := stranded[a]
		switch {
		case !ok:
			return ""
		case st.edge == "":
			return fmt.Sprintf("%s %s is in %s, the widest subnet the import declares the director on for the DR and NAT real servers around it, and every host address of it is a real server or VIP, leaving none for the director; declare the director's real subnet and add the service by hand", what, a, st.prefix)
		case shared && what != "the virtual address":
			return fmt.Sprintf("%s %s is the %s address of every subnet from the /%d to the /%d holding it (%s), the subnets the import may declare the director on, which lvsgen refuses (rule %s); declare the director's real subnet and add the service by hand",
				what, a, st.edge, baseBits4, widestBits4, st.prefix, rule)
		}
		return fmt.Sprintf("%s %s is the %s address of %s, the widest subnet the import declares the director on for the DR and NAT real servers around it, which lvsgen refuses (rule %s); declare the director's real subnet and add the service by hand",
			what, a, st.edge, st.prefix, rule)
	}
	if e.spec.vip.IsValid() {
		if s := why("the virtual address", e.spec.vip, "vip-subnet-edge"); s != "" {
			return s
		}
	}
	for _, r := range e.spec.reals {
		if s := why("real server", r.addr, "real-subnet-edge"); s != "" {
			return s
		}
	}
	if e.sorry != nil {
		return why("sorry server", e.sorry.addr, "real-subnet-edge")
	}
	return ""
}

// header is the file's leading comment: what was imported, what the
// import assumed and what to do next.
func (d *document) header(res *Result, ifaces []inferredInterface) []string {
	var out []string
	out = append(out, d.intro...)
	n := fmt.Sprintf("%d services imported", len(res.Imported))
	if len(res.Imported) == 1 {
		n = "1 service imported"
	}
	if len(res.Skipped) > 0 {
		n += fmt.Sprintf(", %d not (lvsgen cannot express them; see the comments starting \"Not imported\")", len(res.Skipped))
	}
	out = append(out, wrap("", n+".")...)
	if len(res.Unmodelled) > 0 {
		out = append(out, wrap("", fmt.Sprintf("%d keepalived settings lvsgen does not model stay with keepalived; each is a comment starting \"keepalived keeps\" at its place below.", len(res.Unmodelled)))...)
	}
	if len(d.assumptions) > 0 {
		out = append(out, "")
		out = append(out, d.assumptions...)
	}
	if len(d.nextSteps) > 0 {
		out = append(out, "")
		out = append(out, d.nextSteps...)
	}
	return out
}

// hosts declares the director with the interfaces the import inferred.
func (d *document) hosts(ifaces []inferredInterface) ast.Decl {
	var elts []ast.Decl
	for _, ifc := range ifaces {
		f := field(ifc.name, single("addresses", ast.NewList(ast.NewString(netip.PrefixFrom(ifc.addr, ifc.prefix.Bits()).String()))))
		var reals []string
		for _, a := range ifc.reals {
			reals = append(reals, a.String())
		}
		what := "real server"
		if len(reals) > 1 {
			what = "real servers"
		}
		addComment(f, wrap("", fmt.Sprintf("TODO inferred from DR/NAT %s %s: put the director's interface on %s here, with its real name and its own address (%s is a placeholder that no real server or VIP has).",
			what, elide(reals, 6), ifc.prefix, ifc.addr)))
		elts = append(elts, f)
	}
	ifs := &ast.StructLit{Elts: elts}
	interfaces := field("interfaces", ifs)
	if len(ifaces) == 0 {
		addComment(interfaces, wrap("", "TODO the director's interfaces and addresses: no DR or NAT real server tells them (TUN real servers need none on a shared subnet)."))
	}
	host := field(d.opts.Director, &ast.StructLit{Elts: []ast.Decl{interfaces}})
	addComment(host, wrap("", "The director. TODO its gateway, and its interfaces as they are: the ones below are inferred from its real servers, so that the topology rules pass."))
	return field("hosts", &ast.StructLit{Elts: []ast.Decl{host}})
}

func elide(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}

// clusters declares the cluster of the director.
func (d *document) clusters() ast.Decl {
	directors := field("directors", ast.NewList(ast.NewString(d.opts.Director)))
	vip := field("vip", inline(field("bind", ast.NewString("none"))))
	addComment(vip, wrap("", d.vipComment))
	elts := []ast.Decl{directors, vip}
	if t := d.timeouts; t != nil {
		var fs []ast.Decl
		for _, x := range []struct {
			name string
			v    int
		}{{"tcp", t.tcp}, {"tcpfin", t.tcpfin}, {"udp", t.udp}} {
			if x.v != 0 {
				fs = append(fs, field(x.name, intLit(x.v)))
			}
		}
		if len(fs) > 0 {
			tf := field("timeouts", inline(fs...))
			addComment(tf, wrap("", "From keepalived's lvs_timeouts ("+t.where+")."))
			elts = append(elts, tf)
		}
	}
	sysctl := field("sysctl", inline(field("expire_nodest_conn", intLit(0)), field("expire_quiescent_template", intLit(0))))
	addComment(sysctl, wrap("", "The kernel's defaults, which the source does not show: lvsgen's own defaults are 1 for both (drop connections to deleted real servers at once; expire persistence templates of weight-0 real servers, so draining works). Check `sysctl net.ipv4.vs` on the director and change them deliberately."))
	elts = append(elts, sysctl)
	cl := field(d.opts.cluster(), &ast.StructLit{Elts: elts})
	return field("clusters", &ast.StructLit{Elts: []ast.Decl{cl}})
}

// services writes every block: services lvsgen can express as fields,
// the others and the unmodelled settings as comments.
func (d *document) services() ast.Decl {
	var elts []ast.Decl
	for _, b := range d.blocks {
		pending := append([]string(nil), b.comments...)
		first := true
		flush := func() {
			if len(pending) == 0 {
				return
			}
			cg := commentGroup(pending)
			if first {
				ast.SetRelPos(cg, token.NewSection)
				first = false
			}
			elts = append(elts, cg)
			pending = nil
		}
		for _, e := range b.entries {
			if e.spec == nil {
				pending = append(pending, e.comments...)
				pending = append(pending, skippedComment(e)...)
				flush()
				continue
			}
			f := field(e.name, d.serviceExpr(e))
			lines := append(pending, e.comments...)
			pending = nil
			addComment(f, lines)
			if first {
				section(f)
				first = false
			}
			elts = append(elts, f)
		}
		flush()
	}
	return field("services", &ast.StructLit{Elts: elts})
}

// skippedComment describes a service lvsgen cannot express, with the
// ipvsadm-save lines it stands for.
func skippedComment(e *entry) []string {
	lines := wrap("", fmt.Sprintf("Not imported: %s: %s. lvsgen leaves a service it did not create alone (plan lists it as unmanaged unless --prune); as ipvsadm-save prints it:", serviceName(e.svc.ServiceKey), e.skip))
	text := ipvs.SaveString([]ipvs.Service{e.svc})
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		lines = append(lines, "  "+l)
	}
	return lines
}

// serviceExpr writes one service.
func (d *document) serviceExpr(e *entry) ast.Expr {
	s := e.spec
	elts := []ast.Decl{field("cluster", ast.NewString(d.opts.cluster()))}
	if s.fwmark != 0 {
		elts = append(elts,
			field("fwmark", ast.NewLit(token.INT, strconv.FormatUint(uint64(s.fwmark), 10))),
			field("family", ast.NewString(s.family.String())))
	} else {
		elts = append(elts,
			field("vip", ast.NewString(s.vip.String())),
			field("protocol", ast.NewString(s.protocol)),
			field("port", intLit(int(s.port))))
	}
	if s.forwarding != "" {
		elts = append(elts, field("forwarding", ast.NewString(s.forwarding)))
	}
	if s.forwarding == "tun" {
		t := []ast.Decl{field("type", ast.NewString(s.tunType))}
		if s.tunType == "gue" {
			t = append(t, field("port", intLit(int(s.tunPort))))
		}
		if s.tunCsum != "none" {
			t = append(t, field("checksum", ast.NewString(s.tunCsum)))
		}
		elts = append(elts, field("tunnel", inline(t...)))
	}
	elts = append(elts, field("scheduler", ast.NewString(s.scheduler)))
	if len(s.flags) > 0 {
		var fl []ast.Expr
		for _, f := range s.flags {
			fl = append(fl, ast.NewString(f))
		}
		elts = append(elts, field("flags", ast.NewList(fl...)))
	}
	if s.persistent {
		p := []ast.Decl{field("timeout", ast.NewLit(token.INT, strconv.FormatUint(uint64(s.timeout), 10)))}
		if s.netmask != 0 {
			p = append(p, field("netmask", intLit(s.netmask)))
		}
		if s.engine != "" {
			p = append(p, field("engine", ast.NewString(s.engine)))
		}
		elts = append(elts, field("persistence", inline(p...)))
	}
	if s.onePacket {
		elts = append(elts, field("onePacket", ast.NewBool(true)))
	}
	// One check for every real server is the service's.
	var svcCheck *checkSpec
	if len(s.reals) > 0 && len(e.realChecks) == len(s.reals) {
		svcCheck = e.realChecks[0]
		for _, c := range e.realChecks {
			if !sameCheck(c, svcCheck) {
				svcCheck = nil
				break
			}
		}
	}
	// Behind a fwmark or port-0 service a check without a port of its own
	// checks each real server's own port: it stays with them, since the
	// service's check would have no port to check.
	if svcCheck != nil && svcCheck.port == 0 && s.port == 0 {
		svcCheck = nil
	}
	if svcCheck != nil {
		elts = append(elts, checkField(svcCheck))
	}
	if e.sorry != nil {
		sf := []ast.Decl{field("address", ast.NewString(e.sorry.addr.String()))}
		if e.sorry.setPort {
			sf = append(sf, field("port", intLit(int(e.sorry.port))))
		}
		f := field("sorry", inline(sf...))
		addComment(f, wrap("", "From sorry_server ("+e.sorry.from+")."))
		elts = append(elts, f)
	}
	if e.quorum > 0 {
		elts = append(elts, field("quorum", intLit(e.quorum)))
		if e.hysteresis > 0 {
			elts = append(elts, field("hysteresis", intLit(e.hysteresis)))
		}
	}
	reals := &ast.ListLit{}
	var first []string
	for i, r := range s.reals {
		rf := []ast.Decl{field("address", ast.NewString(r.addr.String()))}
		if r.setPort {
			rf = append(rf, field("port", intLit(int(r.port))))
		}
		rf = append(rf, field("weight", ast.NewLit(token.INT, strconv.FormatInt(int64(r.weight), 10))))
		if r.upper != 0 {
			rf = append(rf, field("upperThreshold", ast.NewLit(token.INT, strconv.FormatUint(uint64(r.upper), 10))))
		}
		if r.lower != 0 {
			rf = append(rf, field("lowerThreshold", ast.NewLit(token.INT, strconv.FormatUint(uint64(r.lower), 10))))
		}
		if c := e.realChecks[i]; c != nil && svcCheck == nil {
			rf = append(rf, checkField(c))
		}
		el := inline(rf...)
		ast.SetRelPos(el, token.Newline)
		// A comment goes before its real server. The formatter prints a
		// list element's doc comment twice, so it is attached after the
		// element before (Position 1), or to reals for the first.
		if c := e.realComments[i]; len(c) > 0 {
			if i == 0 {
				first = c
			} else {
				cg := commentGroup(c)
				cg.Position = 1
				ast.AddComment(reals.Elts[i-1], cg)
			}
		}
		reals.Elts = append(reals.Elts, el)
	}
	if len(reals.Elts) > 0 {
		reals.Rbrack = token.Newline.Pos()
	}
	rf := field("reals", reals)
	addComment(rf, first)
	elts = append(elts, rf)
	return &ast.StructLit{Elts: elts}
}

// identPattern matches labels CUE takes unquoted as regular fields.
var identPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

var cueKeywords = map[string]bool{
	"package": true, "import": true, "for": true, "in": true, "if": true, "let": true,
	"true": true, "false": true, "null": true, "func": true,
}

func label(name string) ast.Label {
	if identPattern.MatchString(name) && !cueKeywords[name] {
		return ast.NewIdent(name)
	}
	return ast.NewString(name)
}

func field(name string, v ast.Expr) *ast.Field {
	return &ast.Field{Label: label(name), Value: v}
}

// single is a struct of one field, written inline.
func single(name string, v ast.Expr) ast.Expr { return inline(field(name, v)) }

// inline is a struct written on one line.
func inline(fields ...ast.Decl) *ast.StructLit {
	s := &ast.StructLit{Elts: fields, Lbrace: token.Blank.Pos(), Rbrace: token.Blank.Pos()}
	for _, f := range fields {
		ast.SetRelPos(f, token.Blank)
	}
	return s
}

func intLit(v int) ast.Expr { return ast.NewLit(token.INT, strconv.Itoa(v)) }

func commentGroup(lines []string) *ast.CommentGroup {
	cg := &ast.CommentGroup{Doc: true}
	for _, l := range lines {
		cg.List = append(cg.List, &ast.Comment{Text: commentText(l)})
	}
	return cg
}

func commentText(l string) string {
	// A comment holds printable UTF-8 and no line break; what comes from
	// the input may hold anything.
	l = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(l, "?"))
	if l == "" {
		return "//"
	}
	return "// " + l
}

// section starts n after a blank line, its comment included.
func section(n ast.Node) {
	if cgs := ast.Comments(n); len(cgs) > 0 {
		ast.SetRelPos(cgs[0], token.NewSection)
		return
	}
	ast.SetRelPos(n, token.NewSection)
}

func addComment(n ast.Node, lines []string) {
	if len(lines) == 0 {
		return
	}
	ast.AddComment(n, commentGroup(lines))
}

// wrap breaks text into comment lines of at most 76 characters, the
// first starting with indent and the rest indented to match it.
func wrap(indent, text string) []string {
	const width = 76
	words := strings.Fields(text)
	var lines []string
	cur := indent
	pad := strings.Repeat(" ", len(indent))
	empty := true
	for _, w := range words {
		if !empty && len(cur)+1+len(w) > width {
			lines = append(lines, cur)
			cur, empty = pad, true
		}
		if empty {
			cur += w
			empty = false
		} else {
			cur += " " + w
		}
	}
	if !empty {
		lines = append(lines, cur)
	}
	return lines
}

// sorrySpec is a service's sorry server as the CUE output writes it.
type sorrySpec struct {
	addr    netip.Addr
	port    uint16
	setPort bool
	from    string
}

// checkField writes a health check, on one line.
func checkField(c *checkSpec) *ast.Field {
	str := func(name, v string) ast.Decl { return field(name, ast.NewString(v)) }
	f := []ast.Decl{str("type", c.typ)}
	if c.port != 0 {
		f = append(f, field("port", intLit(int(c.port))))
	}
	f = append(f, str("interval", dur(c.interval)), str("timeout", dur(c.timeout)),
		field("rise", intLit(c.rise)), field("fall", intLit(c.fall)))
	if c.initialDown {
		f = append(f, str("initial", "down"))
	}
	f = append(f, str("onFailure", c.onFailure))
	for _, x := range []struct{ name, v string }{
		{"path", c.path}, {"host", c.host}, {"serverName", c.serverName},
		{"query", c.query}, {"queryType", c.queryType},
	} {
		if x.v != "" {
			f = append(f, str(x.name, x.v))
		}
	}
	if len(c.expect) > 0 {
		var l []ast.Expr
		for _, n := range c.expect {
			l = append(l, intLit(n))
		}
		f = append(f, field("expect", ast.NewList(l...)))
	}
	if len(c.command) > 0 {
		var l []ast.Expr
		for _, w := range c.command {
			l = append(l, ast.NewString(w))
		}
		f = append(f, field("command", ast.NewList(l...)), str("user", c.user))
	}
	return field("check", inline(f...))
}
