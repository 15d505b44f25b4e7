//go:build linux

// Package topo builds small networks of Linux network namespaces for guest
// tests in the e2e VM: clients, directors, real servers and routers, joined
// by bridges (subnets). Each Topology lives in its own namespaces, named
// "<prefix>-<node>" under /run/netns (so `ip netns exec` and moby/ipvs can
// reach them), and is torn down by the test's cleanup, so every test starts
// fresh.
//
// Building methods fail the test on error (t.Fatal) and must be called from
// the test's goroutine. A typical DR test:
//
//	tp := topo.New(t)
//	lan := tp.Subnet("lan", "10.0.0.0/24")
//	client := tp.Client("client", lan, "10.0.0.10")
//	dir := tp.Director("dir", lan, "10.0.0.2")
//	dir.AddAddr("eth0", "10.0.0.100/32")
//	rs := tp.RealServer("rs1", lan, "10.0.0.11")
//	rs.ConfigureDR("10.0.0.100")
//	rs.ServeHTTP(80)
//	dir.MustRun("ipvsadm", "-A", "-t", "10.0.0.100:80", "-s", "rr")
//	...
//	names := client.HTTPRequests("10.0.0.100:80", 20)
package topo

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/e2e/guest"
)

// NetnsDir is where named network namespaces are bind-mounted.
const NetnsDir = "/run/netns"

var topoSeq atomic.Int32

// Topology is a set of namespaces (nodes) and bridges (subnets) owned by one
// test.
type Topology struct {
	t      testing.TB
	prefix string
	sw     *Node // holds the bridges; not a participant
	nodes  []*Node
	subs   map[string]*Subnet

	mu      sync.Mutex
	closers []func()
	closed  bool
}

// Subnet is an L2 segment: a bridge in the topology's switch namespace.
type Subnet struct {
	// Name is the subnet's name as given to Topology.Subnet.
	Name string
	// Prefix is the subnet's address range.
	Prefix netip.Prefix
	bridge netlink.Link
	ports  int
}

// Node is a network namespace taking part in a topology.
type Node struct {
	// Name is the node's name within the topology (answers of its servers
	// carry it).
	Name string
	topo *Topology
	ns   netns.NsHandle
	full string // namespace name under NetnsDir
	h    *netlink.Handle
	idx  int
	nifs int
}

// New creates an empty topology whose namespaces are removed when the test
// ends.
func New(t testing.TB) *Topology {
	t.Helper()
	tp := &Topology{
		t:      t,
		prefix: fmt.Sprintf("t%d", topoSeq.Add(1)),
		subs:   map[string]*Subnet{},
	}
	t.Cleanup(tp.Close)
	tp.sw = tp.newNode("switch")
	return tp
}

// Close stops the servers and deletes the namespaces; the kernel then
// destroys their interfaces. It is called by the test's cleanup.
func (tp *Topology) Close() {
	tp.mu.Lock()
	if tp.closed {
		tp.mu.Unlock()
		return
	}
	tp.closed = true
	closers := tp.closers
	tp.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
	for _, n := range append(tp.nodes, tp.sw) {
		if n == nil {
			continue
		}
		if n.h != nil {
			n.h.Close()
		}
		n.ns.Close()
		if err := netns.DeleteNamed(n.full); err != nil {
			tp.t.Logf("topo: delete namespace %s: %v", n.full, err)
		}
	}
}

func (tp *Topology) onClose(f func()) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.closers = append(tp.closers, f)
}

// Prefix is the topology's namespace name prefix (namespaces are named
// "<prefix>-<node>").
func (tp *Topology) Prefix() string { return tp.prefix }

func (tp *Topology) fatalf(format string, args ...any) {
	tp.t.Helper()
	tp.t.Fatalf("topo: "+format, args...)
}

