package memory

import (
	"context"
	"fmt"
	"syscall"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// twinMTU is the MTU the twin gives every device, which it does not
// model: a veth's or a dummy's default, the one a backup's default maxlen
// is computed from.
const twinMTU = 1500

// syncObject names a daemon in errors.
func syncObject(s kernel.SyncState) string { return "sync daemon " + s.String() }

// SyncDaemons implements kernel.SyncDaemons: the master, then the
// backup, as the kernel dumps them.
func (k *Kernel) SyncDaemons(ctx context.Context) ([]kernel.SyncDaemon, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []kernel.SyncDaemon
	for _, s := range []kernel.SyncState{kernel.SyncMaster, kernel.SyncBackup} {
		if d, ok := k.syncd[s]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// AddSyncDaemon implements kernel.SyncDaemons with the kernel's checks,
// in its order (ip_vs_genl_new_daemon, then start_sync_thread): a group
// that is not multicast, or a table with destinations of the other
// family than their service's, is EINVAL; an unknown interface ENODEV; a
// second daemon of a state EEXIST; and the defaults and bounds of the
// kernel are applied to what is kept.
func (k *Kernel) AddSyncDaemon(ctx context.Context, d kernel.SyncDaemon) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := kernel.OpError{Op: "starting", Object: syncObject(d.State)}
	if err := k.write(op); err != nil {
		return err
	}
	if d.Group.IsValid() && !d.Group.IsMulticast() {
		return failed(op, fmt.Errorf("group %s is not multicast: %w", d.Group, syscall.EINVAL))
	}
	if k.mixedFamilies() {
		// The kernel cannot sync such connections, and says so by
		// refusing to start.
		return failed(op, fmt.Errorf("destinations of another family than their service's: %w", syscall.EINVAL))
	}
	if !d.Group.IsValid() {
		d.Group = kernel.SyncDefaultGroup
	}
	if d.Port == 0 {
		d.Port = kernel.SyncDefaultPort
	}
	if d.TTL == 0 {
		d.TTL = kernel.SyncDefaultTTL
	}
	if _, ok := k.links[d.Interface]; !ok {
		return failed(op, syscall.ENODEV)
	}
	hlen := kernel.SyncHeaderLen(d.Group)
	mtu, minLen := 1500, 1
	if d.State == kernel.SyncBackup {
		mtu, minLen = min(max(twinMTU, 1500), 65535), kernel.SyncBackupMinMaxLen
	}
	if d.MaxLen != 0 {
		d.MaxLen = uint16(min(max(int(d.MaxLen), minLen), kernel.SyncMaxLenLimit-hlen))
	} else {
		d.MaxLen = uint16(mtu - hlen)
	}
	if d.State != kernel.SyncMaster && d.State != kernel.SyncBackup {
		return failed(op, syscall.EINVAL)
	}
	if _, ok := k.syncd[d.State]; ok {
		return failed(op, syscall.EEXIST)
	}
	if k.syncd == nil {
		k.syncd = map[kernel.SyncState]kernel.SyncDaemon{}
	}
	k.syncd[d.State] = d
	return nil
}

// mixedFamilies reports whether a destination's family differs from its
// service's (an IPv4 service tunnelled to an IPv6 real server).
func (k *Kernel) mixedFamilies() bool {
	for _, s := range k.services {
		for _, d := range s.Destinations {
			if ipvs.FamilyOf(d.Addr) != s.Family {
				return true
			}
		}
	}
	return false
}

// DelSyncDaemon implements kernel.SyncDaemons.
func (k *Kernel) DelSyncDaemon(ctx context.Context, s kernel.SyncState) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := kernel.OpError{Op: "stopping", Object: syncObject(s)}
	if err := k.write(op); err != nil {
		return err
	}
	if s != kernel.SyncMaster && s != kernel.SyncBackup {
		return failed(op, syscall.EINVAL)
	}
	if _, ok := k.syncd[s]; !ok {
		return failed(op, syscall.ESRCH)
	}
	delete(k.syncd, s)
	return nil
}

// syncString lists the daemons as `ipvsadm -L --daemon` does.
func (k *Kernel) syncString() string {
	s := ""
	for _, st := range []kernel.SyncState{kernel.SyncMaster, kernel.SyncBackup} {
		if d, ok := k.syncd[st]; ok {
			s += d.String() + "\n"
		}
	}
	return s
}
