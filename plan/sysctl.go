package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lvsgen/lvsgen/hoststate"
)

// KindSysctl is the kind of a kernel setting.
const KindSysctl Kind = "sysctl"

// Sysctl is a kernel setting and its value (KindSysctl).
type Sysctl struct {
	Key   string
	Value string
}

var _ Object = (*Sysctl)(nil)

// Kind is KindSysctl.
func (s *Sysctl) Kind() Kind { return KindSysctl }

// String is the key.
func (s *Sysctl) String() string { return s.Key }

// Attrs shows the value.
func (s *Sysctl) Attrs() string { return "= " + s.Value }

// Changes lists the value, if it differs from before's.
func (s *Sysctl) Changes(before Object) []string {
	var c changeList
	c.add("value", before.(*Sysctl).Value, s.Value)
	return c
}

// JSON shows the value alone: the object's name is the key.
func (s *Sysctl) JSON() any { return map[string]string{"value": s.Value} }

// keepUndone keeps the value to restore of a setting whose restoration
// may not have been done.
func (s *Sysctl) keepUndone(op Op, u *undone) {
	if prev, ok := u.prev.Sysctls[s.Key]; ok {
		if _, still := u.s.Sysctls[s.Key]; !still {
			u.s.Sysctls[s.Key] = prev
		}
	}
}

// sysctls plans the settings in want's order, which is by key: plans are
// deterministic without a sort here.
func (d *differ) sysctls() {
	for _, s := range d.want.Sysctls {
		cur, ok := d.obs.Sysctls[s.Key]
		if ok && cur == s.Value {
			if _, owned := d.st.Sysctls[s.Key]; !owned {
				// Record the value as it was, to restore it when no
				// service needs the setting any more.
				d.next.Sysctls[s.Key] = cur
			}
			continue
		}
		if dev, ok := confDevice(s.Key); !ok && dev != "" && !d.hasDevice(dev) {
			d.problems = append(d.problems, fmt.Sprintf("host %s has no interface %s, which the config declares (%s for %s)", d.want.Name, dev, s.Key, reasons(s.Reasons)))
			continue
		}
		op := Op{Action: Update, After: &Sysctl{s.Key, s.Value}, Reason: reasons(s.Reasons)}
		if ok {
			op.Before = &Sysctl{s.Key, cur}
		} else {
			op.Action = Create
		}
		orig, owned := d.st.Sysctls[s.Key]
		if !owned {
			d.next.Sysctls[s.Key] = cur
		}
		if ok && owned && orig == s.Value {
			// The config now wants the value lvsgen found: a restore
			// in all but name (a cluster's conntrack 0 once its last
			// fullnat service has left). It goes with the teardown —
			// after the services and nftables tables that needed the
			// old value, and held while a leaving service drains,
			// whose connections may need it still.
			d.teardown = append(d.teardown, op)
			continue
		}
		d.setup = append(d.setup, op)
	}
	for key, prev := range d.st.Sysctls {
		if slices.ContainsFunc(d.want.Sysctls, func(s hoststate.Sysctl) bool { return s.Key == key }) {
			continue
		}
		delete(d.next.Sysctls, key)
		cur, ok := d.obs.Sysctls[key]
		if !ok || prev == "" || cur == prev {
			continue
		}
		d.teardown = append(d.teardown, Op{Action: Update, Before: &Sysctl{key, cur}, After: &Sysctl{key, prev}, Reason: "no longer needed: restoring the value lvsgen found"})
	}
}

// confDevice returns the device of a per-device key
// (net.ipv4.conf.DEV.NAME); ok is false for "all" and "default" and other
// keys.
func confDevice(key string) (dev string, ok bool) {
	const prefix = "net.ipv4.conf."
	if !strings.HasPrefix(key, prefix) {
		return "", true
	}
	rest := key[len(prefix):]
	i := strings.LastIndex(rest, ".")
	if i < 0 {
		return "", true
	}
	dev = rest[:i]
	if dev == "all" || dev == "default" {
		return "", true
	}
	return dev, false
}
