package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/diag"
)

// relMarker stands in a case's source before a related position, as
// marker does before a diagnostic's own.
const relMarker = "¤"

// wantAt is an expected diagnostic with its related positions. at is
// where the diagnostic stands: "" for the next marker in the case, or
// "base:TEXT" for the first occurrence of TEXT in testdata/base/base.cue,
// at the '|' in TEXT if it has one, else at its start. Each related
// entry is "¤N" for the case's related marker N (from 0; "¤" is "¤0") or
// "base:TEXT".
type wantAt struct {
	rule, path string
	warning    bool
	at         string
	related    []string
}

// relatedCases are the mistakes a rule finds against a host fact or
// another declaration, and the names the schema takes: each names the rule, the line and the lines of the
// facts (related positions), on both compile paths. A case without wants
// must be valid.
var relatedCases = []struct {
	name string
	src  string
	want []wantAt
}{
	// vip-unicast
	{"vip unspecified", `services: s: {cluster: "dr", vip: ‸"0.0.0.0", port: 80, reals: [{host: "web1"}]}`,
		[]wantAt{{rule: "vip-unicast", path: "services.s.vip"}}},
	{"ipv6 vip unspecified", `services: s: {cluster: "dr", vip: ‸"::", port: 80, reals: [{host: "web1", address: "2001:db8::11"}]}`,
		[]wantAt{{rule: "vip-unicast", path: "services.s.vip"}}},
	{"vip multicast", `services: s: {cluster: "dr", vip: ‸"224.0.0.18", port: 80, reals: [{host: "web1"}]}`,
		[]wantAt{{rule: "vip-unicast", path: "services.s.vip"}}},
	{"ipv6 vip multicast", `services: s: {cluster: "dr", vip: ‸"ff02::1", port: 80, reals: [{host: "web1", address: "2001:db8::11"}]}`,
		[]wantAt{{rule: "vip-unicast", path: "services.s.vip"}}},
	{"vip limited broadcast", `services: s: {cluster: "dr", vip: ‸"255.255.255.255", port: 80, reals: [{host: "web1"}]}`,
		[]wantAt{{rule: "vip-unicast", path: "services.s.vip"}}},
	{"fwmark address multicast", `services: s: {cluster: "dr", fwmark: 7, addresses: ["192.0.2.7", ‸"239.1.1.1"], reals: [{host: "web1"}]}`,
		[]wantAt{{rule: "vip-unicast", path: "services.s.addresses[1]"}}},

	// vip-subnet-edge: against the first host (by name) on the subnet.
	{"vip is a subnet's network address", `services: s: {cluster: "dr", vip: ‸"10.0.0.0", port: 80, reals: [{host: "web1"}]}`,
		[]wantAt{{rule: "vip-subnet-edge", path: "services.s.vip", related: []string{`base:"10.0.0.2/24"`}}}},
	{"vip is a subnet's broadcast address", `services: s: {cluster: "dr", vip: ‸"10.0.0.255", port: 80, reals: [{host: "web1"}]}`,
		[]wantAt{{rule: "vip-subnet-edge", path: "services.s.vip", related: []string{`base:"10.0.0.2/24"`}}}},
	{"vip is the broadcast of a real servers' subnet", `services: s: {cluster: "nat", vip: ‸"10.1.0.255", port: 80, forwarding: "nat", reals: [{host: "app2"}]}`,
		[]wantAt{{rule: "vip-subnet-edge", path: "services.s.vip", related: []string{`base:"10.1.0.11/24"`}}}},
	{"vip is the broadcast of a /30 declared here", `hosts: gw1: interfaces: eth0: addresses: [¤"198.51.100.1/30"]
services: s: {cluster: "dr", vip: ‸"198.51.100.3", port: 80, reals: [{host: "web1"}]}`,
		[]wantAt{{rule: "vip-subnet-edge", path: "services.s.vip", related: []string{"¤"}}}},
	{"vip in a /31 is a host address", `hosts: gw1: interfaces: eth0: addresses: ["198.51.100.0/31"]
services: s: {cluster: "dr", vip: "198.51.100.1", port: 80, reals: [{host: "web1"}]}`,
		nil},

	// vip-host-address
	{"vip is a director's address", `services: s: {cluster: "dr", vip: ‸"10.0.0.2", port: 80, reals: [{host: "web1"}]}`,
		[]wantAt{{rule: "vip-host-address", path: "services.s.vip", related: []string{`base:"10.0.0.2/24"`}}}},
	{"vip is a real server's address", `services: s: {cluster: "dr", vip: ‸"10.0.0.11", port: 80, reals: [{host: "web2"}]}`,
		[]wantAt{{rule: "vip-host-address", path: "services.s.vip", related: []string{`base:"10.0.0.11/24"`}}}},
	{"ipv6 vip is a host's address", `services: s: {cluster: "dr", vip: ‸"2001:db8::12", port: 80, reals: [{host: "web1"}]}`,
		[]wantAt{{rule: "vip-host-address", path: "services.s.vip", related: []string{`base:"2001:db8::12/64"`}}}},
	{"fwmark address is a host's address", `services: s: {cluster: "dr", fwmark: 7, addresses: [‸"10.0.0.12"], reals: [{host: "web1"}]}`,
		[]wantAt{{rule: "vip-host-address", path: "services.s.addresses[0]", related: []string{`base:"10.0.0.12/24"`}}}},

	// real-subnet-edge: against the director's subnet.
	{"real server is the network address", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [‸{address: "10.0.0.0"}]}`,
		[]wantAt{{rule: "real-subnet-edge", path: "services.s.reals[0]", related: []string{`base:"10.0.0.2/24"`}}}},
	{"real server is the broadcast address", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1"}, ‸{address: "10.0.0.255"}]}`,
		[]wantAt{{rule: "real-subnet-edge", path: "services.s.reals[1]", related: []string{`base:"10.0.0.2/24"`}}}},
	{"nat real server is the broadcast of the inner subnet", `services: s: {cluster: "nat", vip: "192.168.1.9", port: 80, forwarding: "nat", reals: [‸{address: "10.1.0.255"}]}`,
		[]wantAt{{rule: "real-subnet-edge", path: "services.s.reals[0]", related: []string{`base:"10.1.0.1/24"`}}}},
	{"sorry server is the broadcast address", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp"}, sorry: ‸{address: "10.0.0.255"}, reals: [{host: "web1"}]}`,
		[]wantAt{{rule: "real-subnet-edge", path: "services.s.sorry", related: []string{`base:"10.0.0.2/24"`}}}},

	// real-vip
	{"real server is the vip", `services: s: {cluster: "dr", vip: ¤"10.0.0.50", port: 80, reals: [{host: "web1"}, ‸{address: "10.0.0.50"}]}`,
		[]wantAt{{rule: "real-vip", path: "services.s.reals[1]", related: []string{"¤"}}}},
	{"ipv6 real server is the vip", `services: s: {cluster: "dr", vip: ¤"2001:db8::50", port: 80, reals: [‸{address: "2001:db8::50"}]}`,
		[]wantAt{{rule: "real-vip", path: "services.s.reals[0]", related: []string{"¤"}}}},

	// real-director: lvsgen does not configure a director as a real
	// server of its own service.
	{"director is its own real server", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1"}, ‸{host: "lb1"}]}`,
		[]wantAt{{rule: "real-director", path: "services.s.reals[1]", related: []string{`base:dr: directors: [|"lb1"]`}}}},
	{"second director is a real server", `services: s: {cluster: "pair", vip: "192.0.2.9", port: 80, reals: [‸{host: "lb2"}]}`,
		[]wantAt{{rule: "real-director", path: "services.s.reals[0]", related: []string{`base:directors: ["lb1", |"lb2"]`}}}},
	{"a director of another cluster may be a real server", `clusters: c2: directors: ["far1"]
services: s: {cluster: "c2", vip: "192.0.2.9", port: 80, forwarding: "tun", reals: [{host: "lb2"}]}`,
		nil},

	// address-duplicate: at both lines, each naming the other.
	{"address on two hosts", `hosts: web3: interfaces: eth0: addresses: [‸¤"10.0.0.11/24"]`,
		[]wantAt{
			{rule: "address-duplicate", path: "hosts.web1.interfaces.eth0.addresses[0]", at: `base:"10.0.0.11/24"`, related: []string{"¤"}},
			{rule: "address-duplicate", path: "hosts.web3.interfaces.eth0.addresses[0]", related: []string{`base:"10.0.0.11/24"`}},
		}},
	{"ipv6 address on two new hosts", `hosts: a1: interfaces: eth0: addresses: [‸¤"2001:db8:1::5/64"]
hosts: a2: interfaces: eth1: addresses: ["2001:db8:1::6/64", ‸¤"2001:db8:1::5/64"]`,
		[]wantAt{
			{rule: "address-duplicate", path: "hosts.a1.interfaces.eth0.addresses[0]", related: []string{"¤1"}},
			{rule: "address-duplicate", path: "hosts.a2.interfaces.eth1.addresses[1]", related: []string{"¤0"}},
		}},
	{"loopback and link-local addresses on several hosts", `hosts: web1: interfaces: lo: addresses: ["127.0.0.1/8", "::1/128"]
hosts: web2: interfaces: lo: addresses: ["127.0.0.1/8", "::1/128"]
hosts: h1: interfaces: eth0: addresses: ["10.9.0.1/24", "fe80::1/64", "169.254.0.1/16"]
hosts: h2: interfaces: eth0: addresses: ["10.9.0.2/24", "fe80::1/64", "169.254.0.1/16"]`,
		nil},
	{"a natGateway may be declared on each director", `clusters: natpair: natGateway: "10.1.0.254"
hosts: nat1: interfaces: vrrp0: addresses: ["10.1.0.254/24"]
hosts: nat2: interfaces: vrrp0: addresses: ["10.1.0.254/24"]`,
		nil},

	// The rules of rules.cue found against a host fact name it.
	{"real server off the director's subnet", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [‸{host: "far1"}]}`,
		[]wantAt{{rule: "same-subnet", path: "services.s.reals[0]", related: []string{`base:"10.0.0.2/24"`}}}},
	{"dr real server routes through the director", `hosts: web3: {interfaces: eth0: addresses: ["10.0.0.13/24"], gateway: ¤"10.0.0.2"}
