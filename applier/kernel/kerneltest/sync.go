package kerneltest

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// syncTests are the tests of kernel.SyncDaemons.
var syncTests = []test{
	{"Sync", testSync},
	{"Sync/Defaults", testSyncDefaults},
	{"Sync/Refused", testSyncRefused},
	{"Sync/MaxLenBounds", testSyncMaxLen},
	{"Sync/MixedFamilies", testSyncMixed},
	{"Sync/OpErrors", testSyncOpErrors},
	{"Sync/StopAtOnce", testSyncStopAtOnce},
}

// syncHost gives Device an address, as a director's sync interface has:
// a master sends from it.
func (s *suite) syncHost() {
	s.t.Helper()
	s.must(s.k.AddAddress(s.ctx, kernel.Address{Device: Device, Prefix: netip.MustParsePrefix("10.9.0.2/24")}))
}

func (s *suite) daemons() []kernel.SyncDaemon {
	s.t.Helper()
	ds, err := s.k.SyncDaemons(s.ctx)
	s.must(err)
	return ds
}

// testSync: a master and a backup run at once, each read back with the
// parameters it was given, the master first; one of each at most; each
// stops alone.
func testSync(t *testing.T, s *suite) {
	s.syncHost()
	s.diff("daemons of a fresh kernel", s.daemons(), []kernel.SyncDaemon(nil))
	master := kernel.SyncDaemon{State: kernel.SyncMaster, Interface: Device, SyncID: 7, MaxLen: 1400,
		Group: netip.MustParseAddr("239.1.2.3"), Port: 9000, TTL: 2}
	backup := kernel.SyncDaemon{State: kernel.SyncBackup, Interface: Device, SyncID: 8, MaxLen: 1200,
		Group: netip.MustParseAddr("239.1.2.4"), Port: 9001, TTL: 3}
	s.must(s.k.AddSyncDaemon(s.ctx, backup))
	s.must(s.k.AddSyncDaemon(s.ctx, master))
	s.diff("master and backup", s.daemons(), []kernel.SyncDaemon{master, backup})

	// The kernel runs one daemon of each state: a second master, even
	// with other parameters, is refused, and the first one runs on.
	other := master
	other.SyncID = 9
	s.wantErr("starting a second master", s.k.AddSyncDaemon(s.ctx, other), syscall.EEXIST)
	s.diff("after a refused second master", s.daemons(), []kernel.SyncDaemon{master, backup})

	s.must(s.k.DelSyncDaemon(s.ctx, kernel.SyncMaster))
	s.diff("backup alone", s.daemons(), []kernel.SyncDaemon{backup})
	s.wantErr("stopping the master twice", s.k.DelSyncDaemon(s.ctx, kernel.SyncMaster), syscall.ESRCH)
	s.must(s.k.DelSyncDaemon(s.ctx, kernel.SyncBackup))
	s.diff("no daemon", s.daemons(), []kernel.SyncDaemon(nil))

	// A daemon's parameters change by stopping and starting it.
	s.must(s.k.AddSyncDaemon(s.ctx, master))
	s.must(s.k.DelSyncDaemon(s.ctx, kernel.SyncMaster))
	s.must(s.k.AddSyncDaemon(s.ctx, other))
	s.diff("master restarted with another id", s.daemons(), []kernel.SyncDaemon{other})
}

// testSyncDefaults: what a daemon is started without, the kernel fills
// in: group 224.0.0.81, port 8848, TTL 1, and the largest message an MTU
// of 1500 takes less the IPv4 and UDP headers (the interface's MTU, 1500,
// for a backup; 1500 whatever the MTU for a master).
func testSyncDefaults(t *testing.T, s *suite) {
	s.syncHost()
	s.must(s.k.AddSyncDaemon(s.ctx, kernel.SyncDaemon{State: kernel.SyncMaster, Interface: Device, SyncID: 1}))
	s.must(s.k.AddSyncDaemon(s.ctx, kernel.SyncDaemon{State: kernel.SyncBackup, Interface: Device, SyncID: 1}))
	want := kernel.SyncDaemon{Interface: Device, SyncID: 1, MaxLen: 1472, Group: netip.MustParseAddr("224.0.0.81"), Port: 8848, TTL: 1}
	m, b := want, want
	m.State, b.State = kernel.SyncMaster, kernel.SyncBackup
	got := s.daemons()
	s.diff("daemons with the kernel's defaults", got, []kernel.SyncDaemon{m, b})
	asked := kernel.SyncDaemon{State: kernel.SyncMaster, Interface: Device, SyncID: 1}
	if !asked.Runs(got[0]) {
		t.Errorf("%v does not run %v", got[0], asked)
	}
	if asked.SyncID = 2; asked.Runs(got[0]) {
		t.Errorf("%v runs %v", got[0], asked)
	}
}

