//go:build linux

package netlink

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// The sync daemon commands and attributes of the IPVS generic netlink
// family (include/uapi/linux/ip_vs.h). The daemon's attributes are nested
// in IPVS_CMD_ATTR_DAEMON; the port is in host order, the groups in
// network order.
const (
	ipvsCmdNewDaemon = 9
	ipvsCmdDelDaemon = 10
	ipvsCmdGetDaemon = 11

	ipvsCmdAttrDaemon = 3

	daemonAttrState       = 1 // u32
	daemonAttrMcastIfn    = 2 // NUL-terminated string
	daemonAttrSyncID      = 3 // u32
	daemonAttrSyncMaxLen  = 4 // u16
	daemonAttrMcastGroup  = 5 // in_addr
	daemonAttrMcastGroup6 = 6 // in6_addr
	daemonAttrMcastPort   = 7 // u16
	daemonAttrMcastTTL    = 8 // u8
)

// daemonAttr encodes IPVS_CMD_ATTR_DAEMON for starting d: the state,
// interface and id the kernel requires, and each parameter d sets (a
// parameter left out gets the kernel's default).
func daemonAttr(d kernel.SyncDaemon) (*nl.RtAttr, error) {
	if d.Interface == "" || len(d.Interface) >= syscall.IFNAMSIZ {
		return nil, fmt.Errorf("interface name %q: %w", d.Interface, syscall.EINVAL)
	}
	a := nl.NewRtAttr(ipvsCmdAttrDaemon, nil)
	a.AddRtAttr(daemonAttrState, nl.Uint32Attr(uint32(d.State)))
	a.AddRtAttr(daemonAttrMcastIfn, nl.ZeroTerminated(d.Interface))
	a.AddRtAttr(daemonAttrSyncID, nl.Uint32Attr(d.SyncID))
	if d.MaxLen != 0 {
		a.AddRtAttr(daemonAttrSyncMaxLen, nl.Uint16Attr(d.MaxLen))
	}
	switch {
	case !d.Group.IsValid():
	case d.Group.Is4():
		g := d.Group.As4()
		a.AddRtAttr(daemonAttrMcastGroup, g[:])
	default:
		g := d.Group.As16()
		a.AddRtAttr(daemonAttrMcastGroup6, g[:])
	}
	if d.Port != 0 {
		a.AddRtAttr(daemonAttrMcastPort, nl.Uint16Attr(d.Port))
	}
	if d.TTL != 0 {
		a.AddRtAttr(daemonAttrMcastTTL, []byte{d.TTL})
	}
	return a, nil
}

// decodeDaemon reads a daemon from an IPVS_CMD_NEW_DAEMON message of the
// kernel's dump. A state other than master or backup is an error, never
// a silent zero.
func decodeDaemon(data []byte) (kernel.SyncDaemon, error) {
	m, err := nested(data, ipvsCmdAttrDaemon)
	if err != nil {
		return kernel.SyncDaemon{}, err
	}
	d := kernel.SyncDaemon{
		State:     kernel.SyncState(u32(m[daemonAttrState])),
		Interface: cstring(m[daemonAttrMcastIfn]),
		SyncID:    u32(m[daemonAttrSyncID]),
		MaxLen:    u16(m[daemonAttrSyncMaxLen]),
		Port:      u16(m[daemonAttrMcastPort]),
	}
	if d.State != kernel.SyncMaster && d.State != kernel.SyncBackup {
		return kernel.SyncDaemon{}, fmt.Errorf("sync daemon of unknown state %d", uint32(d.State))
	}
	if v := m[daemonAttrMcastTTL]; len(v) > 0 {
		d.TTL = v[0]
	}
	if v := m[daemonAttrMcastGroup6]; len(v) >= 16 {
		d.Group = netip.AddrFrom16([16]byte(v[:16]))
	} else if v := m[daemonAttrMcastGroup]; len(v) >= 4 {
		d.Group = netip.AddrFrom4([4]byte(v[:4]))
	}
	return d, nil
}

// SyncDaemons implements kernel.SyncDaemons: one dump, in which the
// kernel sends the master first.
func (k *Kernel) SyncDaemons(ctx context.Context) ([]kernel.SyncDaemon, error) {
	r, err := k.ipvsRequest(ctx, ipvsCmdGetDaemon)
	var out []kernel.SyncDaemon
	if err == nil {
		err = k.genl.dump(ctx, r, func(data []byte) error {
			d, err := decodeDaemon(data)
			if err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	}
	if err != nil {
		return nil, &kernel.OpError{Op: "listing", Object: "sync daemons", Err: err}
	}
	return out, nil
}

// AddSyncDaemon implements kernel.SyncDaemons.
func (k *Kernel) AddSyncDaemon(ctx context.Context, d kernel.SyncDaemon) error {
	a, err := daemonAttr(d)
	if err == nil {
		err = k.ipvsDo(ctx, ipvsCmdNewDaemon, a)
	}
	if err != nil {
		return &kernel.OpError{Op: "starting", Object: "sync daemon " + d.State.String(), Err: err}
	}
	return nil
}

// DelSyncDaemon implements kernel.SyncDaemons.
//
// The stop does not ask for an ack: a no-op sent behind it in the same
// message does. Why: the kernel stops a daemon whose thread has not run
// yet (a stop right after the start, on a busy or one-CPU machine) all
// the same, but kthread_stop then returns -EINTR, stop_sync_thread
// returns that, and netlink_rcv_skb sends no answer at all for -EINTR
// (to netlink it means "interrupted, do not ack"). Waiting for the stop's
// own ack would wait for the deadline — seen on Debian's 6.1 kernel
// under qemu, where the kernel logged "stopping master sync thread N"
// for a thread that never logged its start. The kernel runs the
// requests of one message in order and queues their answers before
// sendmsg returns, so the no-op's ack comes after anything the stop
// answers: a refusal (ESRCH, EINVAL) is still read as one, and silence
// is the stop having been done.
func (k *Kernel) DelSyncDaemon(ctx context.Context, s kernel.SyncState) error {
	a := nl.NewRtAttr(ipvsCmdAttrDaemon, nil)
	a.AddRtAttr(daemonAttrState, nl.Uint32Attr(uint32(s)))
	r, err := k.ipvsRequest(ctx, ipvsCmdDelDaemon, a)
	if err == nil {
		var errs []error
		// A message below NLMSG_MIN_TYPE is not passed to the family:
		// netlink acks it and does nothing.
		errs, err = k.genl.writeBatch(ctx, []request{r, {typ: unix.NLMSG_NOOP}})
		if err == nil {
			err = errs[0]
		}
	}
	if err != nil {
		return &kernel.OpError{Op: "stopping", Object: "sync daemon " + s.String(), Err: err}
	}
	return nil
}
