package importer

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/lvsgen/lvsgen/ipvs"
)

// FromSave imports an `ipvsadm-save -n` (or `ipvsadm -S -n`) capture of the
// director opts.Director: every form ipvsadm prints, read by ipvs.ParseSave.
// The services are grouped by virtual address, each group in address
// order, firewall-mark services last. Malformed input is an *Error with
// the line and the offending token.
func FromSave(r io.Reader, opts Options) (*Result, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", opts.Source, err)
	}
	services, err := ipvs.ParseSave(bytes.NewReader(data))
	if err != nil {
		var pe *ipvs.ParseError
		if errors.As(err, &pe) {
			return nil, saveError(opts.Source, data, pe)
		}
		return nil, fmt.Errorf("read %s: %w", opts.Source, err)
	}
	d := &document{opts: opts}
	src := opts.Source
	if src == "" || src == "-" {
		src = "standard input"
	}
	d.intro = wrap("", fmt.Sprintf("Imported by %s: the IPVS table director %s runs today.", importedBy(opts, "ipvsadm-save", src), opts.Director))
	d.intro = append(d.intro, wrap("", "It validates as it stands, and `lvsgen plan DIR --host "+opts.Director+" --observed CAPTURE` against the capture it came from shows no changes.")...)
	d.assumptions = assumptions(opts.Director, "The capture")
	d.nextSteps = nextSteps(opts.Director, false)
	d.vipComment = "The capture does not say who binds the VIPs: with \"none\" lvsgen adds no address. Use \"dummy\" or \"interface\" to let lvsgen bind them, once nothing else does."

	order := make([]int, len(services))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return compareKeys(services[a].ServiceKey, services[b].ServiceKey) })
	var cur *block
	for _, i := range order {
		s := services[i]
		title := groupTitle(s.ServiceKey)
		if cur == nil || cur.comments[0] != title {
			cur = &block{comments: []string{title}}
			d.blocks = append(d.blocks, cur)
		}
		cur.entries = append(cur.entries, &entry{svc: s, where: src})
	}
	return d.finish()
}

// importedBy names the import for the header: the command when known,
// else the kind of import and its source.
func importedBy(opts Options, kind, src string) string {
	if opts.Command != "" {
		return "`" + opts.Command + "`"
	}
	return "`lvsgen import " + kind + "` from " + src
}

// groupTitle heads the services of one virtual address.
func groupTitle(k ipvs.ServiceKey) string {
	if k.FWMark != 0 {
		return "Firewall-mark services."
	}
	return "VIP " + k.Addr.String() + "."
}

