//go:build e2eguest

package failover

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// The active-active site: a client behind a router, and on the router's
// LAN two directors and two DR real servers.
const (
	aaVIP      = "192.0.2.20"
	clientAddr = "10.1.0.10"
	routerLAN  = "10.0.0.1"
	lb1Addr    = "10.0.0.2"
	lb2Addr    = "10.0.0.3"
)

// reals are the real servers' addresses by name (the name is what their
// HTTP servers answer).
var reals = map[string]string{"rs1": "10.0.0.11", "rs2": "10.0.0.12"}

// aaConfig is the site's lvsgen config: cluster aa, active-active, its
// directors announcing the VIP to the router over BGP; one DR service
// hashed with mh on the source address and port, so that every director
// sends a flow to the same real server and different flows of one
// client spread; an HTTP check every second.
const aaConfig = `package lvs

hosts: {
	lb1: {interfaces: eth0: addresses: ["10.0.0.2/24"], gateway: "10.0.0.1"}
	lb2: {interfaces: eth0: addresses: ["10.0.0.3/24"], gateway: "10.0.0.1"}
	rs1: {interfaces: eth0: addresses: ["10.0.0.11/24"], gateway: "10.0.0.1"}
	rs2: {interfaces: eth0: addresses: ["10.0.0.12/24"], gateway: "10.0.0.1"}
}

clusters: aa: {
	directors: ["lb1", "lb2"]
	mode:      "active-active"
	bgp: {asn: 65010, peers: [{address: "10.0.0.1", asn: 65000}]}
}

services: web: {
	cluster:   "aa"
	vip:       "192.0.2.20"
	port:      80
	scheduler: "mh"
	flags: ["mh-port"]
	check: {type: "http", path: "/", interval: "1s", timeout: "1s", fall: 2, rise: 2}
	reals: [{host: "rs1"}, {host: "rs2"}]
}
`

// routerBird is the router's BIRD: a session to each director, and the
// kernel protocol merging the equal BGP paths into one ECMP route. The
// timers are short so that the test does not wait for BIRD's defaults
// (a 120 s connect retry): the directors' rendered files keep BIRD's
// defaults, so it is the router that connects.
const routerBird = `router id 10.0.0.1;

protocol device {
}

protocol kernel {
	ipv4 {
		import none;
		export all;
	};
	merge paths on;
}

template bgp director {
	local 10.0.0.1 as 65000;
	connect delay time 1;
	connect retry time 2;
	error wait time 1, 5;
	hold time 6;
	keepalive time 2;
	ipv4 {
		import all;
		export none;
	};
}

protocol bgp lb1 from director {
	neighbor 10.0.0.2 as 65010;
}

protocol bgp lb2 from director {
	neighbor 10.0.0.3 as 65010;
}
`

// check fails the test when p has exited.
func check(t *testing.T, p *topo.Process) {
	t.Helper()
	select {
	case <-p.Exited():
		t.Fatalf("%s exited (%v):\n%s", p.Name, p.Cmd.ProcessState, p.Out.String())
	default:
	}
}

// bird is a BIRD daemon with its own control socket.
type bird struct {
	*topo.Process
	sock string
}

// startBird runs BIRD in the foreground in n's namespace on conf, with a
// control socket and pid file of its own: three BIRDs share the VM's
// file system, and each would take /run/bird/bird.ctl otherwise.
func startBird(t *testing.T, n *topo.Node, conf string) *bird {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "bird.ctl")
	// -d: foreground, and the log on stderr (the VM has no syslog).
	p := n.StartProcess(t, syscall.SIGTERM, needTool(t, "/sbin/bird"), "-d", "-c", path, "-s", sock, "-P", filepath.Join(dir, "bird.pid"))
	return &bird{Process: p, sock: sock}
}

// show returns `birdc show ARGS`, for failure messages.
func (b *bird) show(args ...string) string {
	res, err := guest.Run("/sbin/birdc", append([]string{"-s", b.sock, "show"}, args...)...)
	if err != nil {
		return err.Error()
	}
	return res.Stdout + res.Stderr
}

