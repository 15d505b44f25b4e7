package hoststate_test

import (
	"bytes"
	"flag"
	"io"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/goldentest"
	"github.com/lvsgen/lvsgen/ipvs"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/render")

// TestRenderGolden renders every managed host of examples/ as text and as
// a sysctl.d fragment and compares them with testdata/render/HOST.txt and
// HOST.sysctl, which are what `lvsgen render` printed before the renderers
// moved here from cmd/lvsgen.
func TestRenderGolden(t *testing.T) {
	res, err := compiler.Compile(filepath.Join("..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid() {
		t.Fatalf("examples/ is invalid:\n%v", res.Diagnostics)
	}
	for name, h := range res.Hosts {
		t.Run(name, func(t *testing.T) {
			golden(t, name+".txt", h, hoststate.WriteText)
			golden(t, name+".sysctl", h, hoststate.WriteSysctl)
			if len(h.NFTables) > 0 {
				golden(t, name+".nft", h, hoststate.WriteNFT)
			}
		})
	}
}

func golden(t *testing.T, name string, h *hoststate.Host, write func(io.Writer, *hoststate.Host) error) {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b, h); err != nil {
		t.Fatal(err)
	}
	goldentest.Check(t, filepath.Join("testdata", "render", name), b.Bytes(), *update)
}

// TestWriteText renders hand-built hosts: a section's alignment and
// reasons, fou listeners over both families, and a host with one section
// only (the others are left out).
func TestWriteText(t *testing.T) {
	tests := []struct {
		name string
		h    hoststate.Host
		want string
	}{
		{"fou", hoststate.Host{Name: "r", Roles: []string{"real"}, FOU: []hoststate.FOU{
			{FOU: kernel.FOU{Port: 5555}, Family: ipvs.IPv4, Reasons: []string{"service a"}},
			{FOU: kernel.FOU{Port: 5555, IPv6: true}, Family: ipvs.IPv6, Reasons: []string{"service a", "service b"}},
		}}, `host r (real)

fou listeners:
  port 5555 gue                                    # service a
  port 5555 gue -6                                 # service a, service b
`},
		{"link only", hoststate.Host{Name: "d", Roles: []string{"director"}, Links: []hoststate.Link{
			{Link: kernel.Link{Name: "lvs0", Kind: "dummy", Up: true}, Reasons: []string{"cluster c"}},
		}}, `host d (director)

links (created and up):
  lvs0 (dummy)                                     # cluster c
`},
		{"route", hoststate.Host{Name: "n", Roles: []string{"real"}, Routes: []hoststate.Route{
			{Route: kernel.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.0.0.1")}, Reasons: []string{"service a"}},
		}}, `host n (real)

routes:
  0.0.0.0/0 via 10.0.0.1                           # service a
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := hoststate.WriteText(&b, &tt.h); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
