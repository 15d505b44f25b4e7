package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
)

// KindSyncDaemon is the kind of an IPVS connection sync daemon.
const KindSyncDaemon Kind = "syncdaemon"

// SyncDaemon is an IPVS connection sync daemon (KindSyncDaemon), named by
// its state: the kernel runs one master and one backup at most. The
// kernel cannot change a running daemon's parameters, so an Update is
// applied as a stop and a start: for that moment no connection is synced,
// which costs nothing on a director no connection fails over to or from
// at that moment.
type SyncDaemon struct {
	kernel.SyncDaemon
}

var _ Object = (*SyncDaemon)(nil)

// Kind is KindSyncDaemon.
func (d *SyncDaemon) Kind() Kind { return KindSyncDaemon }

// String names the daemon as ipvsadm does: "master sync daemon".
func (d *SyncDaemon) String() string { return d.State.String() + " sync daemon" }

// Attrs lists the parameters a start sets, as `ipvsadm -L --daemon`
// does.
func (d *SyncDaemon) Attrs() string {
	a := d.SyncDaemon.String()
	a = strings.TrimPrefix(a, d.String()+" (")
	return strings.TrimSuffix(a, ")")
}

// Changes lists the parameters that differ, old → new.
func (d *SyncDaemon) Changes(before Object) []string {
	b := before.(*SyncDaemon).SyncDaemon
	var out []string
	add := func(name string, old, nw any, differs bool) {
		if differs {
			out = append(out, fmt.Sprintf("%s: %v → %v", name, old, nw))
		}
	}
	add("mcast", b.Interface, d.Interface, b.Interface != d.Interface)
	add("syncid", b.SyncID, d.SyncID, b.SyncID != d.SyncID)
	add("maxlen", b.MaxLen, d.MaxLen, d.MaxLen != 0 && b.MaxLen != d.MaxLen)
	add("group", b.Group, d.Group, d.Group.IsValid() && b.Group != d.Group)
	add("port", b.Port, d.Port, d.Port != 0 && b.Port != d.Port)
	add("ttl", b.TTL, d.TTL, d.TTL != 0 && b.TTL != d.TTL)
	return out
}

// JSON is the kernel value, which carries its JSON tags.
func (d *SyncDaemon) JSON() any { return d.SyncDaemon }

// keepUndone keeps a daemon whose stop may not have been done owned, if
// it was.
func (d *SyncDaemon) keepUndone(op Op, u *undone) {
	if op.Action == Delete && slices.Contains(u.prev.SyncDaemons, d.State) && !slices.Contains(u.s.SyncDaemons, d.State) {
		u.s.SyncDaemons = append(u.s.SyncDaemons, d.State)
	}
}

// syncDaemons plans the sync daemons: started when missing, restarted
// when the one running differs from the config's (stopped by hand and
// started with other parameters, or the config changed), stopped when
// lvsgen started one the config no longer wants. A daemon lvsgen did not
// start is never stopped: one that runs as the config wants is taken
// over, one that runs otherwise is a problem for the operator to settle
// (keepalived's lvs_sync_daemon may run it).
func (d *differ) syncDaemons() {
	for _, w := range d.want.SyncDaemons {
		want := w.SyncDaemon
		i := slices.IndexFunc(d.obs.SyncDaemons, func(x kernel.SyncDaemon) bool { return x.State == want.State })
		owned := slices.Contains(d.st.SyncDaemons, want.State)
		switch {
		case i < 0:
			d.setup = append(d.setup, Op{Action: Create, After: &SyncDaemon{want}, Reason: reasons(w.Reasons)})
		case want.Runs(d.obs.SyncDaemons[i]):
		case !owned:
			d.problems = append(d.problems, fmt.Sprintf("a %s that lvsgen did not start runs (%s), not the config's (%s): stop it (ipvsadm --stop-daemon %s) or stop what starts it, such as keepalived's lvs_sync_daemon",
				(&SyncDaemon{want}).String(), d.obs.SyncDaemons[i], want, want.State))
			continue
		default:
			d.setup = append(d.setup, Op{Action: Update, Before: &SyncDaemon{d.obs.SyncDaemons[i]}, After: &SyncDaemon{want},
				Reason: reasons(w.Reasons) + " (drift or config change)"})
		}
		if !slices.Contains(d.next.SyncDaemons, want.State) {
			d.next.SyncDaemons = append(d.next.SyncDaemons, want.State)
		}
	}
	for _, s := range d.st.SyncDaemons {
		if slices.ContainsFunc(d.want.SyncDaemons, func(x hoststate.SyncDaemon) bool { return x.State == s }) {
			continue
		}
		d.next.SyncDaemons = slices.DeleteFunc(d.next.SyncDaemons, func(x kernel.SyncState) bool { return x == s })
		if i := slices.IndexFunc(d.obs.SyncDaemons, func(x kernel.SyncDaemon) bool { return x.State == s }); i >= 0 {
			d.teardown = append(d.teardown, Op{Action: Delete, Before: &SyncDaemon{d.obs.SyncDaemons[i]}, Reason: "no longer in the config"})
		}
	}
}
