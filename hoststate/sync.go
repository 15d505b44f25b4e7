package hoststate

import (
	"strings"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/model"
)

// syncDaemons records the sync daemons a director of cl runs: a master,
// a backup or both. The kernel runs one of each, so two clusters on one
// director must want the same daemons; they then share them.
func (b *builder) syncDaemons(cl *model.Cluster, h *model.Host) {
	y := cl.Sync
	if y == nil {
		return
	}
	reason := "cluster " + cl.Name
	var states []kernel.SyncState
	switch y.StateOf(h.Name) {
	case "master":
		states = []kernel.SyncState{kernel.SyncMaster}
	case "backup":
		states = []kernel.SyncState{kernel.SyncBackup}
	default:
		states = []kernel.SyncState{kernel.SyncMaster, kernel.SyncBackup}
	}
	for _, st := range states {
		d := kernel.SyncDaemon{State: st, Interface: y.Interface, SyncID: uint32(y.ID), MaxLen: uint16(y.MaxLen),
			Group: y.Group, Port: uint16(y.Port), TTL: uint8(y.TTL)}
		i := -1
		for j, o := range b.h.SyncDaemons {
			if o.State == st {
				i = j
			}
		}
		switch {
		case i < 0:
			// The master before the backup, as the kernel lists them.
			b.h.SyncDaemons = append(b.h.SyncDaemons, SyncDaemon{SyncDaemon: d, Reasons: []string{reason}})
			if len(b.h.SyncDaemons) == 2 && b.h.SyncDaemons[0].State == kernel.SyncBackup {
				b.h.SyncDaemons[0], b.h.SyncDaemons[1] = b.h.SyncDaemons[1], b.h.SyncDaemons[0]
			}
		case b.h.SyncDaemons[i].SyncDaemon != d:
			o := b.h.SyncDaemons[i]
			b.errs = append(b.errs, b.conflict(reason, o.Reasons, "host %s: the %s sync daemon differs between %s (%s) and %s (%s); a kernel runs one", h.Name, st, strings.Join(o.Reasons, ", "), o.SyncDaemon, reason, d))
		default:
			b.h.SyncDaemons[i].Reasons = addReason(b.h.SyncDaemons[i].Reasons, reason)
		}
	}
}
