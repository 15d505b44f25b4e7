package planfmt

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier/kernel"
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
  "unmanaged": []
}
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}
