package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vrrpCases each add a cluster's vrrp to testdata/base, with the
// diagnostics the compiler must give: rule, path and position (the
// markers), and a part of the message.
var vrrpCases = []baseCase{
	{"valid pair", `clusters: pair: vrrp: {routerID: 51, interface: "eth0", priority: {lb1: 150, lb2: 100}}`, nil, ""},
	{"lvsgen binds the VIPs too", `clusters: dr: vrrp: {routerID: 52, interface: "eth0", priority: lb1: 100}`,
		[]want{{"vrrp", "clusters.dr.vip.bind", false}}, `cluster dr declares vrrp, so keepalived binds its VIPs, but vip.bind is "dummy"`},
	{"a director without priority", `clusters: pair: vrrp: {routerID: 51, interface: "eth0", priority: ‸{lb1: 150}}`,
		[]want{{"vrrp", "clusters.pair.vrrp.priority", false}}, "director lb2 of cluster pair has no vrrp priority"},
	{"a priority for a host that is not a director", `clusters: pair: vrrp: {routerID: 51, interface: "eth0", priority: {lb1: 150, lb2: 100, web1: ‸90}}`,
		[]want{{"vrrp", "clusters.pair.vrrp.priority.web1", false}}, "web1 has a vrrp priority but is not a director of cluster pair"},
	{"equal priorities", `clusters: pair: vrrp: {routerID: 51, interface: "eth0", priority: {lb1: 100, lb2: ‸100}}`,
		[]want{{"vrrp", "clusters.pair.vrrp.priority.lb2", false}}, "directors lb1 and lb2 of cluster pair both have vrrp priority 100"},
	{"priority out of range", `clusters: pair: vrrp: {routerID: 51, interface: "eth0", priority: {lb1: ‸255, lb2: 100}}`,
		[]want{{"schema", "clusters.pair.vrrp.priority.lb1", false}}, ""},
	{"router id out of range", `clusters: pair: vrrp: {routerID: ‸0, interface: "eth0", priority: {lb1: 150, lb2: 100}}`,
		[]want{{"schema", "clusters.pair.vrrp.routerID", false}}, ""},
	{"a password keepalived would cut", `clusters: pair: vrrp: {routerID: 51, interface: "eth0", priority: {lb1: 150, lb2: 100}, authPass: ‸"ab#cd"}`,
		[]want{{"schema", "clusters.pair.vrrp.authPass", false}}, ""},
	{"an interface a director lacks", `clusters: pair: vrrp: {routerID: 51, interface: ‸"eth1", priority: {lb1: 150, lb2: 100}}`,
		[]want{{"vrrp", "clusters.pair.vrrp.interface", false}, {"vrrp", "clusters.pair.vrrp.interface", false}}, "director lb1 has no interface eth1 for cluster pair's VRRP"},
	{"a VIP device a director lacks", `clusters: pair: {vip: device: ‸"eth9", vrrp: {routerID: 51, interface: "eth0", priority: {lb1: 150, lb2: 100}}}`,
		[]want{{"vrrp", "clusters.pair.vip.device", false}, {"vrrp", "clusters.pair.vip.device", false}}, "director lb1 has no interface eth9 for cluster pair's VRRP"},
	{"one router id on a shared subnet", `clusters: {
	pair: vrrp: {routerID: 51, interface: "eth0", priority: {lb1: 150, lb2: 100}}
	pair2: {directors: ["lb2"], vip: bind: "none", vrrp: {routerID: ‸51, interface: "eth0", priority: lb2: 10}}
}`, []want{{"vrrp", "clusters.pair2.vrrp.routerID", false}}, "clusters pair and pair2 both use VRRP router id 51 on lb2's eth0"},
	{"one router id on a subnet the two share, on different hosts", `clusters: {
	pair: vrrp: {routerID: 7, interface: "eth0", priority: {lb1: 150, lb2: 100}}
	web: {directors: ["web1"], vip: bind: "none", vrrp: {routerID: ‸7, interface: "eth0", priority: web1: 10}}
}`, []want{{"vrrp", "clusters.web.vrrp.routerID", false}}, "clusters pair and web both use VRRP router id 7 on subnet 10.0.0.0/24 (lb1 eth0, web1 eth0)"},
	{"one router id on separate subnets", `clusters: {
	pair: vrrp: {routerID: 7, interface: "eth0", priority: {lb1: 150, lb2: 100}}
	natpair: vrrp: {routerID: 7, interface: "eth1", priority: {nat1: 150, nat2: 100}}
}`, nil, ""},
}

func TestVRRPChecks(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "base", "base.cue"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range vrrpCases {
		t.Run(tt.name, func(t *testing.T) {
			src, positions := stripMarkers(tt.src)
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "base.cue"), string(base))
			writeFile(t, filepath.Join(dir, "case.cue"), "package lvs\n\n"+src+"\n")
			res, err := Compile(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.want) > 0 && len(positions) == 0 {
				// The field is in base.cue, where the case cannot mark
				// it: check rule, path and message.
				if len(res.Diagnostics) != 1 || res.Diagnostics[0].Rule != "vrrp" || res.Diagnostics[0].Path != tt.want[0].path || !strings.Contains(res.Diagnostics[0].Message, tt.msg) {
					t.Fatalf("got %s", res.Diagnostics)
				}
				return
			}
			// Diagnostics without a marker of their own (one per
			// director) share the last one.
			for len(positions) < len(tt.want) {
				positions = append(positions, positions[len(positions)-1])
			}
			checkDiagnostics(t, res.Diagnostics, tt.want, positions)
			if tt.msg != "" && (len(res.Diagnostics) == 0 || !strings.Contains(res.Diagnostics[0].Message, tt.msg)) {
				t.Errorf("message lacks %q:\n%s", tt.msg, res.Diagnostics)
			}
			if len(tt.want) == 0 && res.Config.Clusters["pair"].VRRP == nil {
				t.Errorf("the valid vrrp was not decoded: %+v", res.Config.Clusters["pair"])
			}
		})
	}
}