// needTool fails the test when a tool the harness copies into the VM
// only when the host has it is missing: a missing tool is a failure,
// not a skip, as a skip would pass the suite without proving anything.
func needTool(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is not in the VM: the host lacked it when the VM base was built (scripts/e2e-deps.sh installs it): %v", path, err)
	}
	return path
}

// nexthops returns the gateways of the router's route to the VIP, sorted,
// and fails unless the route is BIRD's.
func nexthops(t *testing.T, router *topo.Node) []string {
	t.Helper()
	dst := &net.IPNet{IP: net.ParseIP(aaVIP).To4(), Mask: net.CIDRMask(32, 32)}
	routes, err := router.Netlink().RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: dst}, netlink.RT_FILTER_DST)
	if err != nil {
		t.Fatalf("router: routes to %s: %v", aaVIP, err)
	}
	var gws []string
	for _, r := range routes {
		if r.Protocol != netlink.RouteProtocol(unix.RTPROT_BIRD) {
			t.Fatalf("router: the route %s was not installed by BIRD (protocol %d)", r, r.Protocol)
		}
		if r.Gw != nil {
			gws = append(gws, r.Gw.String())
		}
		for _, nh := range r.MultiPath {
			gws = append(gws, nh.Gw.String())
		}
	}
	slices.Sort(gws)
	return gws
}

// waitNexthops polls the router's route to the VIP until its gateways are
// want, and returns how long that took from since.
func waitNexthops(t *testing.T, router *topo.Node, since time.Time, limit time.Duration, what string, want []string, diag func() string) time.Duration {
	t.Helper()
	var got []string
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = nexthops(t, router); slices.Equal(got, want) {
			took := time.Since(since)
			t.Logf("%s: the router's route to %s goes via %v after %s", what, aaVIP, got, took.Round(10*time.Millisecond))
			return took
		}
	}
	t.Fatalf("%s: after %s the router's route to %s goes via %v, want %v\nrouter: %s\n%s", what, limit, aaVIP, got, want,
		router.MustRun("ip", "route").Stdout, diag())
	return 0
}

// dialFrom connects from the client's address and source port to the VIP.
// SO_REUSEADDR lets a port be used again once its connection is reset.
func dialFrom(client *topo.Node, port int) (net.Conn, error) {
	d := net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientAddr), Port: port},
		Timeout:   5 * time.Second,
		Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			}); err != nil {
				return err
			}
			return serr
		},
	}
	var c net.Conn
	err := client.Do(func() error {
		var err error
		c, err = d.Dial("tcp4", net.JoinHostPort(aaVIP, "80"))
		return err
	})
	return c, err
}

// get makes one HTTP/1.1 request on c, leaving the connection open, and
// returns the answering real server's name.
func get(c net.Conn) (string, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+aaVIP+"\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return string(body), nil
}

// flows are client connections to the VIP, one per source port, held open
// so that each stays ESTABLISHED in the connection table of the director
// that scheduled it.
type flows struct {
	conns []net.Conn
	// real is the real server that answered, by source port.
	real map[int]string
}

// openFlows opens a connection from each port and makes a request on it;
// every connection must succeed.
func openFlows(t *testing.T, client *topo.Node, what string, ports []int) *flows {
	t.Helper()
	f := &flows{real: map[int]string{}}
	t.Cleanup(f.close)
	var failed []string
	for _, p := range ports {
		c, err := dialFrom(client, p)
		if err != nil {
			failed = append(failed, fmt.Sprintf("port %d: %v", p, err))
			continue
		}
		f.conns = append(f.conns, c)
		name, err := get(c)
		if err != nil {
			failed = append(failed, fmt.Sprintf("port %d: %v", p, err))
			continue
		}
		if _, ok := reals[name]; !ok {
			t.Fatalf("%s: port %d answered by %q, not a real server", what, p, name)
		}
		f.real[p] = name
	}
	if len(failed) > 0 {
		t.Fatalf("%s: %d of %d connections failed:\n%s", what, len(failed), len(ports), strings.Join(failed, "\n"))
	}
	return f
}

