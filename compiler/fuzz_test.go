package compiler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"net/netip"
)

// FuzzPathsAgree compiles testdata/base with one more service, whose body
// is the fuzzer's, both ways — as plain data when it is, and as one CUE
// instance — and requires them to agree: valid or not alike, and, when
// valid, the same model and host states. (Their diagnostics may differ
// when one service has several mistakes: see doc.go.) It also requires
// that nothing panics and that a compile never fails as a whole for what
// a file holds.
func FuzzPathsAgree(f *testing.F) {
	for _, body := range []string{
		`cluster: "dr", vip: "192.0.2.50", port: 80, reals: [{host: "web1"}]`,
		`cluster: "dr", vip: "192.0.2.50", port: 80, scheduler: "wrr", reals: [{host: "web1", weight: 3}, {host: "web2"}]`,
		`cluster: "dr", vip: "192.0.2.50", protocol: "udp", port: 53, onePacket: true, reals: [{host: "web1"}]`,
		`cluster: "dr", fwmark: 9, addresses: ["192.0.2.51"], scheduler: "mh", reals: [{host: "web1"}, {host: "web2"}]`,
		`cluster: "dr", vip: "192.0.2.50", port: 443, persistence: {timeout: 300, netmask: 24}, reals: [{host: "web1"}]`,
		`cluster: "dr", vip: "2001:db8::50", port: 80, reals: [{host: "web1"}]`,
		`cluster: "dr", vip: "192.0.2.50", port: 80, check: {type: "http", path: "/h"}, reals: [{host: "web1"}]`,
		`cluster: "dr", vip: "192.0.2.50", port: 80, reals: [{host: "web1", port: 8080}]`,
		`cluster: "nope", vip: "192.0.2.50", port: 80, reals: [{host: "web1"}]`,
		`cluster: "dr", vip: "192.0.2.50", port: 99999, reals: [{host: "web1"}]`,
	} {
		f.Add(body)
	}
	base, err := os.ReadFile(filepath.Join("testdata", "base", "base.cue"))
	if err != nil {
		f.Fatal(err)
	}
	addrs := cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{})
	f.Fuzz(func(t *testing.T, body string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "base.cue"), base, 0o644); err != nil {
			t.Fatal(err)
		}
		svc := "package lvs\n\nservices: fuzzed: {" + body + "}\n"
		if err := os.WriteFile(filepath.Join(dir, "fuzzed.cue"), []byte(svc), 0o644); err != nil {
			t.Fatal(err)
		}
		tree, whole := compileBothWays(t, dir)
		if tree.Valid() != whole.Valid() {
			t.Fatalf("plain data valid: %v, whole CUE valid: %v\nplain data:\n%v\nwhole CUE:\n%v", tree.Valid(), whole.Valid(), tree.Diagnostics, whole.Diagnostics)
		}
		if !tree.Valid() {
			return
		}
		if diff := cmp.Diff(whole.Config, tree.Config, addrs); diff != "" {
			t.Fatalf("model (-whole +tree):\n%s", diff)
		}
		if diff := cmp.Diff(whole.Hosts, tree.Hosts, addrs); diff != "" {
			t.Fatalf("host states (-whole +tree):\n%s", diff)
		}
	})
}
