package compiler

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// classHost is a host of TestHostClasses' config.
type classHost struct {
	name string
	// ifaces are the interfaces' address lists, eth0 first; mtu is
	// eth0's (0: none).
	ifaces            [][]string
	mtu               int
	gateway, gateway6 string
	unmanaged         bool
}

// hostClassConfig writes TestHostClasses' config: directors and clusters
// of every kind, hosts whose facts each rule of #RealCheck that reads a
// host tells apart, and services of every forwarding and family that
// list them all as real servers, in order or reversed.
func hostClassConfig(reversed bool) (hosts, services string) {
	directors := []classHost{
		{name: "lb1", ifaces: [][]string{{"10.0.0.2/24", "2001:db8::2/64"}}, gateway: "10.0.0.1", gateway6: "2001:db8::1"},
		{name: "lb2", ifaces: [][]string{{"10.0.0.3/24", "2001:db8::3/64"}}},
		{name: "nat1", ifaces: [][]string{{"192.168.1.2/24"}, {"10.1.0.1/24", "2001:db8:1::1/64"}}},
		{name: "nat2", ifaces: [][]string{{"192.168.1.3/24"}, {"10.1.0.2/24", "2001:db8:1::2/64"}}},
		{name: "fn1", ifaces: [][]string{{"10.2.0.1/24", "2001:db8:2::1/64"}}},
		{name: "fn2", ifaces: [][]string{{"10.2.0.2/24"}}, gateway: "10.2.0.254", gateway6: "2001:db8:2::fe"},
		// A director named as an address a real server has, and one
		// named as the sentinel: neither name may be rewritten.
		{name: "10.5.0.9", ifaces: [][]string{{"10.6.0.1/24"}}},
		{name: hostSentinel, ifaces: [][]string{{"10.7.0.1/24"}}},
	}
	reals := []classHost{
		// On lb1's subnets. Names that are prefixes of each other,
		// words of the rules' messages, an address.
		{name: "rs1", ifaces: [][]string{{"10.0.0.21/24", "2001:db8::21/64"}}, gateway: "10.0.0.1", gateway6: "2001:db8::1"},
		{name: "rs10", ifaces: [][]string{{"10.0.0.22/24", "2001:db8::22/64"}}, gateway: "10.0.0.1", gateway6: "2001:db8::1", unmanaged: true},
		{name: "rs100", ifaces: [][]string{{"10.0.0.23/24", "2001:db8::23/64"}}, gateway: "10.0.0.2", gateway6: "2001:db8::2"},
		{name: "real", ifaces: [][]string{{"10.0.0.24/24", "2001:db8::24/64"}}, mtu: 1400, gateway: "10.0.0.2", gateway6: "2001:db8::1"},
		{name: "server", ifaces: [][]string{{"10.0.0.25/24"}}, mtu: 9000, gateway: "10.0.0.3"},
		{name: "10.0.0.77", ifaces: [][]string{{"10.0.0.26/24"}}, gateway: "10.0.0.1"},
		{name: "director", ifaces: [][]string{{"10.0.0.27/24"}}},
		{name: "v6only", ifaces: [][]string{{"2001:db8::28/64"}}, gateway6: "2001:db8::2"},
		{name: "dual", ifaces: [][]string{{"10.0.0.29/24"}, {"10.5.0.29/24"}}, gateway: "10.0.0.2"},
		// A gateway that is the host's own address, and another host's.
		{name: "self", ifaces: [][]string{{"10.0.0.30/24"}}, gateway: "10.0.0.30"},
		{name: "other", ifaces: [][]string{{"10.0.0.31/24"}}, gateway: "10.0.0.30"},
		// A host named as another's address.
		{name: "h32", ifaces: [][]string{{"10.0.0.32/24"}}, gateway: "10.0.0.2"},
		{name: "10.0.0.32", ifaces: [][]string{{"10.0.0.33/24"}}, gateway: "10.0.0.2"},
		// On no director's subnet but dual's second; one at the address
		// a director is named.
		{name: "off9", ifaces: [][]string{{"10.5.0.9/24"}}, gateway: "10.5.0.1"},
		{name: "off1", ifaces: [][]string{{"10.5.0.3/24"}}, gateway: "10.5.0.1"},
		{name: "off2", ifaces: [][]string{{"10.5.0.4/24"}}, gateway: "10.5.0.1", mtu: 1500},
		{name: "off6", ifaces: [][]string{{"2001:db8:5::3/64"}}, gateway6: "2001:db8:5::1"},
		// On the NAT subnets: gateways right, wrong, none; subnets that
		// overlap a client network or not (app0's /24 does, app5's /30
		// not; app10's and app11's /25 differ in their network only;
		// app6's second prefix does not hold its address, app7's does).
		{name: "app1", ifaces: [][]string{{"10.1.0.11/24", "2001:db8:1::11/64"}}},
		{name: "app2", ifaces: [][]string{{"10.1.0.12/24"}}, gateway: "10.1.0.1"},
		{name: "app3", ifaces: [][]string{{"10.1.0.13/24", "2001:db8:1::13/64"}}, gateway: "10.1.0.99", gateway6: "2001:db8:1::99"},
		{name: "app4", ifaces: [][]string{{"10.1.0.14/24", "2001:db8:1::14/64"}}, gateway: "10.1.0.254", gateway6: "2001:db8:1::fe"},
		{name: "app0", ifaces: [][]string{{"10.1.0.10/24"}}},
		{name: "app5", ifaces: [][]string{{"10.1.0.21/30"}}},
		{name: "app10", ifaces: [][]string{{"10.1.0.5/25"}}},
		{name: "app11", ifaces: [][]string{{"10.1.0.130/25"}}},
		{name: "app6", ifaces: [][]string{{"10.1.0.30/24", "10.1.0.200/25"}}},
		{name: "app7", ifaces: [][]string{{"10.1.0.131/24", "10.1.0.200/25"}}},
		{name: "app8", ifaces: [][]string{{"10.1.0.193/24"}}, gateway: "10.1.0.1"},
		// Behind a router, for fullnat and tun.
		{name: "far1", ifaces: [][]string{{"203.0.113.11/24"}}, gateway: "203.0.113.1"},
		{name: "far2", ifaces: [][]string{{"203.0.113.12/24"}}, gateway: "203.0.113.1", mtu: 1480},
		{name: "far6", ifaces: [][]string{{"2001:db8:9::11/64"}}, gateway6: "2001:db8:9::1"},
		// Not unicast.
		{name: "mc1", ifaces: [][]string{{"224.0.0.9/24"}}},
	}
	// Each a twin: the same facts, another name, its addresses 50 on (a
	// second network's kept), so that most classes have two real
	// servers and the verdicts are given to another name and address.
	shift := func(p string) string {
		pr := netip.MustParsePrefix(p)
		a := pr.Addr()
		for range 50 {
			a = a.Next()
		}
		return netip.PrefixFrom(a, pr.Bits()).String()
	}
	for _, h := range slices.Clone(reals) {
		t := h
		t.name = "t-" + h.name
		t.ifaces = slices.Clone(h.ifaces)
		t.ifaces[0] = nil
		for _, p := range h.ifaces[0] {
			if p != "10.1.0.200/25" {
				p = shift(p)
			}
			t.ifaces[0] = append(t.ifaces[0], p)
		}
		if h.gateway+"/24" == h.ifaces[0][0] {
			t.gateway = strings.TrimSuffix(t.ifaces[0][0], "/24")
		}
		reals = append(reals, t)
	}
	// A valid pool on lb1's subnet.
	for i := range 100 {
		reals = append(reals, classHost{name: fmt.Sprintf("m%d", i), ifaces: [][]string{{fmt.Sprintf("10.0.0.%d/24", 100+i)}}, gateway: "10.0.0.1"})
	}
	var b strings.Builder
	b.WriteString("package lvs\n\nhosts: {\n")
	for _, h := range append(directors, reals...) {
		fmt.Fprintf(&b, "\t%q: {\n", h.name)
		if h.unmanaged {
			b.WriteString("\t\tmanaged: false\n")
		}
		for i, addrs := range h.ifaces {
			fmt.Fprintf(&b, "\t\tinterfaces: eth%d: {addresses: [%q", i, addrs[0])
			for _, a := range addrs[1:] {
				fmt.Fprintf(&b, ", %q", a)
			}
			b.WriteString("]")
			if i == 0 && h.mtu > 0 {
				fmt.Fprintf(&b, ", mtu: %d", h.mtu)
			}
			b.WriteString("}\n")
		}
		if h.gateway != "" {
			fmt.Fprintf(&b, "\t\tgateway: %q\n", h.gateway)
		}
		if h.gateway6 != "" {
			fmt.Fprintf(&b, "\t\tgateway6: %q\n", h.gateway6)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n\nclusters: {\n")
	fmt.Fprintf(&b, `	dr: directors: ["lb1"]
	pair: {directors: ["lb1", "lb2"], vip: bind: "none"}
	nat: {directors: ["nat1"], clientNetworks: ["192.168.1.0/24", "10.1.0.192/26"]}
	natgw: {directors: ["nat1", "nat2"], vip: bind: "none", natGateway: "10.1.0.254", natGateway6: "2001:db8:1::fe"}
	natpair: {directors: ["nat1", "nat2"], vip: bind: "none"}
	fn: directors: ["fn1"]
	fngw: directors: ["fn2"]
	odd: directors: ["10.5.0.9"]
	sent: directors: [%q]
}
`, hostSentinel)
	hosts = b.String()

	// Every real server of reals by host, and some by host and address:
	// its own, one not on it, one written otherwise than netip writes
	// it; with their own port, thresholds, weights.
	var entries []string
	for i, h := range reals {
		if strings.HasPrefix(h.name, "m") && h.name != "mc1" {
			continue
		}
		w := ""
		if i%2 == 1 {
			w = fmt.Sprintf(", weight: %d", i)
		}
		entries = append(entries, fmt.Sprintf("{host: %q%s}", h.name, w))
	}
	entries = append(entries,
		`{host: "rs1", port: 8080}`, `{host: "t-rs1", port: 8080}`,
		`{host: "app4", port: 8080}`, `{host: "t-app4", port: 8080}`,
		`{host: "off6", port: 8080}`, `{host: "t-off6", port: 8080}`,
		`{host: "rs10", port: 90, upperThreshold: 10, lowerThreshold: 20}`, `{host: "t-rs10", port: 90, upperThreshold: 10, lowerThreshold: 20}`,
		`{host: "app1", port: 90, upperThreshold: 10, lowerThreshold: 20}`, `{host: "t-app1", port: 90, upperThreshold: 10, lowerThreshold: 20}`,
		`{host: "rs1", address: "10.0.0.21", port: 81}`,
		`{host: "rs10", address: "10.0.0.99"}`,
		`{host: "rs100", address: "10.0.0.98"}`,
		`{host: "app3", address: "10.1.0.77"}`,
		`{host: "app4", address: "10.1.0.14", port: 82}`,
		`{host: "rs1", address: "2001:db8::21", port: 83}`,
		`{host: "rs10", address: "2001:DB8::22"}`,
		`{host: "v6only", address: "2001:db8::99"}`,
		`{host: "off6", address: "2001:db8:5::3", port: 84}`,
		`{host: "t-rs1", address: "10.0.0.71", port: 81}`,
		`{host: "t-rs10", address: "10.0.0.149"}`,
		`{host: "t-rs100", address: "10.0.0.148"}`,
		`{host: "t-app3", address: "10.1.0.127"}`,
		`{host: "t-app4", address: "10.1.0.64", port: 82}`,
		`{host: "t-rs1", address: "2001:db8::53", port: 83}`,
		`{host: "t-rs10", address: "2001:DB8::54"}`,
		`{host: "t-v6only", address: "2001:db8::cb"}`,
		`{host: "t-off6", address: "2001:db8:5::35", port: 84}`,
		// Addresses on none of the host's networks, each one's twin in
		// its class; written as netip writes them or not.
		`{host: "rs1", address: "10.5.0.77"}`, `{host: "t-rs1", address: "10.5.0.78"}`,
		`{host: "v6only", address: "2001:db8:5::77"}`, `{host: "t-v6only", address: "2001:db8:5::78"}`,
		`{host: "rs1", address: "2001:DB8:5::77"}`, `{host: "t-rs1", address: "2001:DB8:5::78"}`,
		// Bare addresses among them; the first is a director's name.
		`{address: "10.5.0.9"}`, `{address: "10.5.0.5"}`, `{address: "10.5.0.55"}`,
		`{address: "10.0.0.40"}`, `{address: "10.0.0.90"}`, `{address: "2001:db8::40"}`, `{address: "2001:db8::90"}`,
	)
	if reversed {
		slices.Reverse(entries)
	}
	var s strings.Builder
	s.WriteString("package lvs\n\n")
	for i, sv := range []struct{ cluster, fwd, vip, extra string }{
		{"dr", "dr", "192.0.2.50", ""}, {"dr", "dr", "2001:db8:f::50", ""},
		{"pair", "dr", "192.0.2.51", ""}, {"pair", "dr", "2001:db8:f::51", ""},
		{"dr", "tun", "192.0.2.52", ""}, {"dr", "tun", "2001:db8:f::52", `, tunnel: {type: "gue", port: 6080}`},
		{"nat", "nat", "192.0.2.53", ""}, {"nat", "nat", "2001:db8:f::53", ""},
		{"natgw", "nat", "192.0.2.54", ""}, {"natgw", "nat", "2001:db8:f::54", ""},
		{"natpair", "nat", "192.0.2.55", ""},
		{"fn", "fullnat", "192.0.2.56", ""}, {"fn", "fullnat", "2001:db8:f::56", ""},
		{"fngw", "fullnat", "192.0.2.57", ""},
		{"odd", "dr", "192.0.2.58", ""}, {"sent", "dr", "192.0.2.59", ""},
	} {
		fmt.Fprintf(&s, "services: \"s%d-%s-%s\": {cluster: %q, vip: %q, port: 80, forwarding: %q%s, reals: [\n", i, sv.cluster, sv.fwd, sv.cluster, sv.vip, sv.fwd, sv.extra)
		for _, e := range entries {
			fmt.Fprintf(&s, "\t%s,\n", e)
		}
		s.WriteString("]}\n")
	}
	// The valid pool, in one service.
	s.WriteString("services: pool: {cluster: \"dr\", vip: \"192.0.2.60\", port: 80, forwarding: \"dr\", reals: [\n")
	for i := range 100 {
		fmt.Fprintf(&s, "\t{host: \"m%d\", weight: %d},\n", i, i%3)
	}
	s.WriteString("]}\n")
	return hosts, s.String()
}

// TestHostClasses holds the verdicts kept per class of declared host
// (hostclass.go) to those of evaluating every real server: services of
// every forwarding and family in clusters of one or two directors, with
// and without a NAT gateway or client networks, whose real servers are
// declared hosts valid and invalid for each rule of #RealCheck that reads
// a host — real-address-host, family, same-subnet, dr-gateway through a
// director, nat-gateway, nat-clients, fullnat-route, real-unicast —
// managed or not, with MTUs, host names that are prefixes of each other,
// words of the messages or addresses, and a director named as the
// sentinel, compiled both ways (plain data and one CUE instance) in both
// orders, give the same diagnostics word for word (positions, related
// positions, hints) and the same model; and the valid pool takes one
// evaluation.
func TestHostClasses(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join("..", "schema", "rules.cue"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rules), hostSentinel) {
		t.Fatalf("schema/rules.cue holds %q, which stands for a host name in host classes", hostSentinel)
	}
	for _, reversed := range []bool{false, true} {
		t.Run(fmt.Sprintf("reversed=%v", reversed), func(t *testing.T) {
			dir := t.TempDir()
			hosts, services := hostClassConfig(reversed)
			for name, text := range map[string]string{"hosts.cue": hosts, "services.cue": services} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, evalsEach := compileSharing(t, dir, false, false)
			// The config must keep its mistakes: each rule that reads a
			// host, about real servers given as hosts.
			seen := map[string]int{}
			for _, d := range want.Diagnostics {
				seen[d.Rule]++
			}
			for _, rule := range []string{"real-address-host", "family", "same-subnet", "dr-gateway", "nat-gateway", "nat-clients", "fullnat-route", "real-unicast", "remap-port", "thresholds"} {
				if seen[rule] == 0 {
					t.Errorf("no %s diagnostic: the test config lost its mistake", rule)
				}
			}
			if t.Failed() {
				t.Fatalf("diagnostics by rule: %v", seen)
			}
			// The pool's 100 hosts are one class.
			classesAgree(t, dir, want, evalsEach, 99)
		})
	}
}