services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [‸{host: "web3"}]}`,
		[]wantAt{{rule: "dr-gateway", path: "services.s.reals[0]", related: []string{"¤", `base:"10.0.0.2/24"`}}}},
	{"nat pair without natGateway", `services: s: {cluster: "natpair", vip: "192.168.1.9", port: 80, forwarding: "nat", reals: [‸{host: "app1"}]}`,
		[]wantAt{{rule: "nat-gateway", path: "services.s.reals[0]", related: []string{`base:directors: |["nat1", "nat2"]`}}}},
	{"natGateway off the real servers' subnet", `clusters: natpair: natGateway: ¤"192.168.1.254"
services: s: {cluster: "natpair", vip: "192.168.1.9", port: 80, forwarding: "nat", reals: [‸{host: "app1"}]}`,
		[]wantAt{{rule: "nat-gateway", path: "services.s.reals[0]", related: []string{"¤"}}}},
	{"nat real server with another gateway", `hosts: app3: {interfaces: eth0: addresses: ["10.1.0.13/24"], gateway: ¤"10.1.0.99"}
services: s: {cluster: "nat", vip: "192.168.1.9", port: 80, forwarding: "nat", reals: [‸{host: "app3"}]}`,
		[]wantAt{{rule: "nat-gateway", path: "services.s.reals[0]", related: []string{"¤"}}}},
	{"client network overlaps the real servers' subnet", `clusters: nc: {directors: ["nat1"], clientNetworks: [¤"10.0.0.0/8"]}
