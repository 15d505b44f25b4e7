package compiler

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/model"
)

// TestHealthChecks compiles a valid service per check type, with
// inheritance, overrides and a sorry server, on both paths, and requires
// each real server's effective check, the service's own and the checks
// the director lb1 carries.
func TestHealthChecks(t *testing.T) {
	// defaults is a check of type typ on port with every default.
	defaults := func(typ string, port uint16) model.Check {
		return model.Check{Type: typ, Port: port, Interval: 5 * time.Second, Timeout: 3 * time.Second,
			IntervalText: "5s", TimeoutText: "3s", Rise: 2, Fall: 3, InitialUp: true, OnFailure: "quiesce"}
	}
	with := func(c model.Check, edit func(*model.Check)) *model.Check {
		edit(&c)
		return &c
	}
	web1, web2 := netip.MustParseAddr("10.0.0.11"), netip.MustParseAddr("10.0.0.12")
	const std = `vip: "192.0.2.9", port: 80, reals: [{host: "web1"}, {host: "web2"}]`
	tests := []struct {
		name string
		src  string
		// reals are the real servers' effective checks, svc the
		// service's own.
		reals []*model.Check
		svc   *model.Check
		// sorry, quorum and hysteresis of the service, when set.
		sorry              *model.Sorry
		quorum, hysteresis int
	}{
		{
			name:  "tcp with every default",
			src:   std + `, check: {type: "tcp"}`,
			reals: []*model.Check{with(defaults("tcp", 80), func(*model.Check) {}), with(defaults("tcp", 80), func(*model.Check) {})},
			svc:   with(defaults("tcp", 0), func(*model.Check) {}),
		},
		{
			name: "http's defaults: path / and status 200",
			src:  std + `, check: {type: "http", interval: "2s", timeout: "1500ms", rise: 1, fall: 2}`,
			reals: []*model.Check{
				with(defaults("http", 80), func(c *model.Check) {
					c.Path, c.Expect = "/", []int{200}
					c.Interval, c.IntervalText, c.Timeout, c.TimeoutText, c.Rise, c.Fall = 2*time.Second, "2s", 1500*time.Millisecond, "1500ms", 1, 2
				}),
				with(defaults("http", 80), func(c *model.Check) {
					c.Path, c.Expect = "/", []int{200}
					c.Interval, c.IntervalText, c.Timeout, c.TimeoutText, c.Rise, c.Fall = 2*time.Second, "2s", 1500*time.Millisecond, "1500ms", 1, 2
				}),
			},
			svc: with(defaults("http", 0), func(c *model.Check) {
				c.Path, c.Expect = "/", []int{200}
				c.Interval, c.IntervalText, c.Timeout, c.TimeoutText, c.Rise, c.Fall = 2*time.Second, "2s", 1500*time.Millisecond, "1500ms", 1, 2
			}),
		},
		{
			name: "https on its own port, overridden by tcp on one real server, off on none",
			src: `vip: "192.0.2.9", port: 80, check: {type: "https", port: 8443, path: "/healthz", host: "www.example.com", expect: [200, 204], body: "\"ok\"", serverName: "www.example.com", verify: true, initial: "down", onFailure: "remove"}
	reals: [{host: "web1", check: {type: "tcp", port: 22}}, {host: "web2"}]`,
			reals: []*model.Check{
				with(defaults("tcp", 22), func(*model.Check) {}),
				with(defaults("https", 8443), func(c *model.Check) {
					c.Path, c.Host, c.Expect, c.Body, c.ServerName, c.Verify = "/healthz", "www.example.com", []int{200, 204}, `"ok"`, "www.example.com", true
					c.InitialUp, c.OnFailure = false, "remove"
				}),
			},
			svc: with(defaults("https", 8443), func(c *model.Check) {
				c.Path, c.Host, c.Expect, c.Body, c.ServerName, c.Verify = "/healthz", "www.example.com", []int{200, 204}, `"ok"`, "www.example.com", true
				c.InitialUp, c.OnFailure = false, "remove"
			}),
		},
		{
			name:  "udp",
			src:   `vip: "192.0.2.9", protocol: "udp", port: 53, reals: [{host: "web1"}, {host: "web2"}], check: {type: "udp", send: "ping", receive: "pong"}`,
			reals: []*model.Check{with(defaults("udp", 53), func(c *model.Check) { c.Send, c.Receive = "ping", "pong" }), with(defaults("udp", 53), func(c *model.Check) { c.Send, c.Receive = "ping", "pong" })},
			svc:   with(defaults("udp", 0), func(c *model.Check) { c.Send, c.Receive = "ping", "pong" }),
		},
		{
			name: "dns asks A by default; one real server not checked",
			src: `vip: "192.0.2.9", protocol: "udp", port: 53, check: {type: "dns", query: "example.com.", answer: "192.0.2.53"}
	reals: [{host: "web1"}, {host: "web2", check: {type: "none"}}]`,
			reals: []*model.Check{with(defaults("dns", 53), func(c *model.Check) { c.Query, c.QueryType, c.Answer = "example.com.", "A", "192.0.2.53" }), nil},
			svc:   with(defaults("dns", 0), func(c *model.Check) { c.Query, c.QueryType, c.Answer = "example.com.", "A", "192.0.2.53" }),
		},
		{
			name: "exec on a real server only",
			src:  `vip: "192.0.2.9", port: 80, reals: [{host: "web1", check: {type: "exec", command: ["/usr/local/bin/web-ok", "--port", "80"], user: "nobody"}}, {host: "web2"}]`,
			reals: []*model.Check{with(defaults("exec", 80), func(c *model.Check) {
				c.Command, c.User = []string{"/usr/local/bin/web-ok", "--port", "80"}, "nobody"
			}), nil},
		},
		{
			name: "fwmark service with a check port, a sorry server, quorum and hysteresis",
			src: `fwmark: 7, addresses: ["192.0.2.9"], check: {type: "tcp", port: 443}, sorry: {address: "10.0.0.20"}, quorum: 2, hysteresis: 1
	reals: [{host: "web1", weight: 2}, {host: "web2"}]`,
			reals: []*model.Check{with(defaults("tcp", 443), func(*model.Check) {}), with(defaults("tcp", 443), func(*model.Check) {})},
			svc:   with(defaults("tcp", 443), func(*model.Check) {}),
			sorry: &model.Sorry{Address: netip.MustParseAddr("10.0.0.20")}, quorum: 2, hysteresis: 1,
		},
	}
	base, err := os.ReadFile(filepath.Join("testdata", "base", "base.cue"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "base.cue"), string(base))
			svc := "services: s: {\n\tcluster: \"dr\"\n\t" + tt.src + "\n}\n"
			writeFile(t, filepath.Join(dir, "case.cue"), "package lvs\n\n"+svc)
			tree, whole := compileBothWays(t, dir)
			for _, res := range []*Result{tree, whole} {
				if !res.Valid() {
					t.Fatalf("invalid:\n%v", res.Diagnostics)
				}
				for _, d := range res.Diagnostics {
					t.Errorf("unexpected diagnostic %v", d)
				}
				var s *model.Service
				for _, x := range res.Config.Services {
					if x.Name == "s" {
						s = x
					}
				}
				var got []*model.Check
				for _, r := range s.Reals {
					got = append(got, r.Check)
				}
				if diff := cmp.Diff(tt.reals, got); diff != "" {
					t.Errorf("real servers' checks (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.svc, s.Check); diff != "" {
					t.Errorf("service's check (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]any{tt.sorry, tt.quorum, tt.hysteresis}, []any{s.Sorry, s.Quorum, s.Hysteresis}, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
					t.Errorf("sorry, quorum, hysteresis (-want +got):\n%s", diff)
				}

				// The director carries one check per checked real
				// server, to its own address.
				var want []hoststate.Check
				for i, c := range tt.reals {
					if c != nil {
						addr := []netip.Addr{web1, web2}[i]
						want = append(want, hoststate.Check{Real: []string{"web1", "web2"}[i], Destination: netip.AddrPortFrom(addr, s.Reals[i].Port), Addr: netip.AddrPortFrom(addr, c.Port), Check: *c})
					}
				}
				var hs *hoststate.Service
				for i := range res.Hosts["lb1"].Services {
					if res.Hosts["lb1"].Services[i].Name == "s" {
						hs = &res.Hosts["lb1"].Services[i]
					}
				}
				if diff := cmp.Diff(want, hs.Checks, cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
					t.Errorf("director's checks (-want +got):\n%s", diff)
				}
				if (hs.Sorry != nil) != (tt.sorry != nil) || hs.Quorum != tt.quorum || hs.Hysteresis != tt.hysteresis {
					t.Errorf("director's sorry %v quorum %d hysteresis %d", hs.Sorry, hs.Quorum, hs.Hysteresis)
				}
			}
		})
	}
}

// TestSorryHostIsSetUp: a managed sorry server gets what a real server of
// its service needs (the VIP on lo for dr), so that it can serve the
// moment the health overlay adds it, though it is no destination.
func TestSorryHostIsSetUp(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "base", "base.cue"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "base.cue"), string(base))
	writeFile(t, filepath.Join(dir, "case.cue"), `package lvs

hosts: maint1: interfaces: eth0: addresses: ["10.0.0.20/24"]
services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp"}, sorry: {host: "maint1"}, reals: [{host: "web1"}]}
`)
	res, err := Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid() {
		t.Fatalf("invalid:\n%v", res.Diagnostics)
	}
	h := res.Hosts["maint1"]
	var got []string
	for _, a := range h.Addresses {
		got = append(got, a.Device+" "+a.Prefix.String())
	}
	if diff := cmp.Diff([]string{"lo 192.0.2.9/32"}, got); diff != "" {
		t.Errorf("maint1's addresses (-want +got):\n%s", diff)
	}
	for _, s := range res.Hosts["lb1"].Services {
		for _, d := range s.Destinations {
			if d.Addr == netip.MustParseAddr("10.0.0.20") {
				t.Errorf("the sorry server is a destination of %s", s.Name)
			}
		}
	}
}
