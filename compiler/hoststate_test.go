package compiler

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsgen/lvsgen/hoststate"
)

// TestHostStatesAreBuild: the Compiler's host states, built on every core
// and kept between compiles, equal hoststate.Build's of the same config,
// on the first compile and on a second one that reuses them.
func TestHostStatesAreBuild(t *testing.T) {
	addrs := cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{})
	for _, dir := range []string{filepath.Join("..", "examples"), filepath.Join("testdata", "base")} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cc := NewCompiler(Options{})
			for i := range 2 {
				res, err := cc.Compile(dir)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Valid() {
					t.Fatalf("%s is invalid: %v", dir, res.Diagnostics)
				}
				want, conflicts := hoststate.Build(res.Config)
				if len(conflicts) > 0 {
					t.Errorf("compile %d: Build found conflicts in a valid config: %v", i, conflicts)
				}
				if diff := cmp.Diff(want, res.Hosts, addrs); diff != "" {
					t.Errorf("compile %d: host states (-Build +Compiler):\n%s", i, diff)
				}
			}
		})
	}
}

// TestFWMarkServiceAddresses: a director's fwmark service carries the
// addresses its mark covers (not in the JSON form), which the health
// overlay reads to withdraw an announced address; a VIP service none.
func TestFWMarkServiceAddresses(t *testing.T) {
	res, err := Compile(filepath.Join("..", "examples"))
	if err != nil || !res.Valid() {
		t.Fatalf("examples/: %v %v", err, res.Diagnostics)
	}
	var marked int
	for _, s := range res.Hosts["lb1"].Services {
		switch {
		case s.FWMark != 0:
			marked++
			if got := fmt.Sprint(s.Addresses); got != "[192.0.2.11]" {
				t.Errorf("%s: addresses %s, want [192.0.2.11] (examples/services-edge.cue)", s.Name, got)
			}
		case s.Addresses != nil:
			t.Errorf("%s, a VIP service: addresses %v", s.Name, s.Addresses)
		}
	}
	if marked != 1 {
		t.Errorf("lb1 has %d fwmark services, want 1 (edge-marked)", marked)
	}
}