// testSyncRefused: an unknown interface, a group that is not multicast
// and an unknown state are refused, and nothing runs after.
func testSyncRefused(t *testing.T, s *suite) {
	s.syncHost()
	s.wantErr("a daemon on a missing interface",
		s.k.AddSyncDaemon(s.ctx, kernel.SyncDaemon{State: kernel.SyncBackup, Interface: "nosuch0", SyncID: 1}), syscall.ENODEV)
	s.wantErr("a unicast group",
		s.k.AddSyncDaemon(s.ctx, kernel.SyncDaemon{State: kernel.SyncMaster, Interface: Device, SyncID: 1, Group: netip.MustParseAddr("10.9.0.3")}), syscall.EINVAL)
	s.wantErr("a daemon of state 3",
		s.k.AddSyncDaemon(s.ctx, kernel.SyncDaemon{State: 3, Interface: Device, SyncID: 1}), syscall.EINVAL)
	s.wantErr("stopping a daemon of state 4", s.k.DelSyncDaemon(s.ctx, 4), syscall.EINVAL)
	s.diff("daemons after refusals", s.daemons(), []kernel.SyncDaemon(nil))
}

// testSyncMaxLen: the kernel raises a backup's maxlen to 1024 and keeps a
// master's small one.
func testSyncMaxLen(t *testing.T, s *suite) {
	s.syncHost()
	s.must(s.k.AddSyncDaemon(s.ctx, kernel.SyncDaemon{State: kernel.SyncMaster, Interface: Device, SyncID: 1, MaxLen: 600}))
	s.must(s.k.AddSyncDaemon(s.ctx, kernel.SyncDaemon{State: kernel.SyncBackup, Interface: Device, SyncID: 1, MaxLen: 600}))
	got := s.daemons()
	if len(got) != 2 || got[0].MaxLen != 600 || got[1].MaxLen != kernel.SyncBackupMinMaxLen {
		t.Fatalf("maxlen 600 read back as %v, want 600 for the master and %d for the backup", got, kernel.SyncBackupMinMaxLen)
	}
}

// testSyncMixed: a table with an IPv6 destination behind an IPv4 service
// (a tunnel) cannot be synced, and the kernel refuses to start a daemon.
func testSyncMixed(t *testing.T, s *suite) {
	s.syncHost()
	svc := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.30"), Port: 80}, Scheduler: "rr"}
	s.must(s.k.AddService(s.ctx, svc))
	s.must(s.k.AddDestination(s.ctx, svc.ServiceKey, ipvs.Destination{Addr: netip.MustParseAddr("2001:db8:30::11"), Port: 80, Forward: ipvs.Tunnel, Weight: 1}))
	s.wantErr("a daemon beside mixed families",
		s.k.AddSyncDaemon(s.ctx, kernel.SyncDaemon{State: kernel.SyncMaster, Interface: Device, SyncID: 1}), syscall.EINVAL)
}

// testSyncOpErrors: errors name the operation and the daemon.
func testSyncOpErrors(t *testing.T, s *suite) {
	s.syncHost()
	d := kernel.SyncDaemon{State: kernel.SyncBackup, Interface: Device, SyncID: 1}
	s.must(s.k.AddSyncDaemon(s.ctx, d))
	s.wantOpError(s.k.AddSyncDaemon(s.ctx, d), "starting", "sync daemon backup", syscall.EEXIST)
	s.wantOpError(s.k.DelSyncDaemon(s.ctx, kernel.SyncMaster), "stopping", "sync daemon master", syscall.ESRCH)
}

// testSyncStopAtOnce: a daemon stopped right after its start is stopped,
// and the stop returns, every time. The kernel stops a daemon whose
// thread has not run yet all the same, but answers nothing for it (see
// the netlink kernel's DelSyncDaemon); on Debian's 6.1 kernel under qemu
// the first round met it in both runs made before DelSyncDaemon stopped
// waiting for that answer, and twenty rounds of both states make a
// machine where it is rarer meet it too.
func testSyncStopAtOnce(t *testing.T, s *suite) {
	s.syncHost()
	for i := range 20 {
		for _, st := range []kernel.SyncState{kernel.SyncMaster, kernel.SyncBackup} {
			s.must(s.k.AddSyncDaemon(s.ctx, kernel.SyncDaemon{State: st, Interface: Device, SyncID: uint32(i + 1)}))
			if err := s.k.DelSyncDaemon(s.ctx, st); err != nil {
				t.Fatalf("round %d: stopping the %s just started: %v", i+1, st, err)
			}
		}
		s.diff(fmt.Sprintf("round %d: daemons after each was stopped at once", i+1), s.daemons(), []kernel.SyncDaemon(nil))
	}
}