// newNode creates a named namespace with lo up.
func (tp *Topology) newNode(name string) *Node {
	tp.t.Helper()
	full := tp.prefix + "-" + name
	ns, err := newNamedNS(full)
	if err != nil {
		tp.fatalf("create namespace %s: %v", full, err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		_ = netns.DeleteNamed(full)
		tp.fatalf("netlink handle in %s: %v", full, err)
	}
	n := &Node{Name: name, topo: tp, ns: ns, full: full, h: h}
	if tp.sw == nil {
		n.idx = -1
	} else {
		n.idx = len(tp.nodes)
		tp.nodes = append(tp.nodes, n)
	}
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		tp.fatalf("%s: set lo up: %v", name, err)
	}
	return n
}

// newNamedNS creates a network namespace bind-mounted at NetnsDir/name
// without moving the calling goroutine's thread into it for good.
func newNamedNS(name string) (netns.NsHandle, error) {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return netns.None(), fmt.Errorf("create %s: %w", NetnsDir, err)
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return netns.None(), fmt.Errorf("get current namespace: %w", err)
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name)
	if serr := netns.Set(orig); serr != nil {
		// The thread is stuck in another namespace: leave it locked so the
		// runtime discards it when the goroutine ends.
		return netns.None(), fmt.Errorf("restore namespace: %w", serr)
	}
	runtime.UnlockOSThread()
	if err != nil {
		return netns.None(), fmt.Errorf("new namespace: %w", err)
	}
	return ns, nil
}

// Subnet creates an L2 segment (a bridge) for the address range cidr.
func (tp *Topology) Subnet(name, cidr string) *Subnet {
	tp.t.Helper()
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		tp.fatalf("subnet %s: %v", name, err)
	}
	if _, dup := tp.subs[name]; dup {
		tp.fatalf("subnet %s declared twice", name)
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("br%d", len(tp.subs))}}
	if err := tp.sw.h.LinkAdd(br); err != nil {
		tp.fatalf("subnet %s: add bridge: %v", name, err)
	}
	link, err := tp.sw.h.LinkByName(br.Name)
	if err == nil {
		err = tp.sw.h.LinkSetUp(link)
	}
	if err != nil {
		tp.fatalf("subnet %s: bridge up: %v", name, err)
	}
	s := &Subnet{Name: name, Prefix: p.Masked(), bridge: link}
	tp.subs[name] = s
	return s
}

// Node creates a bare node. If sub is not nil it is attached to it with
// address addr (see Attach).
func (tp *Topology) Node(name string, sub *Subnet, addr string) *Node {
	tp.t.Helper()
	n := tp.newNode(name)
	if sub != nil {
		n.Attach(sub, addr)
	}
	return n
}

// Client creates a node that makes requests; same as Node.
func (tp *Topology) Client(name string, sub *Subnet, addr string) *Node {
	tp.t.Helper()
	return tp.Node(name, sub, addr)
}

// Director creates a node with IPv4 and IPv6 forwarding on, as a NAT
// director needs (DR and TUN directors do not mind).
func (tp *Topology) Director(name string, sub *Subnet, addr string) *Node {
	tp.t.Helper()
	n := tp.Node(name, sub, addr)
	n.Sysctl("net.ipv4.ip_forward", "1")
	n.Sysctl("net.ipv6.conf.all.forwarding", "1")
	return n
}

// Router creates a forwarding node with reverse-path filtering off, as the
// return path of tunnelled real servers needs (their replies come from the
// VIP, which the router sees on another side).
func (tp *Topology) Router(name string, sub *Subnet, addr string) *Node {
	tp.t.Helper()
	n := tp.Director(name, sub, addr)
	n.Sysctl("net.ipv4.conf.all.rp_filter", "0")
	n.Sysctl("net.ipv4.conf.default.rp_filter", "0")
	return n
}

// RealServer creates a node meant to serve; start servers with ServeHTTP
// and ServeUDP, and prepare it for a forwarding method with ConfigureDR,
// ConfigureTUN, ConfigureGUE, ConfigureGRE or DefaultRoute (NAT).
func (tp *Topology) RealServer(name string, sub *Subnet, addr string) *Node {
	tp.t.Helper()
	return tp.Node(name, sub, addr)
}

