package importer

// This file maps keepalived's health checking to lvsgen's: the checkers of
// a real_server (TCP_CHECK, HTTP_GET, SSL_GET, DNS_CHECK, MISC_CHECK) with
// the virtual server's and real server's delay_loop, retry, alpha and
// inhibit_on_failure become a real server's check; sorry_server, quorum
// and hysteresis become the service's. A checker lvsgen cannot express
// stays with keepalived (kakept.go). docs/IMPORT.md has the table.

import (
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvsgen/lvsgen/ipvs"
)

// keepalived's checker defaults (check_api.c, check_data.c).
const (
	kaDefaultDelayLoop      = 60 * time.Second
	kaDefaultConnectTimeout = 5 * time.Second
	kaDefaultRetry          = 1
	// kaDefaultScriptUser is the user keepalived runs a MISC_CHECK as
	// without user or script_user, when it exists (else root).
	kaDefaultScriptUser = "keepalived_script"
)

// kaHealth are the checker settings a virtual_server gives its real
// servers and a real_server may override; zero values mean not set.
type kaHealth struct {
	delayLoop   time.Duration
	connTimeout time.Duration
	retry       int // -1: not set
	alpha       *bool
	inhibit     *bool
	virtualhost string
}

// checkSpec is a check as the CUE output writes it.
type checkSpec struct {
	typ               string
	port              uint16
	interval, timeout time.Duration
	rise, fall        int
	initialDown       bool
	onFailure         string
	path, host        string
	expect            []int
	serverName        string
	query, queryType  string
	command           []string
	user              string
	// from is where the checker is, for the comment; not compared.
	from string
}

// sameCheck reports whether two checks write the same CUE.
func sameCheck(a, b *checkSpec) bool {
	x, y := *a, *b
	x.from, y.from = "", ""
	return reflect.DeepEqual(x, y)
}

// kaChecker is a checker block as read, before the defaults of its real
// and virtual server are known.
type kaChecker struct {
	st          *kaStmt
	spec        checkSpec
	connTimeout time.Duration
	delayLoop   time.Duration
	retry       int
	needsUser   bool // MISC_CHECK without user
}

// healthKeyword reads a keyword of health checking shared by
// virtual_server and real_server; false when kw is not one.
func (k *kaImport) healthKeyword(h *kaHealth, s *kaStmt) bool {
	kw := s.keyword()
	switch kw {
	case "delay_loop", "connect_timeout":
		d, ok := k.seconds(s)
		if !ok {
			return true
		}
		if kw == "delay_loop" {
			h.delayLoop = d
		} else {
			h.connTimeout = d
		}
	case "retry", "nb_get_retry":
		if n, ok := k.count(s); ok {
			h.retry = n
		}
	case "alpha", "inhibit_on_failure":
		v := flagValue(s)
		if kw == "alpha" {
			h.alpha = &v
		} else {
			h.inhibit = &v
		}
	case "virtualhost":
		if len(s.words) == 2 {
			h.virtualhost = s.words[1]
		}
	default:
		return false
	}
	return true
}

// flagValue is a keepalived flag's value: on, unless its argument says no.
func flagValue(s *kaStmt) bool {
	if len(s.words) < 2 {
		return true
	}
	switch strings.ToLower(s.words[1]) {
	case "no", "false", "off", "0":
		return false
	}
	return true
}

// seconds reads a keyword's argument as keepalived's (fractional) seconds;
// false with a warning when it is not one.
func (k *kaImport) seconds(s *kaStmt) (time.Duration, bool) {
	if len(s.words) == 2 && !s.hasBlock {
		f, err := strconv.ParseFloat(s.words[1], 64)
		if err == nil && f >= 0 && f <= 86400 {
			return time.Duration(math.Round(f*1000)) * time.Millisecond, true
		}
	}
	k.warn(s.pos, fmt.Sprintf("%s: want a number of seconds; ignored (keepalived keeps its default)", s.text()))
	return 0, false
}

// count reads a keyword's argument as a count 0..100.
func (k *kaImport) count(s *kaStmt) (int, bool) {
	if len(s.words) == 2 && !s.hasBlock {
		if n, err := strconv.Atoi(s.words[1]); err == nil && n >= 0 && n <= 1000 {
			return n, true
		}
	}
	k.warn(s.pos, fmt.Sprintf("%s: want a count; ignored (keepalived keeps its default)", s.text()))
	return 0, false
}

