package importer

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/ipvs"
)

// TestRoundTripOfRenders imports what lvsgen renders for the directors of
// examples/ and of the generated config the e2e save-format oracle loads
// into the real kernel (e2e/compile/testdata/oracle: every scheduler, flag,
// persistence option, tunnel type, IPv6 and fwmark), and requires the
// import to render back byte for byte.
func TestRoundTripOfRenders(t *testing.T) {
	for _, dir := range []string{"../examples", "../e2e/compile/testdata/oracle"} {
		res, err := compiler.Compile(dir)
		if err != nil || !res.Valid() {
			t.Fatalf("%s: %v %v", dir, err, res.Diagnostics)
		}
		for name, h := range res.Hosts {
			if len(h.Services) == 0 {
				continue
			}
			t.Run(filepath.Base(dir)+"/"+name, func(t *testing.T) {
				var svcs []ipvs.Service
				for _, s := range h.Services {
					svcs = append(svcs, s.Service)
				}
				capture := ipvs.SaveString(svcs)
				imp, err := FromSave(strings.NewReader(capture), Options{Director: name, Source: name + ".save"})
				if err != nil {
					t.Fatalf("import: %v", err)
				}
				if len(imp.Skipped) > 0 {
					t.Errorf("skipped %v", imp.Skipped)
				}
				if diff := cmp.Diff(capture, render(t, imp)); diff != "" {
					t.Errorf("not a round trip (-capture +render of the import):\n%s", diff)
				}
			})
		}
	}
}