// Attach connects the node to a subnet through a veth pair; the node's end
// is named eth0, eth1, ... in attachment order and gets address addr, given
// with or without a prefix length (the subnet's is the default). It returns
// the interface name.
func (n *Node) Attach(sub *Subnet, addr string) string {
	tp := n.topo
	tp.t.Helper()
	a := n.parseAddr(addr, sub.Prefix.Bits())
	if !sub.Prefix.Contains(a.Addr()) {
		tp.fatalf("%s: address %s is outside subnet %s (%s)", n.Name, a, sub.Name, sub.Prefix)
	}
	dev := fmt.Sprintf("eth%d", n.nifs)
	n.nifs++
	outer := fmt.Sprintf("n%dp%d", n.idx, n.nifs-1)
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: outer, MasterIndex: sub.bridge.Attrs().Index},
		PeerName:      dev,
		PeerNamespace: netlink.NsFd(n.ns),
	}
	if err := tp.sw.h.LinkAdd(veth); err != nil {
		tp.fatalf("%s: add veth to %s: %v", n.Name, sub.Name, err)
	}
	o, err := tp.sw.h.LinkByName(outer)
	if err == nil {
		err = tp.sw.h.LinkSetUp(o)
	}
	if err != nil {
		tp.fatalf("%s: switch side of %s up: %v", n.Name, dev, err)
	}
	sub.ports++
	n.LinkUp(dev)
	n.addAddr(dev, a)
	return dev
}

func (n *Node) parseAddr(addr string, defBits int) netip.Prefix {
	n.topo.t.Helper()
	if !strings.Contains(addr, "/") {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			n.topo.fatalf("%s: address %q: %v", n.Name, addr, err)
		}
		if defBits < 0 {
			defBits = a.BitLen()
		}
		return netip.PrefixFrom(a, defBits)
	}
	p, err := netip.ParsePrefix(addr)
	if err != nil {
		n.topo.fatalf("%s: address %q: %v", n.Name, addr, err)
	}
	return p
}

// link returns the named interface in the node.
func (n *Node) link(dev string) netlink.Link {
	n.topo.t.Helper()
	l, err := n.h.LinkByName(dev)
	if err != nil {
		n.topo.fatalf("%s: interface %s: %v", n.Name, dev, err)
	}
	return l
}

// LinkUp sets an interface up.
func (n *Node) LinkUp(dev string) {
	n.topo.t.Helper()
	if err := n.h.LinkSetUp(n.link(dev)); err != nil {
		n.topo.fatalf("%s: set %s up: %v", n.Name, dev, err)
	}
}

// AddAddr adds an address to an interface; a bare address is a host
// address (/32 or /128). IPv6 addresses skip duplicate address detection,
// so they are usable at once.
func (n *Node) AddAddr(dev, addr string) {
	n.topo.t.Helper()
	n.addAddr(dev, n.parseAddr(addr, -1))
}

func (n *Node) addAddr(dev string, p netip.Prefix) {
	n.topo.t.Helper()
	a := &netlink.Addr{IPNet: prefixToIPNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := n.h.AddrAdd(n.link(dev), a); err != nil {
		n.topo.fatalf("%s: add %s to %s: %v", n.Name, p, dev, err)
	}
}

// AddDummy creates a dummy interface, up, e.g. to hold VIPs on a director.
func (n *Node) AddDummy(dev string) {
	n.topo.t.Helper()
	if err := n.h.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: dev}}); err != nil {
		n.topo.fatalf("%s: add dummy %s: %v", n.Name, dev, err)
	}
	n.LinkUp(dev)
}

// DefaultRoute routes everything (of via's family) through the gateway via.
func (n *Node) DefaultRoute(via string) {
	n.topo.t.Helper()
	gw := n.parseAddr(via, -1).Addr()
	dst := "0.0.0.0/0"
	if gw.Is6() {
		dst = "::/0"
	}
	n.Route(dst, via)
}