// checkerTypes are the keepalived checkers lvsgen expresses.
var checkerTypes = map[string]string{
	"TCP_CHECK": "tcp", "HTTP_GET": "http", "SSL_GET": "https", "DNS_CHECK": "dns", "MISC_CHECK": "exec",
}

var (
	userPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	// shellChars are what needs a shell in a misc_path.
	shellChars = "|&;<>()$`\\\"'*?[]#~{}\n"
)

// checker reads a checker block of real server r; nil with the reason when
// lvsgen cannot express it. Warnings about what is dropped go to k.
func (k *kaImport) checker(r *kaReal, st *kaStmt) (*kaChecker, string) {
	typ, ok := checkerTypes[st.keyword()]
	if !ok {
		return nil, "lvsgen has no such check"
	}
	c := &kaChecker{st: st, retry: -1, spec: checkSpec{typ: typ, from: st.pos.String()}}
	var urls []*kaStmt
	var miscPath *kaStmt
	for _, s := range st.block {
		kw := s.keyword()
		switch kw {
		case "connect_port":
			p, err := kaPort(s, 1)
			if err != nil || len(s.words) != 2 || p == 0 {
				return nil, "connect_port " + strings.Join(s.words[1:], " ") + " is not a port"
			}
			c.spec.port = p
		case "connect_ip":
			a, err := netip.ParseAddr(strings.Join(s.words[1:], " "))
			if err != nil || a.Unmap() != r.addr.Unmap() {
				return nil, "it checks another address (connect_ip " + strings.Join(s.words[1:], " ") + "); lvsgen checks the real server's own"
			}
		case "connect_timeout", "misc_timeout":
			if d, ok := k.seconds(s); ok {
				c.connTimeout = d
			}
		case "delay_loop":
			if d, ok := k.seconds(s); ok {
				c.delayLoop = d
			}
		case "retry", "nb_get_retry":
			if n, ok := k.count(s); ok {
				c.retry = n
			}
		case "delay_before_retry", "warmup":
			k.warn(s.pos, fmt.Sprintf("%s: dropped: lvsgen checks at the interval, also after a failure, and starts checking at once", s.text()))
		case "bindto", "bind_port", "bind_if", "fwmark":
			k.warn(s.pos, fmt.Sprintf("%s: dropped: lvsgen's checks go out from the director's own address and route", s.text()))
		case "url":
			if typ == "http" || typ == "https" {
				urls = append(urls, s)
				continue
			}
			return nil, "url outside an HTTP checker"
		case "virtualhost":
			if typ == "http" || typ == "https" {
				c.spec.host = strings.Join(s.words[1:], " ")
				continue
			}
			return nil, "virtualhost outside an HTTP checker"
		case "enable_sni":
			if typ == "https" {
				if flagValue(s) {
					c.spec.serverName = "\x00" // resolved to the host below
				}
				continue
			}
			return nil, "enable_sni outside SSL_GET"
		case "type", "name":
			if typ != "dns" || len(s.words) != 2 {
				return nil, s.text() + " is not a DNS_CHECK setting lvsgen reads"
			}
			if kw == "name" {
				c.spec.query = s.words[1]
			} else {
				c.spec.queryType = strings.ToUpper(s.words[1])
				if !slices.Contains([]string{"A", "AAAA", "CNAME", "MX", "NS", "SOA", "SRV", "TXT"}, c.spec.queryType) {
					return nil, "DNS query type " + s.words[1] + " is not one lvsgen asks"
				}
			}
		case "misc_path":
			if typ != "exec" {
				return nil, "misc_path outside MISC_CHECK"
			}
			miscPath = s
		case "user":
			if typ != "exec" || len(s.words) < 2 {
				return nil, s.text() + " is not a MISC_CHECK setting lvsgen reads"
			}
			c.spec.user = s.words[1]
			if len(s.words) > 2 {
				k.warn(s.pos, fmt.Sprintf("%s: the group is dropped: lvsgen runs the command with the user's own groups", s.text()))
			}
		default:
			return nil, "lvsgen cannot express " + kw
		}
	}
	switch typ {
	case "http", "https":
		if len(urls) == 0 {
			return nil, "an HTTP checker without url"
		}
		if len(urls) > 1 {
			var others []string
			for _, u := range urls[1:] {
				others = append(others, u.pos.String())
			}
			k.warn(st.pos, fmt.Sprintf("%s checks %d urls and needs all of them to pass; lvsgen checks one path: the url at %s is imported, not the ones at %s", st.keyword(), len(urls), urls[0].pos, strings.Join(others, ", ")))
		}
		if why := k.url(&c.spec, urls[0]); why != "" {
			return nil, why
		}
	case "dns":
		if c.spec.query == "" {
			c.spec.query = "." // keepalived's default name
		}
		if c.spec.queryType == "" {
			c.spec.queryType = "SOA" // keepalived's default type
		}
	case "exec":
		if miscPath == nil || len(miscPath.words) < 2 {
			return nil, "MISC_CHECK without misc_path"
		}
		line := strings.Join(miscPath.words[1:], " ")
		if strings.ContainsAny(line, shellChars) {
			k.warn(miscPath.pos, fmt.Sprintf("misc_path %q needs a shell, which lvsgen does not run checks through: put it in a script and name the script; the check stays with keepalived", line))
			return nil, "misc_path needs a shell"
		}
		c.spec.command = strings.Fields(line)
		if !strings.HasPrefix(c.spec.command[0], "/") {
			k.warn(miscPath.pos, fmt.Sprintf("misc_path %q is not an absolute path, which lvsgen needs (no PATH search); the check stays with keepalived", line))
			return nil, "misc_path is not an absolute path"
		}
		if c.spec.user == "" {
			c.needsUser = true
		} else if c.spec.user == "root" || c.spec.user == "0" || !userPattern.MatchString(c.spec.user) {
			k.warn(st.pos, fmt.Sprintf("MISC_CHECK runs as %q, which lvsgen does not run checks as; the check stays with keepalived", c.spec.user))
			return nil, "it runs as " + c.spec.user
		}
	}
	return c, ""
}

