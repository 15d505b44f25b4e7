package plan

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
)

// fullHost has one object of every kind a host can have.
func fullHost() *hoststate.Host {
	svc := ipvs.Service{
		ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80},
		Scheduler:  "wrr",
		Destinations: []ipvs.Destination{
			{Addr: netip.MustParseAddr("10.0.0.11"), Port: 80, Forward: ipvs.Tunnel, TunType: ipvs.TunGUE, TunPort: 6080, Weight: 3},
		},
	}
	return &hoststate.Host{
		Name:      "lb1",
		Services:  []hoststate.Service{{Name: "edge-http", Service: svc}},
		Timeouts:  &hoststate.Timeouts{Timeouts: kernel.Timeouts{TCP: 900, TCPFin: 120, UDP: 300}},
		Sysctls:   []hoststate.Sysctl{{Key: "net.ipv4.vs.conntrack", Value: "1"}},
		Links:     []hoststate.Link{{Link: kernel.Link{Name: "lvs0", Kind: "dummy", Up: true}}},
		Addresses: []hoststate.Address{{Address: kernel.Address{Device: "lvs0", Prefix: netip.MustParsePrefix("192.0.2.10/32")}}},
		FOU:       []hoststate.FOU{{FOU: kernel.FOU{Port: 6080}}},
		Routes:    []hoststate.Route{{Route: kernel.Route{Dst: netip.MustParsePrefix("198.51.100.0/24"), Gateway: netip.MustParseAddr("10.0.0.2")}}},
		NFTables:  []hoststate.NFTable{{NFTTable: kernel.NFTTable{Family: kernel.NFTIPv4, Name: kernel.NFTTableName}}},
		SyncDaemons: []hoststate.SyncDaemon{{SyncDaemon: kernel.SyncDaemon{State: kernel.SyncMaster, Interface: "eth0", SyncID: 7,
			Group: netip.MustParseAddr("224.0.0.81"), Port: 8848, TTL: 1}}},
	}
}

// TestObservedOfFillsEveryKind: a field of Observed that ObservedOf
// leaves zero is a kind `lvsgen diff` would not see change.
func TestObservedOfFillsEveryKind(t *testing.T) {
	obs := reflect.ValueOf(ObservedOf(fullHost())).Elem()
	for i := range obs.NumField() {
		if obs.Field(i).IsZero() {
			t.Errorf("ObservedOf leaves Observed.%s zero: fill it from the host (and add the kind to fullHost)", obs.Type().Field(i).Name)
		}
	}
}

// TestObservedOfRoundTrip: a host planned against its own applied
// state, with the ownership the first apply records, has nothing to
// do; planned against it, an empty host removes everything lvsgen made.
func TestObservedOfRoundTrip(t *testing.T) {
	h := fullHost()
	st := Diff(h, &Observed{Links: []kernel.Link{}}, NewState(h.Name), Options{}).State
	if p := Diff(h, ObservedOf(h), st, Options{}); len(p.Ops) != 0 || len(p.Problems) != 0 {
		t.Errorf("re-plan of an applied host: %d ops (%s), problems %q; want none", len(p.Ops), Summary(p.Ops), p.Problems)
	}
	p := Diff(&hoststate.Host{Name: h.Name}, ObservedOf(h), st, Options{})
	got := map[Kind]bool{}
	for _, o := range p.Ops {
		if o.Action == Delete {
			got[o.Kind()] = true
		}
	}
	for _, k := range []Kind{KindService, KindLink, KindAddress, KindFOU, KindRoute, KindNFTable, KindSyncDaemon} {
		if !got[k] {
			t.Errorf("emptying the host deletes no %s: %s", k, Summary(p.Ops))
		}
	}
}
