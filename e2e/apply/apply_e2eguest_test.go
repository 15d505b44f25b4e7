//go:build e2eguest

package apply

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

const requests = 20

// lab is a topology whose lvsgen hosts are configured by `lvsgen apply`
// run inside their own namespaces, from one config directory, as on real
// machines.
type lab struct {
	t      *testing.T
	lvsgen string
	state  string
	hosts  map[string]*topo.Node // lvsgen host name → node
	client *topo.Node
}

func newLab(t *testing.T) *lab {
	return &lab{t: t, lvsgen: guest.Lvsgen(t), state: t.TempDir(), hosts: map[string]*topo.Node{}}
}

// newTwoLANLab is the lab of TestApplyNAT and TestApplyTUN: the client
// (10.0.1.10) and the director dir (10.0.1.2) on the front LAN
// 10.0.1.0/24, dir also on the back LAN 10.0.2.0/24 at dirBack, where
// the real servers go.
func newTwoLANLab(t *testing.T, tp *topo.Topology, dirBack string) (l *lab, front, back *topo.Subnet) {
	t.Helper()
	front = tp.Subnet("front", "10.0.1.0/24")
	back = tp.Subnet("back", "10.0.2.0/24")
	l = newLab(t)
	l.client = tp.Client("client", front, "10.0.1.10")
	dir := tp.Node("dir", front, "10.0.1.2")
	dir.Attach(back, dirBack)
	l.hosts["dir"] = dir
	return l, front, back
}