// url reads an HTTP checker's url block into c.
func (k *kaImport) url(c *checkSpec, u *kaStmt) string {
	for _, s := range u.block {
		switch s.keyword() {
		case "path":
			if len(s.words) != 2 || !strings.HasPrefix(s.words[1], "/") {
				return "url path " + strings.Join(s.words[1:], " ") + " is not an absolute path"
			}
			c.path = s.words[1]
		case "status_code":
			for _, w := range s.words[1:] {
				lo, hi, isRange := strings.Cut(w, "-")
				if !isRange {
					hi = lo
				}
				a, err1 := strconv.Atoi(lo)
				b, err2 := strconv.Atoi(hi)
				if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
					return "status_code " + w + " is not an HTTP status or range"
				}
				for n := a; n <= b; n++ {
					if !slices.Contains(c.expect, n) {
						c.expect = append(c.expect, n)
					}
				}
			}
		case "digest", "regex", "regex_no_match", "regex_options", "regex_stack", "regex_min_offset", "regex_max_offset":
			k.warn(s.pos, fmt.Sprintf("%s: dropped: lvsgen does not compare the page's digest or run keepalived's regex; the status code alone decides", s.keyword()))
		case "virtualhost":
			c.host = strings.Join(s.words[1:], " ")
		default:
			return "lvsgen cannot express url's " + s.keyword()
		}
	}
	if c.path == "" {
		return "url without a path"
	}
	if c.expect == nil {
		// keepalived takes any 2xx without status_code or digest.
		c.expect = []int{200, 201, 202, 203, 204, 205, 206, 207, 208, 226}
	}
	return ""
}

