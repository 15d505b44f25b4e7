package plan

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
)

// TestLeavingService: how a service the config no longer names leaves,
// by protocol, ownership, connections, drain record and timeout.
func TestLeavingService(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	key := func(p ipvs.Protocol) ipvs.ServiceKey {
		return ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: p, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80}
	}
	dest := func(weight int32, active, inactive uint32) ipvs.Destination {
		return ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.11"), Port: 80, Forward: ipvs.Route, Weight: weight, ActiveConns: active, InactiveConns: inactive}
	}
	for _, tt := range []struct {
		name    string
		proto   ipvs.Protocol
		dst     ipvs.Destination
		owned   bool
		prune   bool
		since   time.Duration // drain started this long ago; 0: no record
		timeout time.Duration
		want    []string
		drains  bool // a service drain record after
	}{
		{name: "connections", proto: ipvs.TCP, dst: dest(1, 2, 0), owned: true, timeout: time.Hour,
			want: []string{"drain service tcp:192.0.2.10:80", "drain destination tcp:192.0.2.10:80 -> 10.0.0.11:80"}, drains: true},
		{name: "no connections", proto: ipvs.TCP, dst: dest(1, 0, 0), owned: true, timeout: time.Hour,
			want: []string{"delete service tcp:192.0.2.10:80"}},
		{name: "udp", proto: ipvs.UDP, dst: dest(1, 0, 5), owned: true, timeout: time.Hour,
			want: []string{"delete service udp:192.0.2.10:80"}},
		{name: "no drain timeout", proto: ipvs.TCP, dst: dest(1, 2, 0), owned: true,
			want: []string{"delete service tcp:192.0.2.10:80"}},
		{name: "pruned, not lvsgen's", proto: ipvs.TCP, dst: dest(1, 2, 0), prune: true, timeout: time.Hour,
			want: []string{"delete service tcp:192.0.2.10:80"}},
		{name: "not lvsgen's", proto: ipvs.TCP, dst: dest(1, 2, 0), timeout: time.Hour},
		{name: "draining", proto: ipvs.TCP, dst: dest(0, 2, 0), owned: true, since: time.Minute, timeout: time.Hour,
			want: []string{"wait service tcp:192.0.2.10:80"}, drains: true},
		{name: "draining, weight raised", proto: ipvs.TCP, dst: dest(4, 2, 0), owned: true, since: time.Minute, timeout: time.Hour,
			want: []string{"wait service tcp:192.0.2.10:80", "drain destination tcp:192.0.2.10:80 -> 10.0.0.11:80"}, drains: true},
		{name: "drained", proto: ipvs.TCP, dst: dest(0, 0, 3), owned: true, since: time.Minute, timeout: time.Hour,
			want: []string{"delete service tcp:192.0.2.10:80"}},
		{name: "timed out", proto: ipvs.TCP, dst: dest(0, 2, 0), owned: true, since: time.Hour, timeout: time.Hour,
			want: []string{"delete service tcp:192.0.2.10:80"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := key(tt.proto)
			obs := &Observed{Services: []ipvs.Service{{ServiceKey: k, Scheduler: "wlc", Destinations: []ipvs.Destination{tt.dst}}}, Sysctls: map[string]string{}}
			st := NewState("lb1")
			if tt.owned {
				st.Services = []ipvs.ServiceKey{k}
			}
			if tt.since != 0 {
				st.ServiceDrains = []ServiceDrainRecord{{Service: k, Since: t0.Add(-tt.since)}}
			}
			p := Diff(&hoststate.Host{Name: "lb1"}, obs, st, Options{Prune: tt.prune, DrainTimeout: tt.timeout, Now: t0})
			var got []string
			for _, op := range p.Ops {
				got = append(got, fmt.Sprintf("%s %s %s", op.Action, op.Kind(), op.Object()))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ops (-want +got):\n%s", diff)
			}
			if got := len(p.State.ServiceDrains) == 1; got != tt.drains {
				t.Errorf("service drain records %v, want one: %v", p.State.ServiceDrains, tt.drains)
			}
			if tt.drains && (len(p.State.Services) != 1 || p.State.ServiceDrains[0].Since != t0.Add(-tt.since)) {
				t.Errorf("a draining service must stay owned, its drain's start kept: %+v", p.State)
			}
		})
	}
}