services: s: {cluster: "nc", vip: "192.168.1.9", port: 80, forwarding: "nat", reals: [‸{host: "app1"}]}`,
		[]wantAt{{rule: "nat-clients", path: "services.s.reals[0]", related: []string{"¤", `base:"10.1.0.11/24"`}}}},
	{"real server address in a client network", `clusters: nc: {directors: ["nat1"], clientNetworks: ["192.0.2.0/24", ¤"10.1.0.0/16"]}
services: s: {cluster: "nc", vip: "192.168.1.9", port: 80, forwarding: "nat", reals: [‸{address: "10.1.0.50"}]}`,
		[]wantAt{{rule: "nat-clients", path: "services.s.reals[0]", related: []string{"¤"}}}},
	{"tunnel MTU of a real server", `hosts: far2: interfaces: eth0: {addresses: ["203.0.113.12/24"], mtu: ¤1500}
services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, forwarding: ‸"tun", reals: [{host: "far2"}]}`,
		[]wantAt{{rule: "tunnel-mtu", path: "services.s.forwarding", warning: true, related: []string{"¤"}}}},
	{"tunnel path MTU of the cluster", `clusters: t1: {directors: ["lb1"], pathMTU: ¤1500}
services: s: {cluster: "t1", vip: "192.0.2.9", port: 80, forwarding: ‸"tun", reals: [{host: "far1"}]}`,
		[]wantAt{{rule: "tunnel-mtu", path: "services.s.forwarding", warning: true, related: []string{"¤"}}}},

	{"two clusters' timeouts on one director", `clusters: t2: {directors: ["lb1"], timeouts: ‸{tcp: 600}}`,
		[]wantAt{{rule: "host-conflict", path: "clusters.t2.timeouts", related: []string{"base:dr: |directors", "base:pair: |{"}}}},
	{"two clusters' written timeouts", `clusters: t3: {directors: ["web1"], timeouts: ¤{udp: 60}}
