package memory

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// Kernel is the in-memory twin of a whole host: its IPVS table and its
// devices, addresses, routes, fou ports and sysctls, all under the
// table's lock. The zero value is not usable; use New.
type Kernel struct {
	// IPVS is the host's IPVS table; its Schedulers, Fail, Writes and
	// Batches are the whole kernel's.
	*IPVS
	links   map[string]*kernel.Link
	addrs   []kernel.Address
	routes  []kernel.Route
	fous    []kernel.FOU
	sysctls map[string]string
	// nft are the nftables tables, made on first write.
	nft map[nftKey]kernel.NFTTable
	// syncd are the running sync daemons by state, made on first write.
	syncd map[kernel.SyncState]kernel.SyncDaemon
}

var (
	_ kernel.Kernel        = (*Kernel)(nil)
	_ kernel.PartialReader = (*Kernel)(nil)
	_ kernel.BatchWriter   = (*Kernel)(nil)
)

// New returns a kernel with a loopback device and the sysctls lvsgen reads
// at their kernel defaults.
func New() *Kernel {
	k := &Kernel{
		IPVS:    NewIPVS(),
		links:   map[string]*kernel.Link{},
		sysctls: map[string]string{},
	}
	k.host = k
	for key, v := range map[string]string{
		"net.ipv4.ip_forward":                   "0",
		"net.ipv6.conf.all.forwarding":          "0",
		"net.ipv4.vs.conntrack":                 "0",
		"net.ipv4.vs.expire_nodest_conn":        "0",
		"net.ipv4.vs.expire_quiescent_template": "0",
		"net.ipv4.vs.conn_reuse_mode":           "1",
		"net.ipv4.vs.sloppy_tcp":                "0",
		"net.ipv4.vs.sloppy_sctp":               "0",
		"net.ipv4.vs.schedule_icmp":             "0",
		"net.ipv4.vs.ignore_tunneled":           "0",
		"net.ipv4.vs.pmtu_disc":                 "1",
	} {
		k.sysctls[key] = v
	}
	k.addLinkLocked(kernel.Link{Name: "lo", Kind: "device", Up: true})
	k.addrs = append(k.addrs, kernel.Address{Device: "lo", Prefix: netip.MustParsePrefix("127.0.0.1/8")})
	return k
}

// confKeys are the per-device net.ipv4.conf keys the model knows, with
// their defaults.
var confKeys = map[string]string{"arp_ignore": "0", "arp_announce": "0", "rp_filter": "0", "send_redirects": "1"}

func (k *Kernel) addLinkLocked(l kernel.Link) {
	k.links[l.Name] = &l
	for key, v := range confKeys {
		k.sysctls["net.ipv4.conf."+l.Name+"."+key] = v
		if _, ok := k.sysctls["net.ipv4.conf.all."+key]; !ok {
			k.sysctls["net.ipv4.conf.all."+key] = v
		}
	}
}

// AddDevice adds a device of another kind (a physical interface, a veth)
// for tests to build a host on.
func (k *Kernel) AddDevice(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.addLinkLocked(kernel.Link{Name: name, Kind: "device", Up: true})
}

// Links implements kernel.Links.
func (k *Kernel) Links(ctx context.Context) ([]kernel.Link, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]kernel.Link, 0, len(k.links))
	for _, l := range k.links {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b kernel.Link) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// fallbackDevices are the devices the kernel creates when a tunnel module
// loads; they cannot be created by name, and deleting them does nothing.
var fallbackDevices = map[string]string{"tunl0": "ipip", "sit0": "sit", "gre0": "gre", "ip6tnl0": "ip6tnl", "ip6gre0": "ip6gre"}

// AddLink implements kernel.Links.
func (k *Kernel) AddLink(ctx context.Context, l kernel.Link) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := kernel.OpError{Op: "adding", Object: "link " + l.Name}
	if err := k.write(op); err != nil {
		return err
	}
	if kind, ok := fallbackDevices[l.Name]; ok {
		if l.Kind != kind {
			return failed(op, syscall.EINVAL)
		}
		if l.Mode != "" && (kind != "ip6tnl" || (l.Mode != "any" && l.Mode != "ipip6" && l.Mode != "ip6ip6")) {
			return failed(op, syscall.EINVAL)
		}
		if cur, ok := k.links[l.Name]; ok {
			// Without a mode, the device keeps its own.
			cur.Up = true
			if l.Mode != "" {
				cur.Mode = l.Mode
			}
			return nil
		}
		mode := ""
		if kind == "ip6tnl" {
			// The fallback device starts as ip6ip6.
			mode = "ip6ip6"
			if l.Mode != "" {
				mode = l.Mode
			}
		}
		k.addLinkLocked(kernel.Link{Name: l.Name, Kind: kind, Mode: mode, Up: true})
		return nil
	}
	if _, ok := k.links[l.Name]; ok {
		return failed(op, syscall.EEXIST)
	}
	if l.Kind != "dummy" {
		return failed(op, syscall.EOPNOTSUPP)
	}
	if len(l.Name) > 15 || l.Name == "" || strings.ContainsAny(l.Name, "/: ") {
		return failed(op, syscall.EINVAL)
	}
	k.addLinkLocked(kernel.Link{Name: l.Name, Kind: l.Kind, Up: true})
	return nil
}

