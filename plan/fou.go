package plan

import (
	"slices"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
)

// KindFOU is the kind of a GUE receive port.
const KindFOU Kind = "fou"

// FOU is a GUE receive port lvsgen opens (KindFOU).
type FOU struct {
	kernel.FOU
}

var _ Object = (*FOU)(nil)

// Kind is KindFOU.
func (f *FOU) Kind() Kind { return KindFOU }

// String names the port as ip fou does.
func (f *FOU) String() string { return f.FOU.String() }

// Attrs is empty: the name says it all.
func (f *FOU) Attrs() string { return "" }

// Changes is empty: a port is opened or closed, never changed.
func (f *FOU) Changes(Object) []string { return nil }

// JSON is the kernel value, which carries its JSON tags.
func (f *FOU) JSON() any { return f.FOU }

// keepUndone keeps a port whose closing may not have been done owned, if
// it was.
func (f *FOU) keepUndone(op Op, u *undone) {
	if op.Action == Delete && slices.Contains(u.prev.FOUs, f.FOU) && !slices.Contains(u.s.FOUs, f.FOU) {
		u.s.FOUs = append(u.s.FOUs, f.FOU)
	}
}

// fous plans the GUE ports: opened when missing, closed when lvsgen
// opened them and no longer needs them.
func (d *differ) fous() {
	for _, f := range d.want.FOU {
		want := f.FOU
		if !slices.Contains(d.obs.FOUs, want) {
			d.setup = append(d.setup, Op{Action: Create, After: &FOU{want}, Reason: reasons(f.Reasons)})
			if !slices.Contains(d.next.FOUs, want) {
				d.next.FOUs = append(d.next.FOUs, want)
			}
		}
	}
	for _, f := range d.st.FOUs {
		if slices.ContainsFunc(d.want.FOU, func(x hoststate.FOU) bool { return x.Port == f.Port && x.IPv6 == f.IPv6 }) {
			continue
		}
		d.next.FOUs = slices.DeleteFunc(d.next.FOUs, func(x kernel.FOU) bool { return x == f })
		if slices.Contains(d.obs.FOUs, f) {
			d.teardown = append(d.teardown, Op{Action: Delete, Before: &FOU{f}, Reason: "no longer in the config"})
		}
	}
}