// close resets every connection (SO_LINGER 0): no TIME_WAIT on the client
// and the director's entry in CLOSE, so the ports can open new flows at
// once (IPVS schedules a SYN on an entry in CLOSE afresh).
func (f *flows) close() {
	for _, c := range f.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
	f.conns = nil
}

// established returns the client's ESTABLISHED connections in n's IPVS
// table: the real server's address by client source port.
func established(t *testing.T, n *topo.Node) map[int]string {
	t.Helper()
	m := map[int]string{}
	for _, line := range strings.Split(n.MustRun("ipvsadm", "-L", "-n", "-c").Stdout, "\n") {
		// TCP 14:59  ESTABLISHED 10.1.0.10:40000 192.0.2.20:80 10.0.0.11:80
		f := strings.Fields(line)
		if len(f) != 6 || f[0] != "TCP" || f[2] != "ESTABLISHED" {
			continue
		}
		src, err1 := netip.ParseAddrPort(f[3])
		dst, err2 := netip.ParseAddrPort(f[5])
		if err1 != nil || err2 != nil || src.Addr().String() != clientAddr {
			continue
		}
		m[int(src.Port())] = dst.Addr().String()
	}
	return m
}

// byDirector returns, for each flow, the director whose table holds it,
// and fails unless exactly one does and sent it to the real server that
// answered.
func byDirector(t *testing.T, what string, f *flows, dirs map[string]*topo.Node) map[int]string {
	t.Helper()
	tables := map[string]map[int]string{}
	for name, n := range dirs {
		tables[name] = established(t, n)
	}
	held := map[int]string{}
	for p, rs := range f.real {
		var on []string
		for name, tab := range tables {
			if a, ok := tab[p]; ok {
				on = append(on, name)
				if a != reals[rs] {
					t.Errorf("%s: port %d: %s's table sends it to %s, but %s (%s) answered", what, p, name, a, rs, reals[rs])
				}
			}
		}
		if len(on) != 1 {
			t.Fatalf("%s: port %d is in the connection table of %v, want one director", what, p, on)
		}
		held[p] = on[0]
	}
	return held
}

// tally counts a port→name map's names.
func tally(m map[int]string) map[string]int {
	return topo.Count(slices.Collect(maps.Values(m)))
}

// count renders tally(m), e.g. "lb1=14 lb2=18".
func count(m map[int]string) string {
	return topo.FormatCount(tally(m))
}

func portRange(from, n int) []int {
	ports := make([]int, n)
	for i := range ports {
		ports[i] = from + i
	}
	return ports
}

// blockChecks makes the real server drop what lb1 sends to port 80 from
// its own address, which is lb1's health checks only: DR traffic lb1
// forwards keeps the client's source address.
func blockChecks(n *topo.Node) {
	n.MustRun("nft", "add", "table", "ip", "e2e_block")
	n.MustRun("nft", "add", "chain", "ip", "e2e_block", "input", "{ type filter hook input priority 0; }")
	n.MustRun("nft", "add", "rule", "ip", "e2e_block", "input", "ip", "saddr", lb1Addr, "tcp", "dport", "80", "drop")
}

