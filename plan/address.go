package plan

import (
	"fmt"
	"slices"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
)

// KindAddress is the kind of an address on a device.
const KindAddress Kind = "address"

// Address is an address lvsgen binds on a device (KindAddress): a VIP.
type Address struct {
	kernel.Address
}

var _ Object = (*Address)(nil)

// Kind is KindAddress.
func (a *Address) Kind() Kind { return KindAddress }

// String names the address by prefix and device.
func (a *Address) String() string { return a.Address.String() }

// Attrs is empty: the name says it all.
func (a *Address) Attrs() string { return "" }

// Changes lists the flags that differ from before's.
func (a *Address) Changes(before Object) []string {
	b := before.(*Address)
	var c changeList
	c.add("nodad", b.NoDAD, a.NoDAD)
	c.add("deprecated", b.Deprecated, a.Deprecated)
	return c
}

// JSON is the kernel value, which carries its JSON tags.
func (a *Address) JSON() any { return a.Address }

// keepUndone keeps an address whose deletion may not have been done
// owned, if it was.
func (a *Address) keepUndone(op Op, u *undone) {
	if op.Action == Delete && hasAddr(u.prev.Addresses, a.Address) && !hasAddr(u.s.Addresses, a.Address) {
		u.s.Addresses = append(u.s.Addresses, a.Address)
	}
}

// sameAddr identifies addresses by device and prefix; their flags are
// set when they are added.
func sameAddr(a, b kernel.Address) bool { return a.Device == b.Device && a.Prefix == b.Prefix }

func hasAddr(list []kernel.Address, a kernel.Address) bool {
	return slices.ContainsFunc(list, func(x kernel.Address) bool { return sameAddr(x, a) })
}

// addresses plans the addresses: bound when missing, their flags
// repaired, unbound when lvsgen bound them and no longer needs them.
func (d *differ) addresses() {
	for _, a := range d.want.Addresses {
		want := a.Address
		if !d.hasDevice(a.Device) {
			d.problems = append(d.problems, fmt.Sprintf("host %s has no interface %s to bind %s on (%s)", d.want.Name, a.Device, a.Prefix, reasons(a.Reasons)))
			continue
		}
		i := slices.IndexFunc(d.obs.Addresses, func(x kernel.Address) bool { return sameAddr(x, want) })
		switch {
		case i < 0:
			d.setup = append(d.setup, Op{Action: Create, After: &Address{want}, Reason: reasons(a.Reasons)})
			if !hasAddr(d.next.Addresses, want) {
				d.next.Addresses = append(d.next.Addresses, want)
			}
		case d.obs.Addresses[i].NoDAD != want.NoDAD || d.obs.Addresses[i].Deprecated != want.Deprecated:
			// An IPv6 VIP that is not deprecated becomes the host's
			// source address: its flags are repaired, in place.
			d.setup = append(d.setup, Op{Action: Update, Before: &Address{d.obs.Addresses[i]}, After: &Address{want}, Reason: reasons(a.Reasons)})
		}
	}
	for _, a := range d.st.Addresses {
		if slices.ContainsFunc(d.want.Addresses, func(x hoststate.Address) bool { return x.Device == a.Device && x.Prefix == a.Prefix }) {
			continue
		}
		d.next.Addresses = slices.DeleteFunc(d.next.Addresses, func(x kernel.Address) bool { return sameAddr(x, a) })
		if i := slices.IndexFunc(d.obs.Addresses, func(x kernel.Address) bool { return sameAddr(x, a) }); i >= 0 {
			reason := "no longer in the config"
			if r, ok := d.want.Withdrawn[a.Prefix]; ok {
				reason = r
			}
			d.teardown = append(d.teardown, Op{Action: Delete, Before: &Address{d.obs.Addresses[i]}, Reason: reason})
		}
	}
}