// Route adds a route to dst (a prefix) through the gateway via.
func (n *Node) Route(dst, via string) {
	n.topo.t.Helper()
	d, err := netip.ParsePrefix(dst)
	if err != nil {
		n.topo.fatalf("%s: route %s: %v", n.Name, dst, err)
	}
	gw := n.parseAddr(via, -1).Addr()
	r := &netlink.Route{Dst: prefixToIPNet(d), Gw: gw.AsSlice()}
	if err := n.h.RouteAdd(r); err != nil {
		n.topo.fatalf("%s: route %s via %s: %v", n.Name, dst, via, err)
	}
}

// Sysctl writes a sysctl in the node's namespace, e.g.
// Sysctl("net.ipv4.conf.all.arp_ignore", "1"). Keys use dots; interface
// names in them must not contain dots.
func (n *Node) Sysctl(key, value string) {
	n.topo.t.Helper()
	p := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	err := n.Do(func() error { return os.WriteFile(p, []byte(value), 0o644) })
	if err != nil {
		n.topo.fatalf("%s: sysctl %s=%s: %v", n.Name, key, value, err)
	}
}

// ReadSysctl reads a sysctl in the node's namespace.
func (n *Node) ReadSysctl(key string) string {
	n.topo.t.Helper()
	p := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	var b []byte
	err := n.Do(func() error {
		var err error
		b, err = os.ReadFile(p)
		return err
	})
	if err != nil {
		n.topo.fatalf("%s: sysctl %s: %v", n.Name, key, err)
	}
	return strings.TrimSpace(string(b))
}

// Do runs f on an OS thread that is in the node's namespace. Sockets f
// creates belong to the namespace and may be used from any goroutine
// afterwards. Files under /proc/net show the process's namespace, not the
// thread's: read /proc/thread-self/net/... inside Do instead.
func (n *Node) Do(f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get current namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(n.ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter namespace %s: %w", n.full, err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		// Keep the thread locked: the runtime then drops it with the
		// goroutine instead of reusing a thread in the wrong namespace.
		return fmt.Errorf("leave namespace %s: %w", n.full, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Start starts cmd in the node's namespace (a child inherits the namespace
// of the thread that starts it). The caller waits for it.
func (n *Node) Start(cmd *exec.Cmd) error {
	return n.Do(cmd.Start)
}

// Run runs a command in the node's namespace. The error is non-nil only
// when it could not run or timed out; the exit status is in the result.
func (n *Node) Run(name string, args ...string) (guest.Result, error) {
	return n.RunCmd(exec.Command(name, args...))
}

// RunCmd runs cmd, which may have a Stdin, in the node's namespace. As with
// Run, the error is non-nil only when it could not run or timed out.
func (n *Node) RunCmd(cmd *exec.Cmd) (guest.Result, error) {
	var res guest.Result
	// guest.RunCmd starts the child from this locked thread and waits there.
	err := n.Do(func() error {
		var err error
		res, err = guest.RunCmd(cmd)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("%s: %w", n.Name, err)
	}
	return res, nil
}

// MustRun runs a command in the node's namespace and fails the test unless
// it exits 0.
func (n *Node) MustRun(name string, args ...string) guest.Result {
	n.topo.t.Helper()
	res, err := n.Run(name, args...)
	if err != nil {
		n.topo.fatalf("%v", err)
	}
	if res.Exit != 0 {
		n.topo.fatalf("%s: %s %s: %s", n.Name, name, strings.Join(args, " "), res)
	}
	return res
}

// NsHandle returns the node's namespace handle (owned by the topology).
func (n *Node) NsHandle() netns.NsHandle { return n.ns }

// NsPath returns the namespace's bind mount, as moby/ipvs.New and
// `ip netns exec` want it.
func (n *Node) NsPath() string { return filepath.Join(NetnsDir, n.full) }

// NsName returns the namespace's name under NetnsDir.
func (n *Node) NsName() string { return n.full }

// Netlink returns a netlink handle in the node's namespace (owned by the
// topology).
func (n *Node) Netlink() *netlink.Handle { return n.h }

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
