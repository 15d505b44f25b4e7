package planfmt

import (
	"flag"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/goldentest"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/plan"
)

// TestWriteText: each action's symbol, each kind's name, attributes and
// changes, the unmanaged services, the problems and the summary. The
// golden plans of package applier pin whole plans; this one pins a plan
// made by hand, without a diff.
func TestWriteText(t *testing.T) {
	svc := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80}
	dst := ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.11"), Port: 80, Forward: ipvs.Route, Weight: 3}
	drained := dst
	drained.Weight = 0
	for _, tt := range []struct {
		name string
		p    *plan.Plan
		want string
	}{
		{"empty", &plan.Plan{Host: "lb1"}, `Plan for host lb1:
  no changes: the kernel matches the config
0 to create, 0 to change, 0 to delete, 0 to drain, 0 draining, 0 unmanaged.
`},
		{"every action", &plan.Plan{
			Host: "lb1",
			Ops: []plan.Op{
				{Action: plan.Create, After: &plan.Link{Link: kernel.Link{Name: "lvs0", Kind: "dummy", Up: true}}, Reason: "cluster dr"},
				{Action: plan.Update, Before: &plan.Sysctl{Key: "net.ipv4.ip_forward", Value: "0"}, After: &plan.Sysctl{Key: "net.ipv4.ip_forward", Value: "1"}, Reason: "service web"},
				{Action: plan.Create, After: &plan.Service{Service: ipvs.Service{ServiceKey: svc, Scheduler: "wrr"}}, Reason: "service web"},
				{Action: plan.Drain, Before: &plan.Destination{Service: svc, Destination: dst}, After: &plan.Destination{Service: svc, Destination: drained}, Reason: "no longer in the config"},
				{Action: plan.Delete, Before: &plan.Address{Address: kernel.Address{Device: "lvs0", Prefix: netip.MustParsePrefix("192.0.2.20/32")}}, Reason: "no longer in the config"},
			},
			Unmanaged: []ipvs.Service{{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, FWMark: 7}}},
			Problems:  []string{"host lb1 has no interface eth1"},
		}, `Plan for host lb1:
  + link      lvs0  (dummy)
      # cluster dr
  ~ sysctl    net.ipv4.ip_forward  value: 0 → 1
      # service web
  + service   tcp:192.0.2.10:80  scheduler=wrr
      # service web
  = destination tcp:192.0.2.10:80 -> 10.0.0.11:80  weight: 3 → 0
      # no longer in the config
  - address   192.0.2.20/32 dev lvs0
      # no longer in the config
  ? service   fwmark 7  unmanaged: not created by lvsgen and not in the config (--prune deletes it)
  ! host lb1 has no interface eth1
2 to create, 1 to change, 1 to delete, 1 to drain, 0 draining, 1 unmanaged.
`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := WriteText(&b, tt.p, false); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("text (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteJSONEmpty: an empty plan is a document with empty lists, not
// nulls, and the format version.
func TestWriteJSONEmpty(t *testing.T) {
	var b strings.Builder
	if err := WriteJSON(&b, &plan.Plan{Host: "lb1"}); err != nil {
		t.Fatal(err)
	}
	want := `{
  "version": 1,
  "host": "lb1",
  "changes": 0,
  "ops": [],
  "unmanaged": [],
  "problems": [],
  "summary": {
    "create": 0,
    "update": 0,
    "delete": 0,
    "drain": 0,
    "wait": 0,
    "unmanaged": 0
  }
}
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}

var update = flag.Bool("update", false, "rewrite testdata/*.txt and *.json")

// TestGolden pins the text and the JSON of one plan side by side, so
// that what the text shows — every action, the lvsgen service of each
// IPVS operation, the unmanaged services, the problems and the counts —
// is seen to be in the JSON too. The plan is Diff's, of a host against
// a kernel that differs from it in each way the text marks.
func TestGolden(t *testing.T) {
	svc := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80}
	gone := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.11"), Port: 80}
	web1 := ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.11"), Port: 80, Forward: ipvs.Route, Weight: 3}
	web2 := ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.12"), Port: 80, Forward: ipvs.Route, Weight: 1, ActiveConns: 4}
	want := &hoststate.Host{
		Name: "lb1",
		Services: []hoststate.Service{{Name: "edge-http", Service: ipvs.Service{
			ServiceKey: svc, Scheduler: "wrr", Destinations: []ipvs.Destination{web1},
		}}},
		Addresses: []hoststate.Address{{Address: kernel.Address{Device: "eth1", Prefix: netip.MustParsePrefix("192.0.2.10/32")}, Reasons: []string{"cluster edge"}}},
	}
	web1Old := web1
	web1Old.Weight = 1
	obs := &plan.Observed{Services: []ipvs.Service{
		{ServiceKey: svc, Scheduler: "rr", Destinations: []ipvs.Destination{web1Old, web2}},
		{ServiceKey: gone, Scheduler: "rr"},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, FWMark: 7}, Scheduler: "rr"},
	}}
	st := plan.NewState("lb1")
	st.Services = []ipvs.ServiceKey{svc, gone}
	p := plan.Diff(want, obs, st, plan.Options{DrainTimeout: plan.DefaultDrainTimeout})
	var text, js strings.Builder
	if err := WriteText(&text, p, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&js, p); err != nil {
		t.Fatal(err)
	}
	goldentest.Check(t, filepath.Join("testdata", "every-kind.txt"), []byte(text.String()), *update)
	goldentest.Check(t, filepath.Join("testdata", "every-kind.json"), []byte(js.String()), *update)
}
