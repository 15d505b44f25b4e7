//go:build e2eguest

package failover

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/applier/kernel/netlink"
	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
	"github.com/lvsgen/lvsgen/ipvs"
)

const (
	vip  = "10.0.0.100"
	port = 9000
)

// serveLines answers each line a client sends on a connection with the
// node's name: a long-lived connection that says which real server holds
// it, line after line.
func serveLines(t *testing.T, n *topo.Node) {
	var l net.Listener
	if err := n.Do(func() error {
		var err error
		l, err = net.Listen("tcp4", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		t.Fatalf("%s: listen: %v", n.Name, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
					if _, err := c.Write([]byte(n.Name + "\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
}

// director programs the IPVS service on a director with lvsgen's netlink
// kernel, and its sync daemon when d is set.
func director(t *testing.T, n *topo.Node, reals []string, d *kernel.SyncDaemon) {
	ctx := context.Background()
	k, err := netlink.New(netlink.WithNetNS(n.NsHandle()))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	svc := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr(vip), Port: port}, Scheduler: "rr"}
	if err := k.AddService(ctx, svc); err != nil {
		t.Fatalf("%s: %v", n.Name, err)
	}
	for _, r := range reals {
		if err := k.AddDestination(ctx, svc.ServiceKey, ipvs.Destination{Addr: netip.MustParseAddr(r), Port: port, Forward: ipvs.Route, Weight: 1}); err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
	}
	if d == nil {
		return
	}
	if err := k.AddSyncDaemon(ctx, *d); err != nil {
		t.Fatalf("%s: %v", n.Name, err)
	}
	got, err := k.SyncDaemons(ctx)
	if err != nil || len(got) != 1 || !d.Runs(got[0]) {
		t.Fatalf("%s: sync daemons %v (%v), want %v", n.Name, got, err, *d)
	}
	// lvsgen renders a daemon as ipvsadm lists it.
	if out := n.MustRun("ipvsadm", "-L", "--daemon").Stdout; out != got[0].String()+"\n" {
		t.Errorf("%s: ipvsadm -L --daemon prints %q, lvsgen %q", n.Name, out, got[0].String()+"\n")
	}
	t.Logf("%s: %s", n.Name, got[0])
}

// exchange sends a line on c and reads the name of the real server that
// answers.
func exchange(c net.Conn) (string, error) {
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// failover builds a LAN with a client, directors A and B carrying the
// same DR service with two real servers, opens a connection through A,
// moves the VIP to B as VRRP would (deleted on A, added on B, a
// gratuitous ARP from B), and returns the real server that answered
// before and the answer after (or its error).
func failover(t *testing.T, sync bool) (before string, after string, afterErr error) {
	tp := topo.New(t)
	lan := tp.Subnet("lan", "10.0.0.0/24")
	client := tp.Client("client", lan, "10.0.0.10")
	a := tp.Director("a", lan, "10.0.0.2")
	b := tp.Director("b", lan, "10.0.0.3")
	reals := []string{"10.0.0.11", "10.0.0.12"}
	for i, r := range reals {
		rs := tp.RealServer(fmt.Sprintf("rs%d", i+1), lan, r)
		rs.ConfigureDR(vip)
		serveLines(t, rs)
	}
	var ma, mb *kernel.SyncDaemon
	if sync {
		ma = &kernel.SyncDaemon{State: kernel.SyncMaster, Interface: "eth0", SyncID: 51}
		mb = &kernel.SyncDaemon{State: kernel.SyncBackup, Interface: "eth0", SyncID: 51}
	}
	director(t, a, reals, ma)
	director(t, b, reals, mb)
	a.AddAddr("eth0", vip)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, "tcp4", fmt.Sprintf("%s:%d", vip, port))
	if err != nil {
		t.Fatalf("connecting through A: %v", err)
	}
	defer c.Close()
	// Enough packets for the master to sync the connection (it sends a
	// connection from its third packet on), then time for it to flush
	// its buffer (at most two seconds).
	for i := range 5 {
		name, err := exchange(c)
		if err != nil {
			t.Fatalf("exchange %d through A: %v", i, err)
		}
		if before != "" && name != before {
			t.Fatalf("exchange %d through A answered by %s, then %s", i, before, name)
		}
		before = name
	}
	time.Sleep(3 * time.Second)
	t.Logf("B's connections before the failover:\n%s", b.MustRun("ipvsadm", "-Lnc").Stdout)

	a.MustRun("ip", "addr", "del", vip+"/32", "dev", "eth0")
	b.AddAddr("eth0", vip)
	b.MustRun("arping", "-U", "-c", "1", "-I", "eth0", "-s", vip, vip)
	link, err := b.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	neigh := client.MustRun("ip", "neigh", "show", vip).Stdout
	if !strings.Contains(neigh, link.Attrs().HardwareAddr.String()) {
		t.Fatalf("the client's neighbour entry for %s is %q after B's gratuitous ARP, not B's %s", vip, neigh, link.Attrs().HardwareAddr)
	}
	after, afterErr = exchange(c)
	t.Logf("B's connections after the failover:\n%s", b.MustRun("ipvsadm", "-Lnc").Stdout)
	return before, after, afterErr
}

// TestFailoverSync: with a master sync daemon on A and a backup on B, the
// connection opened through A goes on through B, to the same real server.
func TestFailoverSync(t *testing.T) {
	guest.Require(t)
	before, after, err := failover(t, true)
	if err != nil {
		t.Fatalf("after the failover to B: %v (the connection was held by %s)", err, before)
	}
	if after != before {
		t.Fatalf("after the failover to B the connection is answered by %s, before by %s", after, before)
	}
	t.Logf("connection held by %s before and after the failover", before)
}

// TestFailoverWithoutSync is the same without sync daemons: B knows
// nothing of the connection, takes its next packet for the VIP itself
// and resets it. It proves that what keeps the connection in
// TestFailoverSync is the sync.
func TestFailoverWithoutSync(t *testing.T) {
	guest.Require(t)
	before, after, err := failover(t, false)
	if err == nil {
		t.Fatalf("without sync, the connection held by %s went on through B, answered by %s", before, after)
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("without sync, the connection failed with %v, want a reset from B", err)
	}
	t.Logf("without sync, the connection through B fails: %v", err)
}