clusters: t4: {directors: ["web1"], timeouts: ‸{udp: 30}}`,
		[]wantAt{{rule: "host-conflict", path: "clusters.t4.timeouts", related: []string{"¤"}}}},

	{"vip device missing on a director", `clusters: c: {directors: ["lb1"], vip: {bind: "interface", device: ‸"eth7"}}`,
		[]wantAt{{rule: "vip-device", path: "clusters.c.vip.device", related: []string{"base:lb1: {\n\t\tinterfaces: |eth0"}}}},
	{"address not of the host", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", address: ‸"10.0.0.12"}]}`,
		[]wantAt{{rule: "real-address-host", path: "services.s.reals[0].address", related: []string{"base:web1: {\n\t\tinterfaces: |eth0"}}}},

	// Interface names, wherever the schema takes one.
	{"interface name with a slash", `hosts: h: interfaces: ‸"eth/0": addresses: ["10.9.0.1/24"]`,
		[]wantAt{{rule: "schema", path: `hosts.h.interfaces."eth/0"`}}},
	{"interface name of 16 bytes", `hosts: h: interfaces: ‸"abcdefghijklmnop": addresses: ["10.9.0.1/24"]`,
		[]wantAt{{rule: "schema", path: "hosts.h.interfaces.abcdefghijklmnop"}}},
	{"interface name ..", `hosts: h: interfaces: ‸"..": addresses: ["10.9.0.1/24"]`,
		[]wantAt{{rule: "schema", path: `hosts.h.interfaces.".."`}}},
	{"interface name with a space", `hosts: h: interfaces: ‸"eth 1": addresses: ["10.9.0.1/24"]`,
		[]wantAt{{rule: "schema", path: `hosts.h.interfaces."eth 1"`}}},
	{"vip device alias with a colon", `clusters: c: {directors: ["lb1"], vip: {bind: "interface", device: ‸"eth0:1"}}`,
		[]wantAt{{rule: "schema", path: "clusters.c.vip.device"}}},
	{"interface names of 15 bytes, dots and @ are Linux names", `hosts: h: interfaces: {"abcdefghijklmno": addresses: ["10.9.0.1/24"], "bond0.100": addresses: ["10.9.1.1/24"], "veth1@if2": addresses: ["10.9.2.1/24"]}`,
		nil},

	// vip-bind-shared
	{"two directors bind on dummy", `clusters: c: {directors: ["lb1", "lb2"], vip: bind: ‸"dummy"}`,
		[]wantAt{{rule: "vip-bind-shared", path: "clusters.c.vip.bind", warning: true}}},
	{"two directors bind by default", `clusters: c: directors: ‸["lb1", "lb2"]`,
		[]wantAt{{rule: "vip-bind-shared", path: "clusters.c.directors", warning: true}}},
	{"two directors bind on an interface", `clusters: c: {directors: ["lb1", "lb2"], vip: {bind: ‸"interface", device: "eth0"}}`,
		[]wantAt{{rule: "vip-bind-shared", path: "clusters.c.vip.bind", warning: true}}},
}