// run runs lvsgen on host h's node with the per-host state directory and
// no persisted files (the VM's /etc is shared by every namespace).
func (l *lab) run(h string, args ...string) guest.Result {
	l.t.Helper()
	n := l.hosts[h]
	args = append(args, "--host", h, "--state-dir", filepath.Join(l.state, h))
	if args[0] == "apply" {
		args = append(args, "--auto-approve", "--rules-file", "", "--sysctl-file", "", "--nft-file", "")
	}
	res, err := n.Run(l.lvsgen, args...)
	if err != nil {
		l.t.Fatalf("lvsgen %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// apply applies dir on every host (real servers first, then directors)
// and fails unless each succeeds.
func (l *lab) apply(dir string, order ...string) {
	l.t.Helper()
	for _, h := range order {
		res := l.run(h, "apply", dir)
		if res.Exit != 0 {
			l.t.Fatalf("lvsgen apply --host %s: exit %d\n%s%s", h, res.Exit, res.Stdout, res.Stderr)
		}
		l.t.Logf("lvsgen apply --host %s:\n%s", h, res.Stdout)
	}
}

// noChanges asserts that a second apply on every host changes nothing.
func (l *lab) noChanges(dir string, order ...string) {
	l.t.Helper()
	for _, h := range order {
		res := l.run(h, "plan", dir, "--detailed-exitcode")
		if res.Exit != 0 || !strings.Contains(res.Stdout, "no changes") {
			l.t.Errorf("plan after apply on %s: exit %d, want 0 and no changes\n%s%s", h, res.Exit, res.Stdout, res.Stderr)
		}
	}
}

// realServers adds a node per address on sub, named rs1, rs2, … in
// turn, to the lab's hosts, serving HTTP on port; prepare, when not nil,
// runs on each before it serves.
func (l *lab) realServers(tp *topo.Topology, sub *topo.Subnet, port int, prepare func(*topo.Node), addrs ...string) {
	l.t.Helper()
	for i, a := range addrs {
		rs := tp.Node(fmt.Sprintf("rs%d", i+1), sub, a)
		if prepare != nil {
			prepare(rs)
		}
		rs.ServeHTTP(port)
		l.hosts[rs.Name] = rs
	}
}

// applyAll applies cfg on rs1, rs2 and then dir, checks that requests to
// vip split across the real servers as want, and that a second apply on
// every host changes nothing.
func (l *lab) applyAll(cfg, what, vip string, want map[string]int) {
	l.t.Helper()
	order := []string{"rs1", "rs2", "dir"}
	l.apply(cfg, order...)
	topo.CheckSplit(l.t, what, l.client.HTTPRequests(vip, requests), want)
	l.noChanges(cfg, order...)
}

func data(t *testing.T, name string) string {
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestApplyNAT: apply from one config on director and real servers makes
// the VIP answer with port mapping; a second apply is a no-op; a hand-made
// ipvsadm change is shown and repaired; an unmanaged service survives; a
// removed real server drains before it is deleted.
func TestApplyNAT(t *testing.T) {
	guest.Require(t)
	tp := topo.New(t)
	l, _, back := newTwoLANLab(t, tp, "10.0.2.1")
	dir := l.hosts["dir"]
	l.realServers(tp, back, 8080, nil, "10.0.2.11", "10.0.2.12")
	cfg := data(t, "nat")
	l.applyAll(cfg, "NAT rr 80->8080 after apply", "10.0.1.100:80", map[string]int{"rs1": 10, "rs2": 10})

	// By hand, as an operator might: a weight changed, a service added.
	dir.MustRun("ipvsadm", "-e", "-t", "10.0.1.100:80", "-r", "10.0.2.11:8080", "-m", "-w", "5")
	dir.MustRun("ipvsadm", "-A", "-t", "10.0.1.200:22", "-s", "rr")
	res := l.run("dir", "plan", cfg)
	for _, want := range []string{"~ destination tcp:10.0.1.100:80 -> 10.0.2.11:8080  weight: 5 → 1", "? service   tcp:10.0.1.200:22  unmanaged"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("plan after a hand-made change lacks %q:\n%s", want, res.Stdout)
		}
	}
	l.apply(cfg, "dir")
	save := dir.MustRun("ipvsadm", "-S", "-n").Stdout
	if !strings.Contains(save, "-a -t 10.0.1.100:80 -r 10.0.2.11:8080 -m -w 1\n") {
		t.Errorf("drift not repaired:\n%s", save)
	}
	if !strings.Contains(save, "-A -t 10.0.1.200:22 -s rr\n") {
		t.Errorf("the unmanaged service was deleted:\n%s", save)
	}

	// rs2 leaves the config while a client holds a connection to it.
	hold, err := l.client.DialContext(t.Context(), "tcp", "10.0.1.100:80")
	if err != nil {
		t.Fatal(err)
	}
	hold2, err := l.client.DialContext(t.Context(), "tcp", "10.0.1.100:80")
	if err != nil {
		t.Fatal(err)
	}
	one := data(t, "nat-one")
	l.apply(one, "dir")
	save = dir.MustRun("ipvsadm", "-S", "-n").Stdout
	if !strings.Contains(save, "-r 10.0.2.12:8080 -m -w 0\n") {
		t.Fatalf("rs2 should be draining at weight 0:\n%s", save)
	}
	topo.CheckSplit(t, "NAT while rs2 drains", l.client.HTTPRequests("10.0.1.100:80", 6), map[string]int{"rs1": 6})
	res = l.run("dir", "plan", one)
	if !strings.Contains(res.Stdout, "= destination tcp:10.0.1.100:80 -> 10.0.2.12:8080") || !strings.Contains(res.Stdout, "active connections") {
		t.Errorf("plan while draining:\n%s", res.Stdout)
	}
	hold.Close()
	hold2.Close()
	// The kernel counts a closed connection as inactive once FIN is
	// seen; give it a moment.
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.apply(one, "dir")
		save = dir.MustRun("ipvsadm", "-S", "-n").Stdout
		if !strings.Contains(save, "10.0.2.12") || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if strings.Contains(save, "10.0.2.12") {
		t.Errorf("rs2 still there after its connections ended:\n%s", save)
	}
	l.noChanges(one, "dir")
}

// TestApplyDR: direct routing on one LAN, VIP on the director's dummy
// device, VIP on lo and ARP settings on the real servers, all by apply.
func TestApplyDR(t *testing.T) {
	guest.Require(t)
	tp := topo.New(t)
	lan := tp.Subnet("lan", "10.0.3.0/24")
	l := newLab(t)
	l.client = tp.Client("client", lan, "10.0.3.10")
	l.hosts["dir"] = tp.Node("dir", lan, "10.0.3.2")
	l.realServers(tp, lan, 80, nil, "10.0.3.11", "10.0.3.12")
	l.applyAll(data(t, "dr"), "DR rr after apply", "10.0.3.100:80", map[string]int{"rs1": 10, "rs2": 10})
	if v := l.hosts["rs1"].ReadSysctl("net.ipv4.conf.all.arp_ignore"); v != "1" {
		t.Errorf("rs1 arp_ignore = %s", v)
	}
}

// TestApplyTUN: ipip tunnelling with wrr 3:1; replies go through a router
// the test sets up by hand (lvsgen does not manage it).
func TestApplyTUN(t *testing.T) {
	guest.Require(t)
	tp := topo.New(t)
	l, front, back := newTwoLANLab(t, tp, "10.0.2.2")
	router := tp.Router("router", front, "10.0.1.1")
	router.Attach(back, "10.0.2.1")
	l.realServers(tp, back, 80, func(rs *topo.Node) { rs.DefaultRoute("10.0.2.1") }, "10.0.2.11", "10.0.2.12")
	l.applyAll(data(t, "tun"), "TUN wrr 3:1 after apply", "10.0.1.100:80", map[string]int{"rs1": 15, "rs2": 5})
}
