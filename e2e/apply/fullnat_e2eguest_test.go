//go:build e2eguest

package apply

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// sourceSeen makes one request to vip from the client and returns the
// answering server and the source address it saw.
func sourceSeen(t *testing.T, client *topo.Node, vip string) (server, source string) {
	t.Helper()
	c := client.HTTPClient()
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://" + vip + "/")
	if err != nil {
		t.Fatalf("GET %s: %v", vip, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	host, _, err := net.SplitHostPort(resp.Header.Get("X-Remote-Addr"))
	if err != nil {
		t.Fatalf("X-Remote-Addr %q: %v", resp.Header.Get("X-Remote-Addr"), err)
	}
	return string(body), host
}

// checkFullNAT makes n requests to vip and fails unless they alternate
// between rs1 and rs2 (rr) and every real server saw snat as the source.
func checkFullNAT(t *testing.T, client *topo.Node, vip, snat string, n int) {
	t.Helper()
	var names []string
	for range n {
		name, src := sourceSeen(t, client, vip)
		if src != snat {
			t.Errorf("%s saw source %s, want the director's %s", name, src, snat)
		}
		names = append(names, name)
	}
	topo.CheckSplit(t, "FULLNAT rr", names, map[string]int{"rs1": n / 2, "rs2": n / 2})
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			t.Errorf("requests do not alternate (rr): %v", names)
			break
		}
	}
}

// fullNATLab builds the FULLNAT topology in one address family: a client
// and the director on front (net 1), the director and a router on mid
// (net 3), the router and two real servers serving HTTP on 8080 on back
// (net 2). The director's and the real servers' default routes lead to
// the router, which knows mid and back only: nothing it could send to the
// client network. addr formats an address from its net and host part,
// e.g. "10.0.%d.%s"; the prefixes are /24 for IPv4, /64 for IPv6.
func fullNATLab(t *testing.T, addr string) (*lab, *topo.Node) {
	t.Helper()
	a := func(net int, host string) string { return fmt.Sprintf(addr, net, host) }
	bits := "/24"
	if strings.Contains(addr, ":") {
		bits = "/64"
	}
	tp := topo.New(t)
	front := tp.Subnet("front", a(1, "0")+bits)
	mid := tp.Subnet("mid", a(3, "0")+bits)
	back := tp.Subnet("back", a(2, "0")+bits)
	l := newLab(t)
	l.client = tp.Client("client", front, a(1, "10"))
	dir := tp.Node("dir", front, a(1, "2"))
	dir.Attach(mid, a(3, "2"))
	dir.DefaultRoute(a(3, "1"))
	l.hosts["dir"] = dir
	router := tp.Router("router", mid, a(3, "1"))
	router.Attach(back, a(2, "1"))
	for i, h := range []string{"11", "12"} {
		rs := tp.Node(fmt.Sprintf("rs%d", i+1), back, a(2, h))
		rs.DefaultRoute(a(2, "1"))
		rs.ServeHTTP(8080)
	}
	return l, dir
}

// checkNFTRendered: what the kernel holds, as nft lists lvsgen's table of
// family, is what lvsgen render --format nft shows.
func checkNFTRendered(t *testing.T, l *lab, dir *topo.Node, cfg, family string) {
	t.Helper()
	listed := dir.MustRun("nft", "list", "table", family, "lvsgen").Stdout
	// nft names protocols through /etc/protocols, which the VM has not:
	// there it prints the number where a host prints "tcp".
	listed = strings.ReplaceAll(listed, "meta l4proto 6 ", "meta l4proto tcp ")
	rendered := dir.MustRun(l.lvsgen, "render", cfg, "--host", "dir", "--format", "nft").Stdout
	if listed != rendered {
		t.Errorf("nft list table %s lvsgen:\n%s\nlvsgen render --format nft:\n%s", family, listed, rendered)
	}
}

