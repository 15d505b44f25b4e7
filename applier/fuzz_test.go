package applier

import (
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsgen/lvsgen/plan"
)

// FuzzLoadState feeds LoadState arbitrary bytes as a state file: it never
// panics, and a state it accepts saves and loads back equal — a state
// file lvsgen reads is one it could have written.
func FuzzLoadState(f *testing.F) {
	f.Add(`{"version": 1, "host": "lb1", "services": [], "links": ["lvs0"], "sysctls": {"net.ipv4.ip_forward": "0"}}`)
	f.Add(`{"version": 1, "host": "lb1", "addresses": [{"device": "lvs0", "prefix": "192.0.2.10/32"}], "routes": [{"dst": "0.0.0.0/0", "gateway": "10.1.0.1", "previous": "10.1.0.254"}], "fous": [{"port": 5555, "ipv6": false}]}`)
	f.Add(`{"version": 1, "host": "lb1", "drains": [{"service": {"family": "ipv4", "protocol": "tcp", "address": "192.0.2.10", "port": 80}, "destination": "10.0.0.13:80", "weight": 4, "since": "2026-11-23T12:00:00Z"}]}`)
	f.Add(`null`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, body string) {
		dir := t.TempDir()
		if err := os.WriteFile(StatePath(dir, "lb1"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := LoadState(dir, "lb1")
		if err != nil {
			return
		}
		if err := SaveState(dir, st); err != nil {
			t.Fatalf("saving a state LoadState accepted: %v", err)
		}
		again, err := LoadState(dir, "lb1")
		if err != nil {
			t.Fatalf("loading a state SaveState wrote: %v", err)
		}
		if diff := cmp.Diff(st, again, cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(plan.State{}), cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{})); diff != "" {
			t.Fatalf("state changed through a save (-loaded +again):\n%s", diff)
		}
	})
}
