package plan

import (
	"net/netip"
	"slices"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
)

// KindRoute is the kind of a gateway route.
const KindRoute Kind = "route"

// Route is a gateway route lvsgen installs (KindRoute): a NAT real
// server's route back through its director.
type Route struct {
	kernel.Route
}

var _ Object = (*Route)(nil)

// Kind is KindRoute.
func (r *Route) Kind() Kind { return KindRoute }

// String names the route by its destination: its gateway is what
// changes.
func (r *Route) String() string { return r.Dst.String() }

// Attrs shows the gateway.
func (r *Route) Attrs() string { return "via " + r.Gateway.String() }

// Changes lists the gateway, if it differs from before's.
func (r *Route) Changes(before Object) []string {
	var c changeList
	c.add("via", before.(*Route).Gateway, r.Gateway)
	return c
}

// JSON is the kernel value, which carries its JSON tags.
func (r *Route) JSON() any { return r.Route }

// keepUndone keeps the route lvsgen owned to the destination of a change
// or removal that may not have been done; for a change of lvsgen's own
// route, the gateway it had is kept as Also.
func (r *Route) keepUndone(op Op, u *undone) {
	b, ok := op.Before.(*Route)
	if !ok {
		return
	}
	for _, old := range u.prev.Routes {
		if old.Dst != b.Dst {
			continue
		}
		i := slices.IndexFunc(u.s.Routes, func(x OwnedRoute) bool { return x.Dst == b.Dst })
		switch {
		case i < 0:
			u.s.Routes = append(u.s.Routes, old)
		case u.s.Routes[i].Gateway != b.Gateway:
			u.s.Routes[i].Also = b.Gateway
		}
	}
}

// routes plans the routes: added when missing, another's to the same
// place replaced (and remembered), and, when lvsgen no longer needs
// them, deleted or the replaced one restored.
func (d *differ) routes() {
	for _, r := range d.want.Routes {
		want := r.Route
		i := slices.IndexFunc(d.obs.Routes, func(x kernel.Route) bool { return x.Dst == r.Dst })
		owned := slices.IndexFunc(d.next.Routes, func(x OwnedRoute) bool { return x.Dst == r.Dst })
		if owned >= 0 {
			// The kernel's route is known again: it ends as want.
			d.next.Routes[owned].Also = netip.Addr{}
		}
		switch {
		case i < 0:
			d.setup = append(d.setup, Op{Action: Create, After: &Route{want}, Reason: reasons(r.Reasons)})
			if owned < 0 {
				d.next.Routes = append(d.next.Routes, OwnedRoute{Route: want})
			} else {
				d.next.Routes[owned].Route = want
			}
		case d.obs.Routes[i].Gateway != r.Gateway:
			before := d.obs.Routes[i]
			d.setup = append(d.setup, Op{Action: Update, Before: &Route{before}, After: &Route{want}, Reason: reasons(r.Reasons)})
			if owned < 0 {
				// Someone else's route to the same place (a NAT real
				// server's default route): remember it to put back.
				d.next.Routes = append(d.next.Routes, OwnedRoute{Route: want, Previous: before.Gateway})
			} else {
				d.next.Routes[owned].Route = want
			}
		}
	}
	for _, r := range d.st.Routes {
		if slices.ContainsFunc(d.want.Routes, func(x hoststate.Route) bool { return x.Dst == r.Dst }) {
			continue
		}
		d.next.Routes = slices.DeleteFunc(d.next.Routes, func(x OwnedRoute) bool { return x.Dst == r.Dst })
		i := slices.IndexFunc(d.obs.Routes, func(x kernel.Route) bool {
			return x.Dst == r.Dst && (x.Gateway == r.Gateway || r.Also.IsValid() && x.Gateway == r.Also)
		})
		if i < 0 {
			continue
		}
		before := &Route{d.obs.Routes[i]}
		if r.Previous.IsValid() {
			after := &Route{kernel.Route{Dst: r.Dst, Gateway: r.Previous}}
			d.teardown = append(d.teardown, Op{Action: Update, Before: before, After: after, Reason: "no longer in the config: restoring the route lvsgen replaced"})
			continue
		}
		d.teardown = append(d.teardown, Op{Action: Delete, Before: before, Reason: "no longer in the config"})
	}
}
