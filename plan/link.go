package plan

import (
	"slices"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
)

// KindLink is the kind of a network device.
const KindLink Kind = "link"

// Link is a network device lvsgen creates (KindLink): a dummy device for
// VIPs, a tunnel device. Its Kind method shadows the device kind, which
// is l.Link.Kind.
type Link struct {
	kernel.Link
}

var _ Object = (*Link)(nil)

// Kind is KindLink.
func (l *Link) Kind() Kind { return KindLink }

// String is the device name.
func (l *Link) String() string { return l.Name }

// Attrs shows the device kind.
func (l *Link) Attrs() string { return "(" + l.Link.Kind + ")" }

// Changes lists whether the device is up and its mode, if they differ
// from before's.
func (l *Link) Changes(before Object) []string {
	a := before.(*Link)
	var c changeList
	c.add("up", a.Up, l.Up)
	c.add("mode", a.Mode, l.Mode)
	return c
}

// JSON is the kernel value, which carries its JSON tags.
func (l *Link) JSON() any { return l.Link }

// keepUndone keeps a device whose deletion may not have been done owned,
// if it was.
func (l *Link) keepUndone(op Op, u *undone) {
	if op.Action == Delete && slices.Contains(u.prev.Links, l.Name) && !slices.Contains(u.s.Links, l.Name) {
		u.s.Links = append(u.s.Links, l.Name)
	}
}

// links plans the devices: created when missing, brought up or given
// their mode when changed by hand, and deleted when lvsgen made them and
// no longer needs them.
func (d *differ) links() {
	for _, l := range d.want.Links {
		want := &Link{l.Link}
		i := slices.IndexFunc(d.obs.Links, func(x kernel.Link) bool { return x.Name == l.Name })
		switch {
		case i < 0:
			d.setup = append(d.setup, Op{Action: Create, After: want, Reason: reasons(l.Reasons)})
			if !slices.Contains(d.next.Links, l.Name) {
				d.next.Links = append(d.next.Links, l.Name)
			}
		case !d.obs.Links[i].Up || (l.Mode != "" && d.obs.Links[i].Mode != l.Mode):
			d.setup = append(d.setup, Op{Action: Update, Before: &Link{d.obs.Links[i]}, After: want, Reason: reasons(l.Reasons)})
		}
	}
	for _, name := range d.st.Links {
		if slices.ContainsFunc(d.want.Links, func(l hoststate.Link) bool { return l.Name == name }) {
			continue
		}
		d.next.Links = slices.DeleteFunc(d.next.Links, func(x string) bool { return x == name })
		i := slices.IndexFunc(d.obs.Links, func(x kernel.Link) bool { return x.Name == name })
		if i >= 0 {
			d.teardown = append(d.teardown, Op{Action: Delete, Before: &Link{d.obs.Links[i]}, Reason: "no longer in the config"})
		}
	}
}
