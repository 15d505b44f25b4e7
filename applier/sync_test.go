package applier

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/plan"
)

// TestSyncDaemons: a cluster's sync starts a master and a backup on its
// director; one stopped by hand is drift the next apply repairs; a
// changed id restarts both; a daemon lvsgen did not start is never
// stopped, and one that differs from the config's is a problem; removing
// sync stops what lvsgen started.
func TestSyncDaemons(t *testing.T) {
	ctx := context.Background()
	hosts, cfg := compile(t, web+`clusters: dr: sync: {id: 51, interface: "eth0"}
`)
	k := hostKernel(t, cfg.Hosts["lb1"])
	st := plan.NewState("lb1")
	opt := plan.Options{DrainTimeout: plan.DefaultDrainTimeout, Now: t0}
	step(t, k, hosts["lb1"], &st, opt)

	daemon := func(s kernel.SyncState, id uint32) kernel.SyncDaemon {
		return kernel.SyncDaemon{State: s, Interface: "eth0", SyncID: id, MaxLen: 1472, Group: netip.MustParseAddr("224.0.0.81"), Port: 8848, TTL: 1}
	}
	check := func(what string, want ...kernel.SyncDaemon) {
		t.Helper()
		got, err := k.SyncDaemons(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
			t.Fatalf("%s: sync daemons (-want +got):\n%s", what, d)
		}
	}
	check("after the first apply", daemon(kernel.SyncMaster, 51), daemon(kernel.SyncBackup, 51))
	if d := cmp.Diff([]kernel.SyncState{kernel.SyncMaster, kernel.SyncBackup}, st.SyncDaemons); d != "" {
		t.Errorf("owned daemons (-want +got):\n%s", d)
	}
	if p := replan(t, k, hosts["lb1"], st, opt); p.Changes() != 0 {
		t.Fatalf("second plan not empty:\n%s", planText(p))
	}

	// Drift: the master stopped by hand is started again.
	if err := k.DelSyncDaemon(ctx, kernel.SyncMaster); err != nil {
		t.Fatal(err)
	}
	p := step(t, k, hosts["lb1"], &st, opt)
	if text := planText(p); p.Changes() != 1 || !strings.Contains(text, "master sync daemon") || !strings.Contains(text, "cluster dr") {
		t.Fatalf("plan after the master stopped:\n%s", text)
	}
	check("after the repair", daemon(kernel.SyncMaster, 51), daemon(kernel.SyncBackup, 51))

	// Another id: both restarted with it.
	hosts52, _ := compile(t, web+`clusters: dr: sync: {id: 52, interface: "eth0"}
`)
	p = step(t, k, hosts52["lb1"], &st, opt)
	if text := planText(p); p.Changes() != 2 || !strings.Contains(text, "syncid: 51 → 52") {
		t.Fatalf("plan for a new id:\n%s", text)
	}
	check("after the new id", daemon(kernel.SyncMaster, 52), daemon(kernel.SyncBackup, 52))
	if p := replan(t, k, hosts52["lb1"], st, opt); p.Changes() != 0 {
		t.Fatalf("plan after the new id not empty:\n%s", planText(p))
	}

	// A host whose state file knows nothing of the daemons (lost, or
	// someone else started them): the same daemons are taken over,
	// different ones are a problem and are not touched.
	if p := replan(t, k, hosts52["lb1"], plan.NewState("lb1"), opt); p.Changes() != 0 || len(p.Problems) != 0 {
		t.Fatalf("plan with the daemons running as wanted, not owned:\n%s", planText(p))
	}
	p = replan(t, k, hosts["lb1"], plan.NewState("lb1"), opt)
	if p.Changes() != 0 || len(p.Problems) != 2 || !strings.Contains(p.Problems[0], "ipvsadm --stop-daemon master") {
		t.Fatalf("plan with other daemons running, not owned: problems %q\n%s", p.Problems, planText(p))
	}

	// No more sync: lvsgen stops what it started...
	none, _ := compile(t, web)
	p = step(t, k, none["lb1"], &st, opt)
	if p.Changes() != 2 {
		t.Fatalf("plan without sync:\n%s", planText(p))
	}
	check("without sync")
	if len(st.SyncDaemons) != 0 {
		t.Errorf("state still owns %v", st.SyncDaemons)
	}
	// ... and only that.
	if err := k.AddSyncDaemon(ctx, daemon(kernel.SyncBackup, 9)); err != nil {
		t.Fatal(err)
	}
	if p := replan(t, k, none["lb1"], st, opt); p.Changes() != 0 {
		t.Fatalf("plan with a daemon lvsgen did not start:\n%s", planText(p))
	}
}
