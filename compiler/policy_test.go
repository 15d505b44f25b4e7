package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/diag"
)

// policyBase is a valid config with two directors per cluster, two real
// servers per service, drain timeouts and addresses inside 10/8 and
// 192.0.2/24: it passes every bundled pack, and each case breaks one rule.
const policyBase = `package lvs

hosts: {
	lb1: interfaces: eth0: addresses: ["10.0.0.2/24"]
	lb2: interfaces: eth0: addresses: ["10.0.0.3/24"]
	web1: interfaces: eth0: addresses: ["10.0.0.11/24"]
	web2: interfaces: eth0: addresses: ["10.0.0.12/24"]
	box: {managed: false, interfaces: eth0: addresses: ["10.0.0.50/24"]}
}
clusters: dr: {directors: ["lb1", "lb2"], vip: bind: "none", drainTimeout: "2m"}
policySettings: ranges: {vips: ["192.0.2.0/24"], reals: ["10.0.0.0/8"]}
services: ok: {cluster: "dr", vip: "192.0.2.1", port: 80, reals: [{host: "web1"}, {host: "web2"}]}
`

var policyCases = []struct {
	name   string
	src    string
	policy string // a user policy directory's file, enabled as ./org
	want   []want
	info   int // waived violations expected
}{
	{"all bundled packs pass", `policies: ["ha", "safe-drain", "ranges", "dr-arp"]`, "", nil, 0},
	{"ha-reals", `policies: ["ha"]
services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: ‸[{host: "web1"}, {host: "web2", weight: 0}]}`, "",
		[]want{{"ha-reals", "services.s.reals", false}}, 0},
	{"ha-directors", `policies: ["ha"]
clusters: one: {directors: ‸["lb1"], vip: bind: "none"}`, "",
		[]want{{"ha-directors", "clusters.one.directors", false}}, 0},
	{"drain-timeout", `policies: ["safe-drain"]
clusters: nod: {directors: ["lb1", "lb2"], vip: bind: "none"}
services: s: ‸{cluster: "nod", vip: "192.0.2.9", port: 80, reals: [{host: "web1"}, {host: "web2"}]}
services: u: {cluster: "nod", vip: "192.0.2.9", protocol: "udp", port: 53, reals: [{host: "web1"}, {host: "web2"}]}`, "",
		[]want{{"drain-timeout", "services.s.drainTimeout", false}}, 0},
	{"drain-timeout zero on the service", `policies: ["safe-drain"]
services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, drainTimeout: ‸"0s", reals: [{host: "web1"}, {host: "web2"}]}`, "",
		[]want{{"drain-timeout", "services.s.drainTimeout", false}}, 0},
	{"vip-range", `policies: ["ranges"]
services: s: {cluster: "dr", vip: ‸"198.51.100.9", port: 80, reals: [{host: "web1"}, {host: "web2"}]}`, "",
		[]want{{"vip-range", "services.s.vip", false}}, 0},
	{"vip-range on fwmark addresses", `policies: ["ranges"]
services: s: {cluster: "dr", fwmark: 3, addresses: ["192.0.2.7", ‸"198.51.100.9"], reals: [{host: "web1"}, {host: "web2"}]}`, "",
		[]want{{"vip-range", "services.s.addresses[1]", false}}, 0},
	{"real-range", `policies: ["ranges"]
hosts: odd: interfaces: eth0: addresses: ["10.0.0.99/24", "172.31.0.9/24"]
services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, forwarding: "tun", reals: [{host: "web1"}, ‸{address: "172.31.0.9"}]}`, "",
		[]want{{"real-range", "services.s.reals[1]", false}}, 0},
	{"dr-real-managed: unmanaged host and bare address", `policies: ["dr-arp"]
services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1"}, ‸{host: "box"}, ‸{address: "10.0.0.60"}]}`, "",
		[]want{{"dr-real-managed", "services.s.reals[1]", false}, {"dr-real-managed", "services.s.reals[2]", false}}, 0},
	{"dr-real-managed ignores nat", `policies: ["dr-arp"]
hosts: n1: interfaces: {eth0: addresses: ["192.0.2.200/24"], eth1: addresses: ["10.0.0.1/24"]}
clusters: nat: directors: ["n1"]
services: s: {cluster: "nat", vip: "192.0.2.9", port: 80, forwarding: "nat", reals: [{host: "web1"}, {address: "10.0.0.60"}]}`, "",
		nil, 0},
	{"waiver", `policies: ["ha"]
services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, waive: {"ha-reals": "a single licensed appliance"}, reals: [{host: "box"}]}`, "",
		nil, 1},
	{"waiver for an unknown rule warns", `policies: ["ha"]
services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, waive: ‸{"ha-realz": "typo"}, reals: [{host: "web1"}, {host: "web2"}]}`, "",
		[]want{{"waive", "services.s.waive", true}}, 0},
	{"user policy, deny and warn", `policies: ["./org"]
services: "web-s": {cluster: "dr", vip: "192.0.2.9", port: 80, scheduler: ‸"rr", reals: [{host: "web1"}, {host: "web2"}]}
services: "tmp-web": ‸{cluster: "dr", vip: "192.0.2.8", port: 80, reals: [{host: "web1"}, {host: "web2"}]}`,
		`package org

import "strings"

rules: "no-rr": {
	severity: "warn"
	message:  "use wrr or wlc, which respect weights"
	violations: [for s in model.services if s.scheduler == "rr" {service: s.name, path: "scheduler"}]
}
rules: "service-names": {
	severity: "deny"
	message:  "no temporary services in production"
	violations: [for s in model.services if strings.HasPrefix(s.name, "tmp-") {service: s.name}]
}
`,
		[]want{{"no-rr", "services.\"web-s\".scheduler", true}, {"service-names", "services.\"tmp-web\"", false}}, 0},
	{"unknown pack", `policies: ‸["hа"]`, "", []want{{"policy", "policies", false}}, 0},
	{"policy directory above the config", `policies: ‸["../shared"]`, "", []want{{"policy", "policies", false}}, 0},
	{"absolute policy directory", `policies: ‸["/etc/lvsgen-policies"]`, "", []want{{"policy", "policies", false}}, 0},
}