func TestRelatedPositions(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "base", "base.cue"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range relatedCases {
		t.Run(tt.name, func(t *testing.T) {
			src, own := stripMarker(tt.src, marker, relMarker)
			src, rel := stripMarker(src, relMarker, marker)
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "base.cue"), string(base))
			writeFile(t, filepath.Join(dir, "case.cue"), "package lvs\n\n"+src+"\n")
			// The case file starts with a two-line package header.
			inCase := func(p [2]int) string { return fmt.Sprintf("case.cue:%d:%d", p[0]+2, p[1]) }
			inBase := func(spec string) string {
				text := strings.TrimPrefix(spec, "base:")
				off := strings.Index(text, "|")
				text = strings.Replace(text, "|", "", 1)
				off = max(off, 0)
				i := strings.Index(string(base), text)
				if i < 0 {
					t.Fatalf("%q is not in base.cue", text)
				}
				i += off
				line := 1 + strings.Count(string(base[:i]), "\n")
				col := i - strings.LastIndex(string(base[:i]), "\n")
				return fmt.Sprintf("base.cue:%d:%d", line, col)
			}
			type got struct {
				Rule, Path, At string
				Warning        bool
				Related        []string
			}
			var wants []got
			usedRel := map[int]bool{}
			for _, w := range tt.want {
				g := got{Rule: w.rule, Path: w.path, Warning: w.warning}
				if w.at == "" {
					if len(own) == 0 {
						t.Fatal("fewer markers than diagnostics")
					}
					g.At, own = inCase(own[0]), own[1:]
				} else {
					g.At = inBase(w.at)
				}
				for _, r := range w.related {
					if n, ok := strings.CutPrefix(r, relMarker); ok {
						i, _ := strconv.Atoi(n)
						if i >= len(rel) {
							t.Fatalf("no related marker %d", i)
						}
						g.Related = append(g.Related, inCase(rel[i]))
						usedRel[i] = true
					} else {
						g.Related = append(g.Related, inBase(r))
					}
				}
				wants = append(wants, g)
			}
			if len(own) > 0 || len(usedRel) != len(rel) {
				t.Fatalf("%d markers and %d related markers left over", len(own), len(rel)-len(usedRel))
			}
			gots := func(l diag.List) []got {
				var gs []got
				for _, d := range l {
					if d.Severity == diag.Info {
						continue
					}
					g := got{Rule: d.Rule, Path: d.Path, Warning: d.Severity == diag.Warning,
						At: fmt.Sprintf("%s:%d:%d", filepath.Base(d.Pos.File), d.Pos.Line, d.Pos.Column)}
					for _, r := range d.Related {
						if r.Message == "" {
							t.Errorf("related position without message: %+v", d)
						}
						g.Related = append(g.Related, fmt.Sprintf("%s:%d:%d", filepath.Base(r.File), r.Line, r.Col))
					}
					gs = append(gs, g)
				}
				return gs
			}
			tree, whole := compileBothWays(t, dir)
			if !tree.viaTree {
				t.Error("the case did not take the plain-data path")
			}
			for _, res := range []*Result{tree, whole} {
				if diff := cmp.Diff(wants, gots(res.Diagnostics)); diff != "" {
					t.Errorf("diagnostics, plain-data path %v (-want +got):\n%s\nall:\n%s", res.viaTree, diff, res.Diagnostics)
				}
				for _, d := range res.Diagnostics {
					if d.Message == "" || d.Hint == "" {
						t.Errorf("diagnostic without message or hint: %+v", d)
					}
				}
				if res.Valid() != !tree.Diagnostics.HasErrors() {
					t.Errorf("Valid() = %v with diagnostics %s", res.Valid(), res.Diagnostics)
				}
			}
			if diff := cmp.Diff(whole.Diagnostics, tree.Diagnostics); diff != "" {
				t.Errorf("plain-data path differs from CUE's whole evaluation (-cue +tree):\n%s", diff)
			}
		})
	}
}

