package plan

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
)

// TestIntentOwnsAChangedRouteEitherWay: the intent of a plan that changes
// the gateway of lvsgen's own route owns the route with either gateway,
// so that a removal after an apply killed before or after the change
// deletes it.
func TestIntentOwnsAChangedRouteEitherWay(t *testing.T) {
	dst := netip.MustParsePrefix("10.9.0.0/16")
	g1, g2 := netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.1.0.2")
	st := NewState("app1")
	st.Routes = []OwnedRoute{{Route: kernel.Route{Dst: dst, Gateway: g1}}}
	want := &hoststate.Host{Name: "app1", Routes: []hoststate.Route{{Route: kernel.Route{Dst: dst, Gateway: g2}}}}
	p := Diff(want, &Observed{Routes: []kernel.Route{{Dst: dst, Gateway: g1}}, Sysctls: map[string]string{}}, st, Options{})
	intent := p.Intent()
	for _, gw := range []netip.Addr{g1, g2} {
		t.Run("kernel via "+gw.String(), func(t *testing.T) {
			obs := &Observed{Routes: []kernel.Route{{Dst: dst, Gateway: gw}}, Sysctls: map[string]string{}}
			rm := Diff(&hoststate.Host{Name: "app1"}, obs, intent, Options{})
			var got []string
			for _, op := range rm.Ops {
				got = append(got, fmt.Sprintf("%s %s", op.Action, op.Before.(*Route).Route))
			}
			if diff := cmp.Diff([]string{"delete " + kernel.Route{Dst: dst, Gateway: gw}.String()}, got); diff != "" {
				t.Errorf("removal (-want +got):\n%s", diff)
			}
		})
	}
	// Done, the final state knows the gateway: no Also left.
	if r := p.State.Routes; len(r) != 1 || r[0].Gateway != g2 || r[0].Also.IsValid() {
		t.Errorf("final state routes %+v, want the route via %s alone", r, g2)
	}
}
