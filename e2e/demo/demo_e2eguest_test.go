//go:build e2eguest

// Package demo is `make demo` and a test at once: it builds the example
// site of examples/ out of network namespaces, runs `lvsgen plan` and
// `lvsgen apply` for every director and real server from the same config
// directory, and sends real requests to each VIP.
package demo

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// say prints for the person watching `make demo` (the console streams).
func say(format string, args ...any) {
	fmt.Printf("\n=== "+format+"\n", args...)
}

func TestDemo(t *testing.T) {
	guest.Require(t)
	lvsgen := guest.Lvsgen(t)
	examples := guest.Data(t, "examples")
	state := t.TempDir()
	tp := topo.New(t)

	// The three sites of examples/hosts.cue.
	edge := tp.Subnet("edge", "10.10.0.0/24")
	front := tp.Subnet("front", "192.168.100.0/24")
	back := tp.Subnet("back", "10.20.0.0/24")
	mid := tp.Subnet("mid", "10.30.0.0/24")
	adm := tp.Subnet("adm", "10.40.0.0/24")
	gfront := tp.Subnet("gfront", "198.51.100.0/24")
	gback := tp.Subnet("gback", "203.0.113.0/24")

	client := tp.Client("client", edge, "10.10.0.50")
	client.Attach(front, "192.168.100.50")
	client.Attach(gfront, "198.51.100.50")
	// An upstream router would send the edge VIPs to the keepalived
	// master; here the client routes them to lb1 itself.
	client.Route("192.0.2.0/24", "10.10.0.2")

	nodes := map[string]*topo.Node{}
	nodes["lb1"] = tp.Node("lb1", edge, "10.10.0.2")
	nodes["web1"] = tp.Node("web1", edge, "10.10.0.11")
	nodes["web2"] = tp.Node("web2", edge, "10.10.0.12")
	nodes["nat1"] = tp.Node("nat1", front, "192.168.100.2")
	nodes["nat1"].Attach(back, "10.20.0.1")
	nodes["app1"] = tp.Node("app1", back, "10.20.0.11")
	nodes["app2"] = tp.Node("app2", back, "10.20.0.12")
	// The FULLNAT director and its real servers behind a router that
	// knows no way to the client network.
	nodes["full1"] = tp.Node("full1", front, "192.168.100.3")
	nodes["full1"].Attach(mid, "10.30.0.2")
	nodes["full1"].DefaultRoute("10.30.0.1")
	brouter := tp.Router("brouter", mid, "10.30.0.1")
	brouter.Attach(adm, "10.40.0.1")
	for _, n := range []string{"adm1", "adm2"} {
		nodes[n] = tp.Node(n, adm, map[string]string{"adm1": "10.40.0.11", "adm2": "10.40.0.12"}[n])
		nodes[n].DefaultRoute("10.40.0.1")
		nodes[n].ServeHTTP(8080)
	}
	nodes["tun1"] = tp.Node("tun1", gfront, "198.51.100.2")
	router := tp.Router("router", gfront, "198.51.100.1")
	router.Attach(gback, "203.0.113.1")
	nodes["tun1"].DefaultRoute("198.51.100.1")
	nodes["cache1"] = tp.Node("cache1", gback, "203.0.113.11")
	nodes["cache2"] = tp.Node("cache2", gback, "203.0.113.12")
	for _, c := range []string{"cache1", "cache2"} {
		nodes[c].DefaultRoute("203.0.113.1")
	}
	// keepalived owns the edge VIPs (vip.bind: "none"): as its master,
	// lb1 holds them.
	nodes["lb1"].AddAddr("eth0", "192.0.2.10/32")
	for _, n := range []string{"web1", "web2"} {
		nodes[n].ServeHTTP(80)
	}
	for _, n := range []string{"app1", "app2"} {
		nodes[n].ServeHTTP(8080)
	}
	for _, n := range []string{"cache1", "cache2"} {
		for _, p := range []int{80, 443, 8443} {
			nodes[n].ServeHTTP(p)
		}
	}

	run := func(host string, args ...string) string {
		t.Helper()
		args = append(args, "--host", host, "--state-dir", filepath.Join(state, host))
		if args[0] == "apply" {
			args = append(args, "--auto-approve", "--rules-file", "", "--sysctl-file", "", "--nft-file", "")
		}
		res, err := nodes[host].Run(lvsgen, args...)
		if err != nil || res.Exit != 0 {
			t.Fatalf("lvsgen %s: %v exit %d\n%s%s", strings.Join(args, " "), err, res.Exit, res.Stdout, res.Stderr)
		}
		return res.Stdout
	}

	say("lvsgen validate %s", examples)
	if res := guest.MustRun(t, lvsgen, "validate", examples); true {
		fmt.Print(res.Stdout)
	}
	// Real servers first, so that none gets traffic before it can answer.
	for _, h := range []string{"web1", "web2", "app1", "app2", "adm1", "adm2", "cache1", "cache2", "lb1", "nat1", "full1", "tun1"} {
		say("on %s: lvsgen plan examples --host %s", h, h)
		fmt.Print(run(h, "plan", examples))
		say("on %s: lvsgen apply examples --host %s --auto-approve", h, h)
		fmt.Print(run(h, "apply", examples))
	}

	type probe struct {
		what, target string
		want         []string
		// spread: the scheduler must use every real server for
		// one-at-a-time requests. sed, lc and wlc weigh active
		// connections, of which sequential requests leave none or few,
		// so they may pick one real server every time.
		spread bool
	}
	for _, p := range []probe{
		{"edge-http (DR, wrr 3:1)", "192.0.2.10:80", []string{"web1", "web2"}, true},
		{"app-api (NAT 80->8080, wlc 2:1)", "192.168.100.20:80", []string{"app1", "app2"}, false},
		{"app-admin (FULLNAT 80->8080, rr)", "192.168.100.22:80", []string{"adm1", "adm2"}, true},
		{"global-static (TUN ipip, wrr 5:5)", "198.51.100.31:80", []string{"cache1", "cache2"}, true},
		{"global-video (TUN gue, lc)", "198.51.100.30:443", []string{"cache1", "cache2"}, false},
		{"global-feeds (TUN gre, sed)", "198.51.100.32:8443", []string{"cache1", "cache2"}, false},
	} {
		names := client.HTTPRequests(p.target, 20)
		counts := topo.Count(names)
		say("20 requests to %s: %s", p.what, topo.FormatCount(counts))
		total := 0
		for _, w := range p.want {
			if p.spread && counts[w] == 0 {
				t.Errorf("%s: %s answered no request (%s)", p.what, w, topo.FormatCount(counts))
			}
			total += counts[w]
		}
		if total != 20 {
			t.Errorf("%s: %d of 20 requests answered by %v (%s)", p.what, total, p.want, topo.FormatCount(counts))
		}
	}
	if c := topo.Count(client.HTTPRequests("192.0.2.10:80", 20)); c["web1"] != 15 || c["web2"] != 5 {
		t.Errorf("edge-http wrr 3:1: %s, want web1 15 web2 5", topo.FormatCount(c))
	}

	// The edge cluster's sync: a master and a backup daemon on lb1, as
	// lvsgen apply started them.
	say("on lb1: ipvsadm -L --daemon")
	daemons := nodes["lb1"].MustRun("ipvsadm", "-L", "--daemon").Stdout
	fmt.Print(daemons)
	for _, want := range []string{"master sync daemon (mcast=eth0, syncid=51,", "backup sync daemon (mcast=eth0, syncid=51,"} {
		if !strings.Contains(daemons, want) {
			t.Errorf("lb1's sync daemons lack %q:\n%s", want, daemons)
		}
	}

	say("a second apply changes nothing")
	for _, h := range []string{"lb1", "nat1", "full1", "tun1", "web1", "app1", "cache1"} {
		out := run(h, "plan", examples, "--detailed-exitcode")
		if !strings.Contains(out, "no changes") {
			t.Errorf("plan on %s after apply:\n%s", h, out)
		}
	}
	fmt.Println("all hosts match the config")
}
