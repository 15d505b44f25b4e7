package bird_test

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/bird"
	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/model"
)

func build(t *testing.T, host string) (bird.Config, bool) {
	t.Helper()
	res, err := compiler.Compile(filepath.Join("testdata", "aa"))
	if err != nil || !res.Valid() {
		t.Fatalf("%v %s", err, res.Diagnostics)
	}
	return bird.Build(res.Config, host)
}

// TestBuild: each director announces the cluster's VIPs, read here from
// testdata/aa/site.cue by hand, with its own router id; a real server
// has nothing to announce.
func TestBuild(t *testing.T) {
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	peers := []model.BGPPeer{{Address: netip.MustParseAddr("10.20.0.1"), ASN: 65000}, {Address: netip.MustParseAddr("2001:db8:20::1"), ASN: 65000}}
	for _, tt := range []struct{ host, routerID string }{{"lb1", "10.20.0.2"}, {"lb2", "10.20.0.3"}} {
		got, ok := build(t, tt.host)
		want := bird.Config{Host: tt.host, RouterID: netip.MustParseAddr(tt.routerID), Clusters: []bird.Cluster{{
			Name: "edge-aa", ASN: 65010, Peers: peers, Device: "lvs0",
			V4: addrs("192.0.2.20", "192.0.2.21"), V6: addrs("2001:db8:100::20"),
		}}}
		if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); !ok || d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.host, d)
		}
	}
	if _, ok := build(t, "web1"); ok {
		t.Errorf("web1, a real server, has a BIRD configuration")
	}
}

// TestBirdParses renders lb1's configuration and has BIRD itself parse
// it (`bird -p -c`), and a broken copy to show the check can fail.
// Without bird (apt-get install bird2; scripts/e2e-deps.sh installs it)
// the parse is skipped with a line; the rendered text is checked anyway.
func TestBirdParses(t *testing.T) {
	c, _ := build(t, "lb1")
	var b bytes.Buffer
	if err := bird.Write(&b, c); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"router id 10.20.0.2;",
		"\tinterface \"lvs0\";",
		"define lvsgen_edge_aa_v4 = [ 192.0.2.20/32, 192.0.2.21/32 ];",
		"define lvsgen_edge_aa_v6 = [ 2001:db8:100::20/128 ];",
		"\tneighbor 10.20.0.1 as 65000;\n\tipv4 {\n\t\timport none;\n\t\texport filter lvsgen_edge_aa_v4_out;",
		"\tneighbor 2001:db8:20::1 as 65000;\n\tipv6 {\n\t\timport none;\n\t\texport filter lvsgen_edge_aa_v6_out;",
		"\tlocal as 65010;",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered configuration lacks %q:\n%s", want, text)
		}
	}
	path, err := exec.LookPath("bird")
	if err != nil {
		t.Skip("bird is not installed (apt-get install bird2): the rendered configuration is not parsed by BIRD")
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(good, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(path, "-p", "-c", good).CombinedOutput(); err != nil {
		t.Fatalf("bird -p -c: %v: %s\n%s", err, out, text)
	}
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte(strings.Replace(text, "local as 65010;", "local as;", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(path, "-p", "-c", bad).Run(); err == nil {
		t.Fatal("bird -p -c takes a broken configuration: the check above proves nothing")
	}
}
