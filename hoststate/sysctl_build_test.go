package hoststate_test

import (
	"path/filepath"
	"testing"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/hoststate"
)

// TestBuildSetsOnlyManagedSysctls holds ManagedSysctl to what Build
// makes: every sysctl of every host of the bundled example and the e2e
// configs (directors of every mode, real servers with ARP settings and
// tunnel devices) must be one it accepts.
func TestBuildSetsOnlyManagedSysctls(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "e2e", "*", "testdata", "*"))
	dirs = append(dirs, filepath.Join("..", "examples"))
	n := 0
	for _, dir := range dirs {
		res, err := compiler.Compile(dir)
		if err != nil || !res.Valid() {
			continue // not a config directory, or one of the invalid ones
		}
		for name, h := range res.Hosts {
			for _, s := range h.Sysctls {
				n++
				if !hoststate.ManagedSysctl(s.Key) {
					t.Errorf("%s: host %s: Build sets %s, which ManagedSysctl refuses", dir, name, s.Key)
				}
			}
		}
	}
	if n < 50 {
		t.Fatalf("only %d sysctls built: the test checks too little", n)
	}
}
