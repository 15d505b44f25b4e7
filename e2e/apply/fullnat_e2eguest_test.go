//go:build e2eguest

package apply

import (
	"fmt"
	"io"
	"net"
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

// TestApplyFullNAT: real servers two hops away, behind a router with no
// route to the clients, serve the VIP through the director's source NAT:
// requests alternate (rr) and the real servers see the director's
// address. The table flushed by hand is repaired by the next apply; with
// the service gone the table goes and conntrack is back to 0.
func TestApplyFullNAT(t *testing.T) {
	guest.Require(t)
	tp := topo.New(t)
	front := tp.Subnet("front", "10.0.1.0/24")
	mid := tp.Subnet("mid", "10.0.3.0/24")
	back := tp.Subnet("back", "10.0.2.0/24")
	l := newLab(t)
	l.client = tp.Client("client", front, "10.0.1.10")
	dir := tp.Node("dir", front, "10.0.1.2")
	dir.Attach(mid, "10.0.3.2")
	dir.DefaultRoute("10.0.3.1")
	l.hosts["dir"] = dir
	// The router knows mid and back only: nothing it could send to the
	// client network.
	router := tp.Router("router", mid, "10.0.3.1")
	router.Attach(back, "10.0.2.1")
	for i, a := range []string{"10.0.2.11", "10.0.2.12"} {
		rs := tp.Node(fmt.Sprintf("rs%d", i+1), back, a)
		rs.DefaultRoute("10.0.2.1")
		rs.ServeHTTP(8080)
	}
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

	// What the kernel holds, as nft lists it, is what render shows.
	listed := dir.MustRun("nft", "list", "table", "ip", "lvsgen").Stdout
	// nft names protocols through /etc/protocols, which the VM has not:
	// there it prints the number where a host prints "tcp".
	listed = strings.ReplaceAll(listed, "meta l4proto 6 ", "meta l4proto tcp ")
	rendered := dir.MustRun(l.lvsgen, "render", cfg, "--host", "dir", "--format", "nft").Stdout
	if listed != rendered {
		t.Errorf("nft list table ip lvsgen:\n%s\nlvsgen render --format nft:\n%s", listed, rendered)
	}

	// Drift: the rules flushed by hand.
	dir.MustRun("nft", "flush", "table", "ip", "lvsgen")
	res := l.run("dir", "plan", cfg)
	if !strings.Contains(res.Stdout, "nftable") || !strings.Contains(res.Stdout, "ip lvsgen") {
		t.Errorf("plan after a flush shows no nft change:\n%s", res.Stdout)
	}
	l.apply(cfg, "dir")
	checkFullNAT(t, l.client, "10.0.1.100:80", "10.0.3.2", 4)
	l.noChanges(cfg, "dir")

	// The last fullnat service gone.
	none := data(t, "fullnat-none")
	l.apply(none, "dir")
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
	tp := topo.New(t)
	front := tp.Subnet("front", "fd00:1::/64")
	mid := tp.Subnet("mid", "fd00:3::/64")
	back := tp.Subnet("back", "fd00:2::/64")
	l := newLab(t)
	l.client = tp.Client("client", front, "fd00:1::10")
	dir := tp.Node("dir", front, "fd00:1::2")
	dir.Attach(mid, "fd00:3::2")
	dir.DefaultRoute("fd00:3::1")
	l.hosts["dir"] = dir
	router := tp.Router("router", mid, "fd00:3::1")
	router.Attach(back, "fd00:2::1")
	for i, a := range []string{"fd00:2::11", "fd00:2::12"} {
		rs := tp.Node(fmt.Sprintf("rs%d", i+1), back, a)
		rs.DefaultRoute("fd00:2::1")
		rs.ServeHTTP(8080)
	}
	cfg := data(t, "fullnat6")
	l.apply(cfg, "dir")
	checkFullNAT(t, l.client, "[fd00:1::100]:80", "fd00:3::2", requests)
	l.noChanges(cfg, "dir")
	listed := dir.MustRun("nft", "list", "table", "ip6", "lvsgen").Stdout
	listed = strings.ReplaceAll(listed, "meta l4proto 6 ", "meta l4proto tcp ")
	rendered := dir.MustRun(l.lvsgen, "render", cfg, "--host", "dir", "--format", "nft").Stdout
	if listed != rendered {
		t.Errorf("nft list table ip6 lvsgen:\n%s\nlvsgen render --format nft:\n%s", listed, rendered)
	}
}