// SetLinkUp implements kernel.Links.
func (k *Kernel) SetLinkUp(ctx context.Context, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := kernel.OpError{Op: "setting up", Object: "link " + name}
	if err := k.write(op); err != nil {
		return err
	}
	l, ok := k.links[name]
	if !ok {
		return failed(op, syscall.ENODEV)
	}
	l.Up = true
	return nil
}

// DelLink implements kernel.Links.
func (k *Kernel) DelLink(ctx context.Context, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := kernel.OpError{Op: "deleting", Object: "link " + name}
	if err := k.write(op); err != nil {
		return err
	}
	if _, ok := k.links[name]; !ok {
		return failed(op, syscall.ENODEV)
	}
	if name == "lo" {
		return failed(op, syscall.EOPNOTSUPP)
	}
	if _, ok := fallbackDevices[name]; ok {
		// The tunnel modules' dellink skips their fallback device: the
		// request succeeds and the device stays.
		return nil
	}
	delete(k.links, name)
	k.addrs = slices.DeleteFunc(k.addrs, func(a kernel.Address) bool { return a.Device == name })
	for key := range k.sysctls {
		if strings.HasPrefix(key, "net.ipv4.conf."+name+".") {
			delete(k.sysctls, key)
		}
	}
	return nil
}

// Addresses implements kernel.Addresses.
func (k *Kernel) Addresses(ctx context.Context) ([]kernel.Address, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.addrs), nil
}

// addrWrite begins an address write, with k.mu held: it counts the
// write, consults Fail and requires a's device (ENODEV). It returns the
// write's OpError for the caller's own checks.
func (k *Kernel) addrWrite(verb string, a kernel.Address) (kernel.OpError, error) {
	op := kernel.OpError{Op: verb, Object: "address " + a.String()}
	if err := k.write(op); err != nil {
		return op, err
	}
	if _, ok := k.links[a.Device]; !ok {
		return op, failed(op, syscall.ENODEV)
	}
	return op, nil
}

// boundAs reports whether x is a, as the kernel finds an address to add
// or replace: IPv4 takes the same address again with another prefix
// length (__inet_insert_ifa compares address and mask); IPv6 does not
// (ipv6_add_addr_hash compares the address).
func boundAs(x, a kernel.Address) bool {
	return x.Device == a.Device && x.Prefix.Addr() == a.Prefix.Addr() && (a.Prefix.Addr().Is6() || x.Prefix.Bits() == a.Prefix.Bits())
}

// stored is a as the kernel keeps it: IPv4 has no DAD and no preferred
// lifetime to read back.
func stored(a kernel.Address) kernel.Address {
	if a.Prefix.Addr().Is4() {
		a.NoDAD, a.Deprecated = false, false
	}
	return a
}

// AddAddress implements kernel.Addresses.
func (k *Kernel) AddAddress(ctx context.Context, a kernel.Address) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op, err := k.addrWrite("adding", a)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(k.addrs, func(x kernel.Address) bool { return boundAs(x, a) }) {
		return failed(op, syscall.EEXIST)
	}
	k.addrs = append(k.addrs, stored(a))
	return nil
}

// ReplaceAddress implements kernel.Addresses. Like the kernel, it finds an
// IPv6 address by its address alone and an IPv4 one by address and prefix
// length, and binds the address when there is none.
func (k *Kernel) ReplaceAddress(ctx context.Context, a kernel.Address) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := k.addrWrite("replacing", a); err != nil {
		return err
	}
	a = stored(a)
	i := slices.IndexFunc(k.addrs, func(x kernel.Address) bool { return boundAs(x, a) })
	if i < 0 {
		k.addrs = append(k.addrs, a)
		return nil
	}
	k.addrs[i].NoDAD, k.addrs[i].Deprecated = a.NoDAD, a.Deprecated
	return nil
}

// DelAddress implements kernel.Addresses.
func (k *Kernel) DelAddress(ctx context.Context, a kernel.Address) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op, err := k.addrWrite("deleting", a)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(k.addrs, func(x kernel.Address) bool { return x.Device == a.Device && x.Prefix == a.Prefix })
	if i < 0 {
		return failed(op, syscall.EADDRNOTAVAIL)
	}
	k.addrs = slices.Delete(k.addrs, i, i+1)
	return nil
}

