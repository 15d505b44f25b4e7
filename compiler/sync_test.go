package compiler

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/model"
)

// syncCases each add a cluster's sync to testdata/base, with the
// diagnostics the compiler must give, on both compile paths: rule, path
// and position (the markers), and a part of the first message.
var syncCases = []baseCase{
	{"valid pair", `clusters: pair: sync: {id: 51, interface: "eth0"}`, nil, ""},
	{"a group that is not multicast", `clusters: pair: sync: {id: 51, interface: "eth0", group: ‸"10.0.0.99"}`,
		[]want{{"sync-group", "clusters.pair.sync.group", false}}, "cluster pair's sync group 10.0.0.99 is not a multicast address"},
	{"an interface the directors lack", `clusters: pair: sync: {id: 51, interface: ‸"eth1"}`,
		[]want{{"sync-interface", "clusters.pair.sync.interface", false}, {"sync-interface", "clusters.pair.sync.interface", false}}, "director lb1 has no interface eth1 for cluster pair's sync"},
	{"a state for a host that is not a director", `clusters: pair: sync: {id: 51, interface: "eth0", states: {lb1: "master", web1: ‸"backup"}}`,
		[]want{{"sync-interface", "clusters.pair.sync.states.web1", false}}, "web1 has a sync state but is not a director of cluster pair"},
	{"directors on no shared subnet", `clusters: far: {directors: ["lb1", "far1"], vip: bind: "none", sync: {id: 3, interface: ‸"eth0"}}`,
		[]want{{"sync-subnet", "clusters.far.sync.interface", false}}, "directors lb1 and far1 of cluster far share no IPv4 subnet on eth0, and the sync group 224.0.0.81 with ttl 1 does not leave a subnet"},
	{"directors on no shared subnet, with a routed group", `clusters: far: {directors: ["lb1", "far1"], vip: bind: "none", sync: {id: 3, interface: "eth0", group: "239.1.1.1", ttl: 8}}`, nil, ""},
	{"one sync id on a shared subnet", `clusters: {
	pair: sync: {id: 9, interface: "eth0"}
	web: {directors: ["web1"], sync: {id: ‸9, interface: "eth0"}}
}`, []want{{"sync-id", "clusters.web.sync.id", false}}, "clusters pair and web both sync with id 9 to 224.0.0.81 port 8848 on subnet 10.0.0.0/24 (lb1 eth0, web1 eth0)"},
	{"one sync id on separate subnets", `clusters: {
	pair: sync: {id: 9, interface: "eth0"}
	natpair: sync: {id: 9, interface: "eth1"}
}`, nil, ""},
	{"messages larger than the MTU", `hosts: lb1: interfaces: eth0: mtu: 1400
clusters: pair: sync: {id: 51, interface: "eth0", maxlen: ‸1450}`,
		[]want{{"sync-mtu", "clusters.pair.sync.maxlen", false}}, "cluster pair's sync messages of 1478 bytes with their headers do not fit director lb1's eth0 MTU of 1400"},
	{"a small MTU and the master's default", `hosts: lb1: interfaces: eth0: mtu: 1400
clusters: pair: sync: ‸{id: 51, interface: "eth0", states: lb2: "backup"}`,
		[]want{{"sync-mtu", "clusters.pair.sync", false}}, "director lb1's eth0 has an MTU of 1400, but the kernel sizes a master's sync messages for 1500 bytes"},
	{"a backup's maxlen the kernel raises", `clusters: pair: sync: {id: 51, interface: "eth0", maxlen: ‸600}`,
		[]want{{"sync-maxlen", "clusters.pair.sync.maxlen", false}}, "cluster pair's sync maxlen 600 is below 1024"},
	{"a small maxlen on masters only", `clusters: pair: sync: {id: 51, interface: "eth0", state: "master", maxlen: 600}`, nil, ""},
	{"sync id 0", `clusters: pair: sync: {id: ‸0, interface: "eth0"}`,
		[]want{{"schema", "clusters.pair.sync.id", false}}, ""},
	{"an unknown state", `clusters: pair: sync: {id: 5, interface: "eth0", state: ‸"primary"}`,
		[]want{{"schema", "clusters.pair.sync.state", false}}, ""},
}

func TestSyncChecks(t *testing.T) { runBaseCases(t, syncCases) }

// baseCase is a snippet added to testdata/base with the diagnostics the
// compiler must give for it on both compile paths: rule, path and
// position (the ‸ markers), and a part of the first message.
type baseCase struct {
	name string
	src  string
	want []want
	msg  string
}

// runBaseCases compiles testdata/base with each case's snippet both ways
// and checks the diagnostics agree, match the case, and have hints.
func runBaseCases(t *testing.T, cases []baseCase) {
	t.Helper()
	base, err := os.ReadFile(filepath.Join("testdata", "base", "base.cue"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			src, positions := stripMarkers(tt.src)
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "base.cue"), string(base))
			writeFile(t, filepath.Join(dir, "case.cue"), "package lvs\n\n"+src+"\n")
			res, whole := compileBothWays(t, dir)
			if diff := cmp.Diff(whole.Diagnostics, res.Diagnostics); diff != "" {
				t.Errorf("plain-data path differs from CUE's whole evaluation (-cue +tree):\n%s", diff)
			}
			// Diagnostics without a marker of their own (one per
			// director) share the last one.
			for len(positions) > 0 && len(positions) < len(tt.want) {
				positions = append(positions, positions[len(positions)-1])
			}
			checkDiagnostics(t, res.Diagnostics, tt.want, positions)
			if tt.msg != "" && (len(res.Diagnostics) == 0 || !strings.Contains(res.Diagnostics[0].Message, tt.msg)) {
				t.Errorf("message lacks %q:\n%s", tt.msg, res.Diagnostics)
			}
			for _, d := range res.Diagnostics {
				if d.Hint == "" {
					t.Errorf("diagnostic without hint: %+v", d)
				}
			}
		})
	}
}

// TestSyncDecoded: a valid sync reaches the model with the schema's
// defaults, and each director's daemons its host state.
func TestSyncDecoded(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "base", "base.cue"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "base.cue"), string(base))
	writeFile(t, filepath.Join(dir, "case.cue"), "package lvs\n\nclusters: pair: sync: {id: 51, interface: \"eth0\", states: lb2: \"backup\"}\n")
	res, err := Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid() {
		t.Fatal(res.Diagnostics)
	}
	want := &model.Sync{State: "both", States: map[string]string{"lb2": "backup"}, ID: 51, Interface: "eth0",
		Group: netip.MustParseAddr("224.0.0.81"), Port: 8848, TTL: 1}
	if diff := cmp.Diff(want, res.Config.Clusters["pair"].Sync, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("sync (-want +got):\n%s", diff)
	}
}
