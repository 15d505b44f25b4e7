package compiler

import (
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsgen/lvsgen/internal/gen"
)

// TestPathsAgree compiles valid configs both ways — as plain data, service
// by service on every core, and as one CUE instance — and requires the
// same model, host states and diagnostics. TestInvalidConfigs does the
// same for invalid ones. Every field of the model must be set by some
// service compared, so that a new field is held equal too.
func TestPathsAgree(t *testing.T) {
	dirs := []string{filepath.Join("..", "examples")}
	// The e2e suites' configs: every mode, family and tunnel kind.
	for _, pattern := range []string{"../e2e/compile/testdata/*", "../e2e/compile/testdata/oracle/*"} {
		m, _ := filepath.Glob(pattern)
		for _, d := range m {
			if files, _ := filepath.Glob(filepath.Join(d, "*.cue")); len(files) > 0 {
				dirs = append(dirs, d)
			}
		}
	}
	generated := t.TempDir()
	if err := gen.Write(generated, 300, 10); err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, generated)
	// What no example sets: a service's drain timeout and waivers, health
	// checks.
	extra := t.TempDir()
	base, err := os.ReadFile(filepath.Join("testdata", "base", "base.cue"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(extra, "base.cue"), base, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(extra, "extra.cue"), []byte(`package lvs

// A fullnat service with its own source address.
services: "full-snat": {
	cluster: "nat"
	vip: "192.168.1.20"
	port: 80
	forwarding: "fullnat"
	snat: "10.1.0.1"
	reals: [{host: "app1", port: 8080}, {host: "app2", port: 8080}]
}

services: waived: {
	cluster: "dr"
	vip: "192.0.2.9"
	port: 443
	drainTimeout: "1m30s"
	waive: {"ha-reals": "one is enough here"}
	reals: [{host: "web1"}]
}

// Health checks of every type, inherited and overridden, with a sorry
// server, a quorum and its hysteresis.
hosts: maint1: interfaces: eth0: addresses: ["10.0.0.20/24"]
services: checked: {
	cluster: "dr"
	vip: "192.0.2.10"
	port: 443
	check: {type: "https", port: 8443, interval: "10s", timeout: "2s", rise: 3, fall: 4, initial: "down", onFailure: "remove",
		path: "/healthz", host: "www.example.com", expect: [200, 204], body: "ok", serverName: "www.example.com", verify: true}
	sorry: {host: "maint1"}
	quorum: 2
	hysteresis: 1
	reals: [{host: "web1", weight: 2}, {host: "web2", check: {type: "tcp"}}]
}
services: "checked-udp": {
	cluster: "dr"
	vip: "192.0.2.10"
	protocol: "udp"
	port: 53
	check: {type: "dns", query: "example.com.", queryType: "AAAA", answer: "2001:db8::1"}
	reals: [{host: "web1", check: {type: "udp", send: "ping", receive: "pong"}}, {host: "web2"}]
}
services: "checked-sip": {
	cluster: "dr"
	vip: "192.0.2.12"
	protocol: "udp"
	port: 5060
	check: {type: "udp", send: "OPTIONS sip:ping SIP/2.0\r\n\r\n", receive: "SIP/2.0 200"}
	reals: [{host: "web1"}]
}
services: "checked-exec": {
	cluster: "dr"
	vip: "192.0.2.11"
	port: 25
	check: {type: "exec", command: ["/usr/local/bin/smtp-ok", "--quick"], user: "nobody"}
	reals: [{host: "web1"}, {host: "web2", check: {type: "none"}}]
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, extra)
	if len(dirs) < 10 {
		t.Fatalf("only %d configs found: %v", len(dirs), dirs)
	}
	addrs := cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{})
	// set records the model's fields that some service compared here
	// sets: a field no config sets is not held equal by this test.
	set := map[string]bool{}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tree, whole := compileBothWays(t, dir)
			if !tree.viaTree {
				t.Skip("not plain data")
			}
			if tree.Config != nil {
				for _, s := range tree.Config.Services {
					walkFields(reflect.ValueOf(*s), "Service", func(p string, zero bool) { set[p] = set[p] || !zero })
				}
			}
			if diff := cmp.Diff(whole.Diagnostics, tree.Diagnostics); diff != "" {
				t.Errorf("diagnostics (-whole +tree):\n%s", diff)
			}
			if diff := cmp.Diff(whole.Config, tree.Config, addrs); diff != "" {
				t.Errorf("model (-whole +tree):\n%s", diff)
			}
			if diff := cmp.Diff(whole.Hosts, tree.Hosts, addrs); diff != "" {
				t.Errorf("host states (-whole +tree):\n%s", diff)
			}
		})
	}
	for _, p := range slices.Sorted(maps.Keys(set)) {
		if !set[p] {
			t.Errorf("no config compared here sets %s: add a service that does", p)
		}
	}
}

// compileBothWays compiles dir as Compile does (as plain data when it
// is) and, the reference, as one CUE instance.
func compileBothWays(t *testing.T, dir string) (tree, whole *Result) {
	t.Helper()
	tree, err := Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	whole, err = CompileWith(dir, Options{wholeCUE: true})
	if err != nil {
		t.Fatal(err)
	}
	if whole.viaTree {
		t.Fatal("wholeCUE compile read a tree")
	}
	return tree, whole
}

// TestPathsAgreeParallel breaks services in several files of a config
// large enough to be compiled on several goroutines, and requires the
// same diagnostics, in the same order, as the whole-CUE evaluation. (A
// misspelt field and an out-of-range port in one service are left out:
// CUE reports the port only, the tree both.)
func TestPathsAgreeParallel(t *testing.T) {
	dir := t.TempDir()
	if err := gen.Write(dir, 300, 10); err != nil {
		t.Fatal(err)
	}
	edit := func(name, old, new string) {
		t.Helper()
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s has no %q", name, old)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("services-0000.cue", "weight: 1}", "weight: -1}")
	edit("services-0001.cue", `host: "rs1"`, `host: "rs-none"`)
	edit("services-0002.cue", "scheduler:", "schedular:")
	edit("services-0001.cue", "port: 8", "port: 7000008")
	tree, whole := compileBothWays(t, dir)
	if tree.Valid() || !tree.viaTree {
		t.Fatalf("valid %v, via tree %v", tree.Valid(), tree.viaTree)
	}
	if len(tree.Diagnostics) < 4 {
		t.Errorf("only %d diagnostics: %v", len(tree.Diagnostics), tree.Diagnostics)
	}
	if diff := cmp.Diff(whole.Diagnostics, tree.Diagnostics); diff != "" {
		t.Errorf("diagnostics (-whole +tree):\n%s", diff)
	}
}