// compareKeys orders services for reading: by family, address, port and
// protocol, firewall marks after the rest by mark and family.
func compareKeys(a, b ipvs.ServiceKey) int {
	if (a.FWMark != 0) != (b.FWMark != 0) {
		if a.FWMark != 0 {
			return 1
		}
		return -1
	}
	if a.FWMark != 0 {
		return cmp.Or(cmp.Compare(a.FWMark, b.FWMark), cmp.Compare(a.Family, b.Family))
	}
	return cmp.Or(cmp.Compare(a.Family, b.Family), a.Addr.Compare(b.Addr), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
}

// assumptions explains what the source cannot tell; source is "The
// capture" or "keepalived.conf".
func assumptions(director, source string) []string {
	var out []string
	out = append(out, wrap("", source+" cannot tell, so this file assumes or leaves to you:")...)
	out = append(out, wrap("  - ", "The director's interfaces and addresses. DR and NAT real servers must share a subnet with the director, so hosts."+director+" declares an interface per subnet of them, named todo0, todo1, ...: the narrowest from a /24 (IPv4) or /64 (IPv6) that has no real server or VIP at its network or broadcast address, with a placeholder address. Replace them with the director's real interfaces and addresses, and add its gateway.")...)
	out = append(out, wrap("  - ", "Who binds the VIPs. vip.bind is \"none\": lvsgen adds no address anywhere, as today.")...)
	out = append(out, wrap("  - ", "The real servers. They are bare addresses, so lvsgen configures nothing on them; declare them under hosts and refer to them with host: to let lvsgen set up their VIPs, ARP and tunnels and check their gateways.")...)
	out = append(out, wrap("  - ", "Sysctls and timeouts. The cluster keeps the kernel's defaults for the net.ipv4.vs sysctls it sets and for the IPVS timeouts (900/120/300 s unless set below); compare them with `sysctl net.ipv4.vs` and `ipvsadm -L --timeout` on the director. NAT services also make lvsgen set ip_forward and send_redirects.")...)
	return out
}

func nextSteps(director string, keepalived bool) []string {
	out := []string{"Next steps:"}
	out = append(out, wrap("  1. ", "Fix hosts."+director+" (the TODOs below), then run `lvsgen validate DIR`.")...)
	if keepalived {
		out = append(out, wrap("  2. ", "On "+director+", with every real server up: `ipvsadm-save -n > "+director+".save`, then `lvsgen plan DIR --host "+director+" --observed "+director+".save` shows no IPVS changes.")...)
	} else {
		out = append(out, wrap("  2. ", "`lvsgen plan DIR --host "+director+" --observed CAPTURE` shows no IPVS changes.")...)
	}
	out = append(out, wrap("  3. ", "On "+director+", `lvsgen plan DIR --host "+director+"`: the live plan also compares sysctls, timeouts and addresses. Apply only what you expect; docs/IMPORT.md has the rest.")...)
	return out
}

// listLine is a line of `ipvsadm -L -n` output: its header, a service
// ("TCP  10.0.0.1:80 rr") or a destination ("  -> 10.0.0.2:80 Route 1 0 0").
var listLine = regexp.MustCompile(`^(IP Virtual Server version|Prot LocalAddress:Port|\s*-> |(TCP|UDP|SCTP|FWM)\s+\S+\s+[a-z]+)`)

// placeholder is an address someone wrote to be filled in: <vip>,
// xxx.xxx.xxx.xxx, VIP, ...
var placeholder = regexp.MustCompile(`^(<[^>]*>|[xX]+(\.[xX]+){3}|\$\{?\w+\}?|[A-Z_]+)$`)

// saveError is a parse error of a capture as the operator needs it: what
// the input is when it is not a capture, and a hint where the capture
// was made in a form the import does not read.
func saveError(src string, data []byte, pe *ipvs.ParseError) error {
	e := &Error{File: src, Line: pe.Line, Token: pe.Token, Msg: pe.Msg, Err: pe.Err}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if listLine.MatchString(l) {
			return &Error{File: src, Line: i + 1, Token: strings.TrimSpace(l),
				Msg: "this is `ipvsadm -L` output, which the import cannot read back (it drops options such as tunnel settings); capture with `ipvsadm-save -n`"}
		}
		break
	}
	if !strings.HasPrefix(pe.Msg, "illegal virtual server address") && !strings.HasPrefix(pe.Msg, "illegal real server address") {
		return e
	}
	host, port := pe.Token, ""
	if i := strings.LastIndex(pe.Token, ":"); i >= 0 && !strings.HasSuffix(pe.Token, "]") && strings.Count(pe.Token, ":") == 1 {
		host, port = pe.Token[:i], pe.Token[i+1:]
	}
	switch {
	case placeholder.MatchString(host):
		e.Msg = fmt.Sprintf("%q is not an address (a placeholder to fill in?)", host)
		e.Err = nil
	case port != "" && !isDigits(port):
		e.Msg += fmt.Sprintf(": port %q is a service name; capture with `ipvsadm-save -n`, which prints numbers", port)
	case hostName.MatchString(host) && strings.Trim(host, "0123456789.") != "":
		e.Msg += fmt.Sprintf(": %q is a host name; capture with `ipvsadm-save -n`, which prints addresses", host)
	}
	return e
}

// hostName is a DNS name as ipvsadm-save without -n prints it.
var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