func TestPolicies(t *testing.T) {
	for _, tt := range policyCases {
		t.Run(tt.name, func(t *testing.T) {
			src, positions := stripMarkers(tt.src)
			if len(positions) != len(tt.want) {
				t.Fatalf("%d markers for %d expected diagnostics", len(positions), len(tt.want))
			}
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "base.cue"), policyBase)
			writeFile(t, filepath.Join(dir, "case.cue"), "package lvs\n\n"+src+"\n")
			if tt.policy != "" {
				if err := os.Mkdir(filepath.Join(dir, "org"), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "org", "org.cue"), tt.policy)
			}
			res, err := Compile(dir)
			if err != nil {
				t.Fatal(err)
			}
			checkDiagnostics(t, res.Diagnostics, tt.want, positions)
			info := 0
			for _, d := range res.Diagnostics {
				if d.Severity == diag.Info {
					info++
				}
			}
			if info != tt.info {
				t.Errorf("%d waived, want %d: %v", info, tt.info, res.Diagnostics)
			}
		})
	}
}

// TestPolicyRulesListed: the rules in force name their source.
func TestPolicyRulesListed(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "base.cue"), policyBase)
	writeFile(t, filepath.Join(dir, "case.cue"), "package lvs\npolicies: [\"ha\", \"dr-arp\"]\n")
	res, err := Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range res.Rules {
		ids = append(ids, r.ID+" "+r.Severity+" "+r.Source)
	}
	want := []string{"ha-reals deny bundled pack ha", "ha-directors deny bundled pack ha", "dr-real-managed deny bundled pack dr-arp"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}

// TestPolicyDirOutsideRefused: a policy directory the config names that
// leads out of the config directory — "..", absolute, or a symlink out —
// is refused with a message saying why, and its rules are not loaded.
func TestPolicyDirOutsideRefused(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "deny.cue"), "package x\n\nrules: never: {severity: \"deny\", message: \"m\", violations: [{path: \"\"}]}\n")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "base.cue"), policyBase)
	writeFile(t, filepath.Join(dir, "case.cue"), "package lvs\n\npolicies: [\"./linked\"]\n")
	if err := os.Symlink(outside, filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	res, err := Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, d := range res.Diagnostics {
		msgs = append(msgs, d.Message)
	}
	if len(res.Diagnostics) != 1 || !strings.Contains(msgs[0], "outside the config directory") {
		t.Fatalf("diagnostics %q, want one saying the policy directory is outside", msgs)
	}
}
