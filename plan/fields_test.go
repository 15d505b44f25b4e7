package plan

import (
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/ipvs"
)

// TestFieldTablesCoverStructs fails when ipvs.Service or ipvs.Destination
// has a field that is neither in its field table nor, with a reason, in
// its list of fields not compared: a new kernel field must be decided on,
// not silently left out of the diff.
func TestFieldTablesCoverStructs(t *testing.T) {
	check := func(t *testing.T, typ reflect.Type, table []string, notCompared map[string]string) {
		seen := map[string]bool{}
		for _, name := range table {
			if seen[name] {
				t.Errorf("%s.%s is twice in the table", typ, name)
			}
			seen[name] = true
			if _, ok := typ.FieldByName(name); !ok {
				t.Errorf("the table names %s.%s, which does not exist", typ, name)
			}
			if _, ok := notCompared[name]; ok {
				t.Errorf("%s.%s is both in the table and not compared", typ, name)
			}
		}
		for name, why := range notCompared {
			if _, ok := typ.FieldByName(name); !ok {
				t.Errorf("%s.%s is listed as not compared, but does not exist", typ, name)
			}
			if why == "" {
				t.Errorf("%s.%s is not compared, with no reason", typ, name)
			}
		}
		for i := range typ.NumField() {
			name := typ.Field(i).Name
			if _, ok := notCompared[name]; !seen[name] && !ok {
				t.Errorf("%s.%s is neither in the field table nor in the list of fields not compared: decide whether the plan compares it", typ, name)
			}
		}
	}
	names := func(n int, name func(int) string) []string {
		var s []string
		for i := range n {
			s = append(s, name(i))
		}
		return s
	}
	t.Run("Service", func(t *testing.T) {
		check(t, reflect.TypeFor[ipvs.Service](), names(len(serviceFields), func(i int) string { return serviceFields[i].name }), serviceNotCompared)
	})
	t.Run("Destination", func(t *testing.T) {
		check(t, reflect.TypeFor[ipvs.Destination](), names(len(destFields), func(i int) string { return destFields[i].name }), destNotCompared)
	})
}

// TestSameService: what UpdateService can change is compared; the hashed
// flag, and the timeout and netmask of a service that is not persistent,
// are not.
func TestSameService(t *testing.T) {
	base := ipvs.Service{Scheduler: "wrr", NetmaskBits: 32}
	persistent := base
	persistent.Flags = ipvs.FlagPersistent
	persistent.Timeout = 300
	for _, tt := range []struct {
		name       string
		have, want ipvs.Service
		edit       func(*ipvs.Service)
		same       bool
	}{
		{"equal", base, base, nil, true},
		{"scheduler", base, base, func(s *ipvs.Service) { s.Scheduler = "rr" }, false},
		{"hashed flag", base, base, func(s *ipvs.Service) { s.Flags |= ipvs.FlagHashed }, true},
		{"one-packet", base, base, func(s *ipvs.Service) { s.Flags |= ipvs.FlagOnePacket }, false},
		{"pe", base, base, func(s *ipvs.Service) { s.PE = "sip" }, false},
		{"timeout, not persistent", base, base, func(s *ipvs.Service) { s.Timeout = 60 }, true},
		{"netmask, not persistent", base, base, func(s *ipvs.Service) { s.NetmaskBits = 24 }, true},
		{"timeout, persistent", persistent, persistent, func(s *ipvs.Service) { s.Timeout = 60 }, false},
		{"netmask, persistent", persistent, persistent, func(s *ipvs.Service) { s.NetmaskBits = 24 }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			have := tt.have
			if tt.edit != nil {
				tt.edit(&have)
			}
			if got := sameService(&have, &tt.want); got != tt.same {
				t.Errorf("sameService = %v, want %v", got, tt.same)
			}
		})
	}
}

// TestSameDest: a Local destination is a Route one, and tunnel settings
// count only for tunnel destinations.
func TestSameDest(t *testing.T) {
	route := ipvs.Destination{Forward: ipvs.Route, Weight: 1}
	tunnel := ipvs.Destination{Forward: ipvs.Tunnel, Weight: 1, TunType: ipvs.TunGUE, TunPort: 5555}
	for _, tt := range []struct {
		name string
		want ipvs.Destination
		edit func(*ipvs.Destination)
		same bool
	}{
		{"equal", route, func(*ipvs.Destination) {}, true},
		{"local is route", route, func(d *ipvs.Destination) { d.Forward = ipvs.Local }, true},
		{"forward", route, func(d *ipvs.Destination) { d.Forward = ipvs.Masq }, false},
		{"weight", route, func(d *ipvs.Destination) { d.Weight = 2 }, false},
		{"upper", route, func(d *ipvs.Destination) { d.UpperThreshold = 9 }, false},
		{"lower", route, func(d *ipvs.Destination) { d.LowerThreshold = 9 }, false},
		{"connections", route, func(d *ipvs.Destination) { d.ActiveConns = 9 }, true},
		{"tunnel port, not a tunnel", route, func(d *ipvs.Destination) { d.TunPort = 9 }, true},
		{"tunnel port", tunnel, func(d *ipvs.Destination) { d.TunPort = 9 }, false},
		{"tunnel type", tunnel, func(d *ipvs.Destination) { d.TunType = ipvs.TunIPIP }, false},
		{"tunnel flags", tunnel, func(d *ipvs.Destination) { d.TunFlags = ipvs.TunFlagCsum }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			have := tt.want
			tt.edit(&have)
			if got := sameDest(&have, &tt.want); got != tt.same {
				t.Errorf("sameDest = %v, want %v", got, tt.same)
			}
		})
	}
}

// TestChangesInTableOrder: the plan lists a service's changes in the
// table's order, whatever changed.
func TestChangesInTableOrder(t *testing.T) {
	a := &Service{ipvs.Service{Scheduler: "wrr", NetmaskBits: 32}}
	b := &Service{ipvs.Service{Scheduler: "sh", Flags: ipvs.FlagPersistent, Timeout: 60, NetmaskBits: 24, PE: "sip"}}
	want := []string{"scheduler: wrr → sh", "persistent: false → true", "timeout: 0 → 60", "netmask: 32 → 24", "pe:  → sip"}
	if diff := cmp.Diff(want, b.Changes(a)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if !slices.Equal(b.Changes(b), nil) {
		t.Errorf("changes of an unchanged service: %q", b.Changes(b))
	}
}