// stripMarker removes every m from src and returns the 1-based line and
// column (in bytes, as CUE counts) each marked, counting as if the other
// marker (if any) were gone too.
func stripMarker(src, m, other string) (string, [][2]int) {
	var pos [][2]int
	line, col := 1, 1
	var out strings.Builder
	for len(src) > 0 {
		switch {
		case strings.HasPrefix(src, m):
			pos = append(pos, [2]int{line, col})
			src = src[len(m):]
			continue
		case other != "" && strings.HasPrefix(src, other):
			out.WriteString(other)
			src = src[len(other):]
			continue
		}
		c := src[0]
		out.WriteByte(c)
		src = src[1:]
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return out.String(), pos
}

// TestEveryAddressRuleIsTested: each rule id addresses.go reports has a
// case above, as TestEveryRuleIsTested requires of the schema's rules.
func TestEveryAddressRuleIsTested(t *testing.T) {
	src, err := os.ReadFile("addresses.go")
	if err != nil {
		t.Fatal(err)
	}
	ids := regexp.MustCompile(`addIssue\(diag\.\w+, "([a-z0-9-]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(ids) < 8 {
		t.Fatalf("found only %d rules in addresses.go", len(ids))
	}
	tested := map[string]bool{}
	for _, tt := range relatedCases {
		for _, w := range tt.want {
			tested[w.rule] = true
		}
	}
	for _, m := range ids {
		if !tested[m[1]] {
			t.Errorf("rule %s has no case in relatedCases", m[1])
		}
	}
}

// TestRelatedAfterHostsMove: a long-lived Compiler reports a related
// position where the fact is now, when only its line moved: a service's
// result is not reused with a stale position.
func TestRelatedAfterHostsMove(t *testing.T) {
	dir := t.TempDir()
	hosts := "package lvs\n\nhosts: lb1: interfaces: eth0: addresses: [\"10.0.0.2/24\"]\nclusters: dr: directors: [\"lb1\"]\n"
	writeFile(t, filepath.Join(dir, "hosts.cue"), hosts)
	writeFile(t, filepath.Join(dir, "services.cue"), "package lvs\n\nservices: s: {cluster: \"dr\", vip: \"10.0.0.2\", port: 80, reals: [{address: \"10.0.0.11\"}]}\n")
	cc := NewCompiler(Options{})
	for i, line := range []int{3, 5} {
		if i > 0 {
			writeFile(t, filepath.Join(dir, "hosts.cue"), "// moved\n// down\n"+hosts)
		}
		res, err := cc.Compile(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !res.viaTree {
			t.Fatal("not the plain-data path")
		}
		if len(res.Diagnostics) != 1 || len(res.Diagnostics[0].Related) != 1 || res.Diagnostics[0].Related[0].Line != line {
			t.Errorf("compile %d: diagnostics %s, want one with a related position on line %d: %+v", i, res.Diagnostics, line, res.Diagnostics)
		}
	}
}
