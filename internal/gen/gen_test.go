package gen

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsgen/lvsgen/compiler"
)

// TestDirectorIsWhatTheCompilerMakes holds the shortcut to the real
// compiler: Director's lb1 equals compiler.Compile's lb1 of the config
// Files writes, at a size that covers every scheduler, both protocols,
// persistence and real servers shared between services.
func TestDirectorIsWhatTheCompilerMakes(t *testing.T) {
	const services, reals = 200, 10
	dir := t.TempDir()
	if err := Write(dir, services, reals); err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid() {
		t.Fatalf("generated config invalid: %v", res.Diagnostics)
	}
	want := res.Hosts["lb1"]
	got := Director(services, reals)
	if d := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("Director(%d, %d) differs from the compiler's lb1 (-compiler +Director):\n%s", services, reals, d)
	}
}
