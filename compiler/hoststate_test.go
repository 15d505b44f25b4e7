package compiler

import (
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