// TestActiveActiveECMP runs the active-active cluster of aaConfig with
// real BGP and ECMP: each director's BIRD runs the file `lvsgen render
// --format bird` wrote for it, and the router's BIRD merges the two
// paths into one ECMP route, hashed on the ports
// (fib_multipath_hash_policy=1). lb1 runs `lvsgen watch` (health checks),
// lb2 and the real servers `lvsgen apply`. It proves:
//   - the router's route to the VIP, installed by BIRD, has both
//     directors as nexthops;
//   - flows from one client (different source ports) all succeed and are
//     spread over both directors, each held by the director that
//     scheduled it, to the real server that answered;
//   - when every real server fails lb1's checks only, lb1 unbinds the VIP,
//     BIRD withdraws it, and the router's route has lb2 alone; the same
//     flows (same source ports) all succeed through lb2, each to the real
//     server it had before, also those lb1 had scheduled: mh picks the
//     same real server on every director;
//   - when the checks pass again, lb1 binds and announces the VIP, and new
//     flows spread over both directors again.
func TestActiveActiveECMP(t *testing.T) {
	guest.Require(t)
	lvsgen := guest.Lvsgen(t)
	needTool(t, "/sbin/bird")
	needTool(t, "/sbin/birdc")
	needTool(t, "/sbin/nft")

	tp := topo.New(t)
	edge := tp.Subnet("edge", "10.1.0.0/24")
	lan := tp.Subnet("lan", "10.0.0.0/24")
	client := tp.Client("client", edge, clientAddr)
	client.DefaultRoute("10.1.0.1")
	router := tp.Router("router", edge, "10.1.0.1")
	router.Attach(lan, routerLAN)
	// Hash forwarded flows on the 5-tuple, not the addresses alone: one
	// client's flows then spread over the directors.
	router.Sysctl("net.ipv4.fib_multipath_hash_policy", "1")
	lb1 := tp.Director("lb1", lan, lb1Addr)
	lb2 := tp.Director("lb2", lan, lb2Addr)
	dirs := map[string]*topo.Node{"lb1": lb1, "lb2": lb2}
	var rss []*topo.Node
	for _, name := range []string{"rs1", "rs2"} {
		rs := tp.RealServer(name, lan, reals[name])
		rs.ServeHTTP(80)
		rss = append(rss, rs)
	}
	for _, n := range append([]*topo.Node{lb1, lb2}, rss...) {
		n.DefaultRoute(routerLAN)
	}

	cfg := t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg, "site.cue"), []byte(aaConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	// The VM's /etc is shared by every namespace: no rules, sysctl or nft
	// file is written, and each host has its own state directory.
	files := []string{"--rules-file", "", "--sysctl-file", "", "--nft-file", ""}
	for _, n := range append([]*topo.Node{lb2}, rss...) {
		args := append([]string{"apply", cfg, "--host", n.Name, "--auto-approve", "--state-dir", t.TempDir()}, files...)
		n.MustRun(lvsgen, args...)
	}
	watch := lb1.StartProcess(t, syscall.SIGTERM, lvsgen, append([]string{"watch", cfg, "--host", "lb1", "--state-dir", t.TempDir(), "--log-format", "json"}, files...)...)
	bound := func(n *topo.Node) bool {
		l, err := n.Netlink().LinkByName("lvs0")
		if err != nil {
			return false
		}
		addrs, _ := n.Netlink().AddrList(l, netlink.FAMILY_V4)
		for _, a := range addrs {
			if a.IP.String() == aaVIP {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(60 * time.Second); !bound(lb1); time.Sleep(200 * time.Millisecond) {
		check(t, watch)
		if time.Now().After(deadline) {
			t.Fatalf("lb1: lvsgen watch has not bound %s on lvs0 after 60s:\n%s", aaVIP, watch.Out.String())
		}
	}
	if !bound(lb2) {
		t.Fatalf("lb2: lvsgen apply did not bind %s on lvs0", aaVIP)
	}

	// BGP: the router's BIRD first, then each director's, on the file
	// lvsgen renders for it.
	rb := startBird(t, router, routerBird)
	birds := map[string]*bird{"router": rb}
	for _, n := range []*topo.Node{lb1, lb2} {
		conf := guest.MustRun(t, lvsgen, "render", cfg, "--host", n.Name, "--format", "bird").Stdout
		if !strings.Contains(conf, "neighbor "+routerLAN+" as 65000;") {
			t.Fatalf("%s: the rendered BIRD file has no session to the router:\n%s", n.Name, conf)
		}
		birds[n.Name] = startBird(t, n, conf)
	}
	diag := func() string {
		var b strings.Builder
		for _, name := range []string{"router", "lb1", "lb2"} {
			fmt.Fprintf(&b, "--- %s: birdc show protocols\n%s--- %s: birdc show route all\n%s--- %s: BIRD's log\n%s\n",
				name, birds[name].show("protocols"), name, birds[name].show("route", "all"), name, birds[name].Out.String())
		}
		fmt.Fprintf(&b, "--- lb1: lvsgen watch\n%s", watch.Out.String())
		return b.String()
	}

	// Both directors announce the VIP: the router's route has two
	// nexthops.
	start := time.Now()
	both := []string{lb1Addr, lb2Addr}
	waitNexthops(t, router, start, 120*time.Second, "BGP up", both, diag)
	for _, b := range birds {
		check(t, b.Process)
	}
	if out := rb.show("route", "for", aaVIP, "all"); !strings.Contains(out, "[lb1 ") || !strings.Contains(out, "[lb2 ") {
		t.Fatalf("router: BIRD's routes to %s are not from both sessions:\n%s", aaVIP, out)
	}

	// One client's flows spread over both directors.
	ports := portRange(40000, 32)
	f1 := openFlows(t, client, "both directors", ports)
	held1 := byDirector(t, "both directors", f1, dirs)
	f1.close()
	t.Logf("both directors: %d flows, by director %s, by real server %s", len(ports), count(held1), count(f1.real))
	if c := tally(held1); c["lb1"] == 0 || c["lb2"] == 0 {
		t.Fatalf("both directors: the flows went to %s only; ECMP should spread them over both", count(held1))
	}
	if c := tally(f1.real); c["rs1"] == 0 || c["rs2"] == 0 {
		t.Errorf("both directors: the flows went to %s only; mh with mh-port should spread them over both real servers", count(f1.real))
	}

	// Every real server fails lb1's checks: lb1 unbinds the VIP and BIRD
	// withdraws it.
	start = time.Now()
	for _, rs := range rss {
		blockChecks(rs)
	}
	waitNexthops(t, router, start, 90*time.Second, "lb1's checks fail", []string{lb2Addr}, diag)
	if bound(lb1) {
		t.Fatalf("lb1: the VIP is withdrawn but still bound on lvs0")
	}
	if !bound(lb2) {
		t.Fatalf("lb2: the VIP is no longer bound on lvs0: lb2's state changed with lb1's checks")
	}
	f2 := openFlows(t, client, "lb2 alone", ports)
	held2 := byDirector(t, "lb2 alone", f2, dirs)
	f2.close()
	moved, kept := 0, 0
	for _, p := range ports {
		if held2[p] != "lb2" {
			t.Errorf("lb2 alone: port %d went through %s", p, held2[p])
		}
		if f2.real[p] != f1.real[p] {
			t.Errorf("lb2 alone: port %d answered by %s, by %s through %s before: mh should pick the same real server on every director", p, f2.real[p], f1.real[p], held1[p])
		}
		if held1[p] == "lb1" {
			moved++
			if f2.real[p] == f1.real[p] {
				kept++
			}
		}
	}
	t.Logf("lb2 alone: %d flows, by director %s; of the %d that lb1 had scheduled, %d reached the same real server through lb2", len(ports), count(held2), moved, kept)

	// The checks pass again: lb1 binds and announces the VIP.
	start = time.Now()
	for _, rs := range rss {
		rs.MustRun("nft", "delete", "table", "ip", "e2e_block")
	}
	waitNexthops(t, router, start, 90*time.Second, "lb1's checks pass again", both, diag)
	// The VIP is bound again as soon as one real server is up; wait for
	// both weights before counting on lb1 to spread new flows.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		save := lb1.MustRun("ipvsadm", "-S", "-n").Stdout
		if strings.Count(save, " -w 1\n") == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lb1: the weights are not back to 1:\n%s\n%s", save, watch.Out.String())
		}
	}
	f3 := openFlows(t, client, "both again", portRange(41000, 32))
	held3 := byDirector(t, "both again", f3, dirs)
	f3.close()
	t.Logf("both again: %d flows, by director %s", len(held3), count(held3))
	if c := tally(held3); c["lb1"] == 0 || c["lb2"] == 0 {
		t.Fatalf("both again: the flows went to %s only", count(held3))
	}
	check(t, watch)
}
