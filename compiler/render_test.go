package compiler

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/internal/goldentest"
	"github.com/lvsgen/lvsgen/ipvs"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// TestRenderGolden compiles examples/ and compares every managed host's
// desired state with testdata/golden/HOST.json, and each director's IPVS
// rules with HOST.ipvsadm-save. The save files are checked byte for byte
// against `ipvsadm-save -n` of a real kernel by the e2e save-format oracle
// (e2e/), which loads each one with `ipvsadm -R` and reads it back; the
// JSON files were read by hand against docs/CONFIG.md.
func TestRenderGolden(t *testing.T) {
	res, err := Compile(filepath.Join("..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid() {
		t.Fatalf("examples/ is invalid:\n%v", res.Diagnostics)
	}
	if len(res.Diagnostics) > 0 {
		t.Errorf("examples/ has warnings: %v", res.Diagnostics)
	}
	var names []string
	for name := range res.Hosts {
		names = append(names, name)
	}
	slices.Sort(names)
	wantHosts := []string{"adm1", "adm2", "app1", "app2", "cache1", "cache2", "full1", "lb1", "lb2", "nat1", "tun1", "web1", "web2"}
	if diff := cmp.Diff(wantHosts, names); diff != "" {
		t.Errorf("managed hosts (-want +got):\n%s", diff)
	}
	for _, name := range names {
		h := res.Hosts[name]
		t.Run(name, func(t *testing.T) {
			js, err := json.MarshalIndent(h, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".json", append(js, '\n'))
			if len(h.Services) > 0 {
				golden(t, name+".ipvsadm-save", []byte(ipvs.SaveString(h.IPVSServices())))
			}
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldentest.Check(t, filepath.Join("testdata", "golden", name), got, *update)
}

// TestCompileDeterministic compiles the example twice: map iteration must
// not leak into the output.
func TestCompileDeterministic(t *testing.T) {
	a, err := Compile(filepath.Join("..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(filepath.Join("..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a.Hosts)
	jb, _ := json.Marshal(b.Hosts)
	if !bytes.Equal(ja, jb) {
		t.Error("two compilations of examples/ differ")
	}
}

// TestRenderOrderStable: with VIPs spread over the whole address space
// ipvsadm's comparison is not a total order, so the render must not depend
// on map iteration (it did, and gave three orders in twelve runs).
func TestRenderOrderStable(t *testing.T) {
	dir := t.TempDir()
	src := `package t
hosts: lb: interfaces: eth0: addresses: ["10.0.0.2/24"]
hosts: rs: interfaces: eth0: addresses: ["10.0.0.11/24"]
clusters: c: directors: ["lb"]
services: a: {cluster: "c", vip: "10.0.0.100", port: 80, reals: [{host: "rs"}]}
services: b: {cluster: "c", vip: "100.0.0.1", port: 80, reals: [{host: "rs"}]}
services: d: {cluster: "c", vip: "200.0.0.1", port: 80, reals: [{host: "rs"}]}
`
	if err := os.WriteFile(filepath.Join(dir, "a.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var first string
	for i := 0; i < 20; i++ {
		res, err := Compile(dir)
		if err != nil || !res.Valid() {
			t.Fatalf("%v %v", err, res.Diagnostics)
		}
		got := ipvs.SaveString(res.Hosts["lb"].IPVSServices())
		if i == 0 {
			first = got
		} else if got != first {
			t.Fatalf("render %d differs:\n%s\nfirst:\n%s", i, got, first)
		}
	}
}
