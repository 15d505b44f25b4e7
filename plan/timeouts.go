package plan

import (
	"fmt"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// Timeouts are the IPVS connection timeouts (KindTimeouts), one setting
// per host: set, never removed.
type Timeouts struct {
	kernel.Timeouts
}

// KindTimeouts is the kind of the IPVS connection timeouts.
const KindTimeouts Kind = "timeouts"

var _ Object = (*Timeouts)(nil)

// Kind is KindTimeouts.
func (t *Timeouts) Kind() Kind { return KindTimeouts }

// String is "ipvs": the timeouts are the IPVS table's.
func (t *Timeouts) String() string { return "ipvs" }

// Attrs shows the three timeouts.
func (t *Timeouts) Attrs() string {
	return fmt.Sprintf("tcp %d tcpfin %d udp %d", t.TCP, t.TCPFin, t.UDP)
}

// Changes lists the timeouts that differ from before's.
func (t *Timeouts) Changes(before Object) []string {
	a := before.(*Timeouts)
	var c changeList
	c.add("tcp", a.TCP, t.TCP)
	c.add("tcpfin", a.TCPFin, t.TCPFin)
	c.add("udp", a.UDP, t.UDP)
	return c
}

// JSON is the kernel value, which carries its JSON tags.
func (t *Timeouts) JSON() any { return t.Timeouts }

// keepUndone: the timeouts are not owned.
func (t *Timeouts) keepUndone(Op, *undone) {}

// timeouts plans the timeouts the config sets, if it sets them.
func (d *differ) timeouts() {
	t := d.want.Timeouts
	if t == nil {
		return
	}
	want := t.Timeouts
	if want != d.obs.Timeouts {
		d.setup = append(d.setup, Op{Action: Update, Before: &Timeouts{d.obs.Timeouts}, After: &Timeouts{want}, Reason: reasons(t.Reason)})
	}
}