// resolveCheck applies the real and virtual server's settings and
// keepalived's defaults to r's checker, with a warning for each value
// lvsgen cannot take as it is.
func (k *kaImport) resolveCheck(vs *kaVS, r *kaReal) {
	c := r.checker
	if c == nil {
		return
	}
	sp := c.spec
	pick := func(ds ...time.Duration) time.Duration {
		for _, d := range ds {
			if d != 0 {
				return d
			}
		}
		return 0
	}
	sp.interval = pick(c.delayLoop, r.health.delayLoop, vs.health.delayLoop, kaDefaultDelayLoop)
	if sp.typ == "exec" {
		// misc_timeout is the checker's own and defaults to delay_loop;
		// connect_timeout is not a script's.
		sp.timeout = pick(c.connTimeout, sp.interval)
	} else {
		sp.timeout = pick(c.connTimeout, r.health.connTimeout, vs.health.connTimeout, kaDefaultConnectTimeout)
	}
	where := c.st.pos
	if sp.interval < time.Second || sp.interval > time.Hour {
		n := min(max(sp.interval, time.Second), time.Hour)
		k.warn(where, fmt.Sprintf("%s: delay_loop %s is outside lvsgen's 1s..1h: the check runs every %s", c.st.keyword(), dur(sp.interval), dur(n)))
		sp.interval = n
	}
	if sp.timeout > sp.interval {
		k.warn(where, fmt.Sprintf("%s: its timeout %s is longer than delay_loop %s, which lvsgen refuses: the timeout is clamped to %s", c.st.keyword(), dur(sp.timeout), dur(sp.interval), dur(sp.interval)))
		sp.timeout = sp.interval
	}
	if sp.timeout < time.Millisecond {
		sp.timeout = min(kaDefaultConnectTimeout, sp.interval)
		k.warn(where, fmt.Sprintf("%s: a timeout of 0 leaves no time for a check: lvsgen's check times out after %s", c.st.keyword(), dur(sp.timeout)))
	}
	retry := c.retry
	for _, x := range []int{r.health.retry, vs.health.retry, kaDefaultRetry} {
		if retry < 0 {
			retry = x
		}
	}
	// keepalived takes a server out after the first failure and retry
	// more; it puts it back after one success.
	sp.fall, sp.rise = min(retry+1, 100), 1
	if retry+1 > 100 {
		k.warn(where, fmt.Sprintf("%s: retry %d is more than lvsgen's 100 failures: fall is 100", c.st.keyword(), retry))
	}
	flag := func(rs, v *bool) bool {
		if rs != nil {
			return *rs
		}
		return v != nil && *v
	}
	sp.initialDown = flag(r.health.alpha, vs.health.alpha)
	sp.onFailure = "remove"
	if flag(r.health.inhibit, vs.health.inhibit) {
		sp.onFailure = "quiesce"
	}
	if sp.host == "" && (sp.typ == "http" || sp.typ == "https") {
		sp.host = orDefault(r.health.virtualhost, vs.health.virtualhost)
	}
	if sp.serverName == "\x00" {
		sp.serverName = sp.host
	}
	if sp.typ == "exec" && c.needsUser {
		sp.user = orDefault(k.scriptUser, kaDefaultScriptUser)
		if sp.user == "root" || sp.user == "0" || !userPattern.MatchString(sp.user) {
			k.warn(where, fmt.Sprintf("MISC_CHECK runs as script_user %q, which lvsgen does not run checks as; the check stays with keepalived", sp.user))
			r.comments = append(r.comments, wrap("", k.keep(where, c.st.keyword(), r.st.text()+": "+checkerSummary(c.st)+" (it runs as "+sp.user+")"))...)
			return
		}
		if k.scriptUser == "" {
			k.warn(where, fmt.Sprintf("MISC_CHECK has no user and global_defs no script_user: keepalived runs it as %s if that user exists, else as root; lvsgen runs it as %s and never as root: create the user, or set user in keepalived.conf before importing", kaDefaultScriptUser, kaDefaultScriptUser))
		}
	}
	r.check = &sp
}

// dur writes d as lvsgen's durations: "60s", "1.5s".
func dur(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// sorryOf is the sorry server of service key, whose destinations are
// dests, or nil with a warning when lvsgen cannot take it.
func (k *kaImport) sorryOf(vs *kaVS, key ipvs.ServiceKey, dests []ipvs.Destination, destPort func(*kaReal) uint16) *sorrySpec {
	r := vs.sorry
	if r == nil || len(dests) == 0 {
		return nil
	}
	fwd := r.fwd
	if !fwd.set {
		fwd = kaFwd{set: true, method: ipvs.Masq}
	}
	no := func(why string) *sorrySpec {
		if !slices.ContainsFunc(k.unmodelled, func(n Note) bool { return n.Where == r.st.pos.String() }) {
			k.warn(r.st.pos, fmt.Sprintf("%s: not imported: %s; the sorry server stays with keepalived", r.st.text(), why))
			vs.comments = append(vs.comments, wrap("", k.keep(r.st.pos, "sorry_server", r.st.text()+": "+why))...)
		}
		return nil
	}
	if fwd.method != dests[0].Forward || fwd.method == ipvs.Tunnel {
		return no("lvsgen's sorry server forwards like the service's real servers, and only by dr or nat")
	}
	if ipvs.FamilyOf(r.addr) != key.Family || !forwardable(r.addr) || r.addr.Is4In6() || r.addr.Zone() != "" {
		return no("its address is not a unicast address of the service's family")
	}
	c := *r
	c.fwd = fwd
	port := destPort(&c)
	if slices.ContainsFunc(dests, func(d ipvs.Destination) bool { return d.Addr == r.addr && d.Port == port }) {
		return no("it is also a real server of the service")
	}
	sp := &sorrySpec{addr: r.addr, port: port, from: r.st.pos.String()}
	sp.setPort = port != key.Port
	return sp
}
