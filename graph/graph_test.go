package graph

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/model"
)

// config is a cluster "c" of director lb1 with n DR services of two real
// servers each, and a NAT cluster "n" with one service.
func config(n int) *model.Config {
	cfg := &model.Config{Clusters: map[string]*model.Cluster{
		"c": {Name: "c", Directors: []string{"lb1"}},
		"n": {Name: "n", Directors: []string{"nat1"}, NATGateway: netip.MustParseAddr("10.2.0.1")},
	}}
	for i := range n {
		cfg.Services = append(cfg.Services, &model.Service{Name: fmt.Sprintf("s%05d", i), Cluster: "c", VIP: netip.MustParseAddr("192.0.2.1"),
			Port: uint16(1000 + i), Forwarding: "dr", Scheduler: "wrr", Reals: []model.Real{{Host: "web1", Weight: 1}, {Host: "web2", Weight: 2}}})
	}
	cfg.Services = append(cfg.Services, &model.Service{Name: "api", Cluster: "n", VIP: netip.MustParseAddr("192.0.2.2"), Port: 80,
		Forwarding: "nat", Scheduler: "rr", Reals: []model.Real{{Address: netip.MustParseAddr("10.2.0.11"), Port: 8080, Weight: 1}}})
	return cfg
}

// TestCompare: added, removed and changed nodes and edges, the old label
// kept on a changed one.
func TestCompare(t *testing.T) {
	base, head := config(2), config(2)
	head.Services[0].Scheduler = "wlc"
	head.Services[1].Reals = head.Services[1].Reals[:1]
	head.Services[2].Reals[0].Weight = 5
	head.Clusters["c"].Directors = []string{"lb1", "lb2"}
	g := Compare(Build(base), Build(head))
	var got []string
	for _, n := range g.Nodes {
		if n.Status != Same {
			got = append(got, fmt.Sprintf("%s %s %q", n.Status, n.ID, n.Lines))
		}
	}
	for _, e := range g.Edges {
		if e.Status != Same {
			got = append(got, fmt.Sprintf("%s %s->%s %q", e.Status, e.From, e.To, e.Label))
		}
	}
	want := []string{
		`added director:lb2 ["lb2"]`,
		`changed service:s00000 ["s00000" "tcp 192.0.2.1:1000" "dr wlc" "was: dr wrr"]`,
		`added cluster:c->director:lb2 ""`,
		`changed service:api->real:10.2.0.11 "w1 :8080 → w5 :8080"`,
		`removed service:s00001->real:web2 "w2"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("differences (-want +got):\n%s", diff)
	}
	if !g.Changed() || Compare(Build(base), Build(base)).Changed() {
		t.Error("Changed: wrong")
	}
}

// TestFocusBig: on 10,000 services a change to one draws that service,
// its cluster, directors and real servers, and one node counting the
// rest; a graph of the whole config, or of 10,000 changes, stays within
// the limit.
func TestFocusBig(t *testing.T) {
	base, head := config(10000), config(10000)
	head.Services[42].Scheduler = "wlc"
	f := Focus(Compare(Build(base), Build(head)), MaxEdges, true)
	var b strings.Builder
	if err := WriteMermaid(&b, f); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"s00042", "9999 unchanged services", "web1", "web2", "class n"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("no %q in\n%s", w, b.String())
		}
	}
	if len(f.Edges) != 5 {
		t.Errorf("%d edges, want 5 (cluster to director, to service, to the summary; two real servers):\n%s", len(f.Edges), b.String())
	}

	all := Focus(Build(head), MaxEdges, false)
	if len(all.Edges) > MaxEdges+2 || !strings.Contains(fmt.Sprint(all.Nodes), "10000 services not drawn") {
		t.Errorf("whole config: %d edges, nodes %v", len(all.Edges), all.Nodes)
	}
	for i := range head.Services[:10000] {
		head.Services[i].Scheduler = "lc"
	}
	many := Focus(Compare(Build(base), Build(head)), MaxEdges, true)
	if len(many.Edges) > MaxEdges+2 || !strings.Contains(fmt.Sprint(many.Nodes), "more changed edges not drawn") {
		t.Errorf("10,000 changes: %d edges", len(many.Edges))
	}
}

// TestRenderMarks: NAT gateways, tunnels, weights and the colours of a
// change in both renderings.
func TestRenderMarks(t *testing.T) {
	base, head := config(1), config(1)
	head.Services[0].Forwarding = "tun"
	head.Services[0].Tunnel = &model.Tunnel{Type: "gue", Port: 6080}
	g := Compare(Build(base), Build(head))
	var m, d strings.Builder
	if err := WriteMermaid(&m, g); err != nil {
		t.Fatal(err)
	}
	if err := WriteDOT(&d, g); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`NAT gateway 10.2.0.1`, `-.->|"w1"|`, `tun gue wrr<br>was: dr wrr`, `classDef changed`, `w1 :8080`, `n0[["cluster c"]]`} {
		if !strings.Contains(m.String(), w) {
			t.Errorf("mermaid: no %q in\n%s", w, m.String())
		}
	}
	for _, w := range []string{`"service:s00000" -> "real:web1" [label="w1" color="#9a6700" penwidth=2 style=dotted]`, `fillcolor="#fff1c2"`, `label="cluster n\nNAT gateway 10.2.0.1" shape=folder`} {
		if !strings.Contains(d.String(), w) {
			t.Errorf("dot: no %q in\n%s", w, d.String())
		}
	}
}
