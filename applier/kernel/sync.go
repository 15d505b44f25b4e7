package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// SyncDaemons are the IPVS connection synchronisation daemons: a master
// sends every connection its director forwards to a multicast group, and
// a backup on another director receives them, so that the backup knows
// the connections when the VIPs move to it. The kernel runs at most one
// master and one backup at a time, and may run both at once.
//
// A daemon's parameters cannot be changed in place: the kernel has no
// such command, so a change is a deletion and a creation.
type SyncDaemons interface {
	// SyncDaemons returns the running daemons, the master first, with
	// the parameters the kernel runs them with (its defaults filled in).
	SyncDaemons(ctx context.Context) ([]SyncDaemon, error)
	// AddSyncDaemon starts a daemon (EEXIST: one of its state runs;
	// ENODEV: no such interface; EINVAL: a group that is not
	// multicast, or no state).
	AddSyncDaemon(ctx context.Context, d SyncDaemon) error
	// DelSyncDaemon stops the daemon of state s (ESRCH: none runs).
	DelSyncDaemon(ctx context.Context, s SyncState) error
}

// SyncState is a sync daemon's role, IP_VS_STATE_MASTER or
// IP_VS_STATE_BACKUP in include/uapi/linux/ip_vs.h.
type SyncState uint32

// The sync daemon states.
const (
	SyncMaster SyncState = 1
	SyncBackup SyncState = 2
)

func (s SyncState) String() string {
	switch s {
	case SyncMaster:
		return "master"
	case SyncBackup:
		return "backup"
	}
	return fmt.Sprintf("state %d", uint32(s))
}

// ParseSyncState reads "master" or "backup".
func ParseSyncState(s string) (SyncState, error) {
	switch s {
	case "master":
		return SyncMaster, nil
	case "backup":
		return SyncBackup, nil
	}
	return 0, fmt.Errorf("unknown sync daemon state %q (want master or backup)", s)
}

// MarshalJSON writes the state as a word.
func (s SyncState) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads what MarshalJSON writes; another word is an error.
func (s *SyncState) UnmarshalJSON(b []byte) error {
	var w string
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	v, err := ParseSyncState(w)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// SyncDefaultGroup is the group the kernel sends to and listens on when
// a daemon is started without one (IP_VS_SYNC_GROUP in
// net/netfilter/ipvs/ip_vs_sync.c).
var SyncDefaultGroup = netip.MustParseAddr("224.0.0.81")

// The kernel's default port and TTL for a daemon started without them,
// and the sizes that bound a daemon's largest message.
const (
	SyncDefaultPort = 8848
	SyncDefaultTTL  = 1
	// SyncMaxLenLimit is the largest message a daemon takes, less its
	// IP and UDP headers (SyncHeaderLen): the kernel clamps a larger
	// maxlen to it.
	SyncMaxLenLimit = 65535
	// SyncBackupMinMaxLen is the smallest maxlen the kernel gives a
	// backup: a smaller one is raised to it.
	SyncBackupMinMaxLen = 1024
)

// SyncHeaderLen is the length of the IP and UDP headers of a sync
// message to group g: what a message adds to its maxlen on the wire.
func SyncHeaderLen(g netip.Addr) int {
	if g.Is6() && !g.Is4In6() {
		return 40 + 8
	}
	return 20 + 8
}

// SyncDaemon is a running sync daemon. Read back from the kernel, every
// field is set: the kernel fills in the defaults of those written as
// zero (Group, Port, TTL, and MaxLen, which it takes from the MTU it
// assumes: 1500 for a master, the interface's for a backup).
type SyncDaemon struct {
	State SyncState `json:"state"`
	// Interface sends (master) or receives (backup) the messages.
	Interface string `json:"interface"`
	// SyncID tags the messages: a backup takes only those of its id.
	SyncID uint32 `json:"syncID"`
	// MaxLen is the largest UDP payload of a message; 0 is the
	// kernel's default.
	MaxLen uint16 `json:"maxlen,omitempty"`
	// Group is the multicast group (IPv4 or IPv6); invalid is the
	// kernel's default.
	Group netip.Addr `json:"group,omitzero"`
	// Port is the group's UDP port; 0 is the kernel's default.
	Port uint16 `json:"port,omitempty"`
	// TTL is the messages' hop limit; 0 is the kernel's default.
	TTL uint8 `json:"ttl,omitempty"`
}

// String is the daemon as `ipvsadm -L --daemon` lists it (ipvsadm 1.29
// and later), with the fields that are set.
func (d SyncDaemon) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sync daemon (mcast=%s, syncid=%d", d.State, d.Interface, d.SyncID)
	if d.MaxLen != 0 {
		fmt.Fprintf(&b, ", maxlen=%d", d.MaxLen)
	}
	if d.Group.IsValid() {
		fmt.Fprintf(&b, ", group=%s", d.Group)
	}
	if d.Port != 0 {
		fmt.Fprintf(&b, ", port=%d", d.Port)
	}
	if d.TTL != 0 {
		fmt.Fprintf(&b, ", ttl=%d", d.TTL)
	}
	b.WriteString(")")
	return b.String()
}

// Runs reports whether o, a daemon read from the kernel, is d as it was
// asked for: the same state, interface and id, and the same value of
// each parameter d sets (one d leaves to the kernel may be anything).
func (d SyncDaemon) Runs(o SyncDaemon) bool {
	return d.State == o.State && d.Interface == o.Interface && d.SyncID == o.SyncID &&
		(d.MaxLen == 0 || d.MaxLen == o.MaxLen) &&
		(!d.Group.IsValid() || d.Group == o.Group) &&
		(d.Port == 0 || d.Port == o.Port) &&
		(d.TTL == 0 || d.TTL == o.TTL)
}