// TestApplyFullNAT: real servers two hops away, behind a router with no
// route to the clients, serve the VIP through the director's source NAT:
// requests alternate (rr) and the real servers see the director's
// address. The table flushed by hand is repaired by the next apply; with
// the service gone the table goes and conntrack is back to 0.
func TestApplyFullNAT(t *testing.T) {
	guest.Require(t)
	l, dir := fullNATLab(t, "10.0.%d.%s")
	if v := dir.ReadSysctl("net.ipv4.vs.conntrack"); v != "0" {
		t.Fatalf("conntrack is %s before apply, want the kernel's 0", v)
	}

	cfg := data(t, "fullnat")
	l.apply(cfg, "dir")
	checkFullNAT(t, l.client, "10.0.1.100:80", "10.0.3.2", requests)
	if v := dir.ReadSysctl("net.ipv4.vs.conntrack"); v != "1" {
		t.Errorf("conntrack is %s after apply, want 1", v)
	}
	l.noChanges(cfg, "dir")

	checkNFTRendered(t, l, dir, cfg, "ip")

	// Drift: the rules flushed by hand.
	dir.MustRun("nft", "flush", "table", "ip", "lvsgen")
	res := l.run("dir", "plan", cfg)
	if !strings.Contains(res.Stdout, "nftable") || !strings.Contains(res.Stdout, "ip lvsgen") {
		t.Errorf("plan after a flush shows no nft change:\n%s", res.Stdout)
	}
	l.apply(cfg, "dir")
	checkFullNAT(t, l.client, "10.0.1.100:80", "10.0.3.2", 4)
	l.noChanges(cfg, "dir")

	// The persisted script brings the table back as it was, whatever the
	// kernel holds: here nothing (a boot), then a stale copy (an
	// /etc/nftables.conf that includes it after its flush ruleset).
	script := filepath.Join(l.state, "nftables.nft")
	dir.MustRun(l.lvsgen, "apply", cfg, "--host", "dir", "--state-dir", filepath.Join(l.state, "dir"), "--auto-approve",
		"--rules-file", "", "--sysctl-file", "", "--nft-file", script)
	dir.MustRun("nft", "delete", "table", "ip", "lvsgen")
	dir.MustRun("nft", "-f", script)
	l.noChanges(cfg, "dir")
	dir.MustRun("nft", "flush", "table", "ip", "lvsgen")
	dir.MustRun("nft", "-f", script)
	l.noChanges(cfg, "dir")
	checkFullNAT(t, l.client, "10.0.1.100:80", "10.0.3.2", 4)

	// The last fullnat service gone. The requests above left connections
	// in TIME_WAIT (inactive), so the service drains first (issue 17):
	// the table and conntrack 1 stay while it does — its connections are
	// source-NATed only so — and the next apply, with no active
	// connection left, removes them.
	none := data(t, "fullnat-none")
	l.apply(none, "dir")
	if r := dir.MustRun("ipvsadm", "-L", "-n"); !strings.Contains(r.Stdout, "10.0.1.100:80") {
		t.Errorf("the leaving service did not drain (no connections left?):\n%s", r.Stdout)
	} else {
		dir.MustRun("nft", "list", "table", "ip", "lvsgen") // still there
		if v := dir.ReadSysctl("net.ipv4.vs.conntrack"); v != "1" {
			t.Errorf("conntrack is %s while a fullnat service drains, want 1", v)
		}
		l.apply(none, "dir")
	}
	if r, err := dir.Run("nft", "list", "table", "ip", "lvsgen"); err == nil && r.Exit == 0 {
		t.Errorf("table ip lvsgen still there:\n%s", r.Stdout)
	}
	if v := dir.ReadSysctl("net.ipv4.vs.conntrack"); v != "0" {
		t.Errorf("conntrack is %s after the service left, want 0", v)
	}
	l.noChanges(none, "dir")
}

// TestApplyFullNAT6: the same over IPv6, through the ip6 lvsgen table.
func TestApplyFullNAT6(t *testing.T) {
	guest.Require(t)
	l, dir := fullNATLab(t, "fd00:%d::%s")
	cfg := data(t, "fullnat6")
	l.apply(cfg, "dir")
	checkFullNAT(t, l.client, "[fd00:1::100]:80", "fd00:3::2", requests)
	l.noChanges(cfg, "dir")
	checkNFTRendered(t, l, dir, cfg, "ip6")
}