// Routes implements kernel.Routes.
func (k *Kernel) Routes(ctx context.Context) ([]kernel.Route, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.routes), nil
}

// AddRoute implements kernel.Routes.
func (k *Kernel) AddRoute(ctx context.Context, r kernel.Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := kernel.OpError{Op: "adding", Object: "route " + r.String()}
	if err := k.write(op); err != nil {
		return err
	}
	if slices.ContainsFunc(k.routes, func(x kernel.Route) bool { return x.Dst == r.Dst }) {
		return failed(op, syscall.EEXIST)
	}
	// The gateway must be on a connected subnet of an up device.
	if !k.onLink(r.Gateway) {
		return failed(op, syscall.ENETUNREACH)
	}
	k.routes = append(k.routes, r)
	return nil
}

// DelRoute implements kernel.Routes.
func (k *Kernel) DelRoute(ctx context.Context, r kernel.Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := kernel.OpError{Op: "deleting", Object: "route " + r.String()}
	if err := k.write(op); err != nil {
		return err
	}
	i := slices.IndexFunc(k.routes, func(x kernel.Route) bool { return x.Dst == r.Dst && x.Gateway == r.Gateway })
	if i < 0 {
		return failed(op, syscall.ESRCH)
	}
	k.routes = slices.Delete(k.routes, i, i+1)
	return nil
}

// ChangeRoute implements kernel.Routes.
func (k *Kernel) ChangeRoute(ctx context.Context, r kernel.Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := kernel.OpError{Op: "changing", Object: "route " + r.String()}
	if err := k.write(op); err != nil {
		return err
	}
	if !k.onLink(r.Gateway) {
		return failed(op, syscall.ENETUNREACH)
	}
	i := slices.IndexFunc(k.routes, func(x kernel.Route) bool { return x.Dst == r.Dst })
	if i < 0 {
		return failed(op, syscall.ENOENT)
	}
	k.routes[i] = r
	return nil
}

// onLink reports whether gw is on a connected subnet of an up device.
func (k *Kernel) onLink(gw netip.Addr) bool {
	return slices.ContainsFunc(k.addrs, func(a kernel.Address) bool {
		l := k.links[a.Device]
		return l != nil && l.Up && a.Prefix.Bits() < a.Prefix.Addr().BitLen() && a.Prefix.Contains(gw)
	})
}

// FOUs implements kernel.FOUs.
func (k *Kernel) FOUs(ctx context.Context) ([]kernel.FOU, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.fous), nil
}

// AddFOU implements kernel.FOUs.
func (k *Kernel) AddFOU(ctx context.Context, f kernel.FOU) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := kernel.OpError{Op: "adding", Object: f.String()}
	if err := k.write(op); err != nil {
		return err
	}
	if slices.Contains(k.fous, f) {
		return failed(op, syscall.EEXIST)
	}
	k.fous = append(k.fous, f)
	return nil
}

// DelFOU implements kernel.FOUs.
func (k *Kernel) DelFOU(ctx context.Context, f kernel.FOU) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := kernel.OpError{Op: "deleting", Object: f.String()}
	if err := k.write(op); err != nil {
		return err
	}
	i := slices.Index(k.fous, f)
	if i < 0 {
		return failed(op, syscall.ENOENT)
	}
	k.fous = slices.Delete(k.fous, i, i+1)
	return nil
}

// Sysctl implements kernel.Sysctls.
func (k *Kernel) Sysctl(ctx context.Context, key string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.sysctls[key]
	if !ok {
		return "", &kernel.OpError{Op: "reading", Object: "sysctl " + key, Err: syscall.ENOENT}
	}
	return v, nil
}

// SetSysctl implements kernel.Sysctls.
func (k *Kernel) SetSysctl(ctx context.Context, key, value string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := kernel.OpError{Op: "writing", Object: "sysctl " + key}
	if err := k.write(op); err != nil {
		return err
	}
	if _, ok := k.sysctls[key]; !ok {
		return failed(op, syscall.ENOENT)
	}
	k.sysctls[key] = value
	return nil
}

// String prints the IPVS table like `ipvsadm-save -n`, then the other
// objects, deterministically, for test failure messages.
func (k *Kernel) String() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var b strings.Builder
	b.WriteString(k.saveLocked())
	names := make([]string, 0, len(k.links))
	for n := range k.links {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "link %s %s up=%v\n", n, k.links[n].Kind, k.links[n].Up)
	}
	for _, a := range k.addrs {
		fmt.Fprintf(&b, "addr %s\n", a)
	}
	for _, r := range k.routes {
		fmt.Fprintf(&b, "route %s\n", r)
	}
	for _, f := range k.fous {
		fmt.Fprintf(&b, "%s\n", f)
	}
	b.WriteString(k.nftString())
	b.WriteString(k.syncString())
	return b.String()
}
