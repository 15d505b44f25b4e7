// Package memory is an in-memory twin of the Linux kernel objects lvsgen
// manages. It answers like the kernel does — the same errno for the same
// mistake, as read from net/netfilter/ipvs/ip_vs_ctl.c and the rtnetlink
// handlers of Linux 6.1 — so that unit tests of the applier mean something.
// The conformance tests in kerneltest hold it and the real kernel to the
// same answers; where they disagree, this model is wrong.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// Kernel is the in-memory twin. The zero value is not usable; use New.
type Kernel struct {
	mu       sync.Mutex
	services []ipvs.Service
	// index finds a service by its canonical key: tests load tables of
	// 10,000 services, too many to search one by one per write.
	index    map[ipvs.ServiceKey]int
	timeouts kernel.Timeouts
	links    map[string]*kernel.Link
	addrs    []kernel.Address
	routes   []kernel.Route
	fous     []kernel.FOU
	sysctls  map[string]string
	// Schedulers are the scheduler modules this kernel has; by default
	// every one but twos, like Debian's 6.1 cloud kernel.
	Schedulers []string
	// Fail, when set, is consulted before every write; a non-nil error
	// is returned instead of doing it. Tests inject failures with it.
	Fail func(op string) error
	// Writes counts the writes that changed (or tried to change) state.
	Writes int
	// Batches counts the calls of WriteBatch.
	Batches int
}

var _ kernel.BatchWriter = (*Kernel)(nil)

var _ kernel.Kernel = (*Kernel)(nil)

// New returns a kernel with a loopback device and the sysctls lvsgen reads
// at their kernel defaults.
func New() *Kernel {
	k := &Kernel{
		timeouts:   kernel.Timeouts{TCP: 900, TCPFin: 120, UDP: 300},
		index:      map[ipvs.ServiceKey]int{},
		links:      map[string]*kernel.Link{},
		sysctls:    map[string]string{},
		Schedulers: slices.DeleteFunc(slices.Clone(ipvs.Schedulers), func(s string) bool { return s == "twos" }),
	}
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

func (k *Kernel) write(op string) error {
	k.Writes++
	if k.Fail != nil {
		if err := k.Fail(op); err != nil {
			return err
		}
	}
	return nil
}

func errno(op string, e syscall.Errno) error { return fmt.Errorf("%s: %w", op, e) }

func (k *Kernel) find(key ipvs.ServiceKey) int {
	if i, ok := k.index[key.Canonical()]; ok {
		return i
	}
	return -1
}

// Services implements kernel.Kernel.
func (k *Kernel) Services(ctx context.Context) ([]ipvs.Service, error) {
	return k.ServicesWith(ctx, nil)
}

// ServicesWith implements kernel.PartialReader.
func (k *Kernel) ServicesWith(ctx context.Context, dests func(ipvs.ServiceKey) bool) ([]ipvs.Service, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]ipvs.Service, 0, len(k.services))
	for _, s := range k.services {
		if dests == nil || dests(s.ServiceKey) {
			s.Destinations = slices.Clone(s.Destinations)
		} else {
			s.Destinations = nil
		}
		out = append(out, s)
	}
	return out, nil
}

// checkService applies the kernel's checks shared by add and edit
// (ip_vs_add_service, ip_vs_edit_service, ip_vs_genl_parse_service).
func (k *Kernel) checkService(op string, s ipvs.Service) error {
	if s.Family != ipvs.IPv4 && s.Family != ipvs.IPv6 {
		return errno(op, syscall.EAFNOSUPPORT)
	}
	// Over netlink the kernel takes any protocol number (only the
	// setsockopt path checks for tcp, udp and sctp).
	if s.Scheduler != "none" && !slices.Contains(k.Schedulers, s.Scheduler) {
		// "Scheduler module ip_vs_%s not found"; "none" is no scheduler.
		return errno(op, syscall.ENOENT)
	}
	if s.PE != "" && s.PE != "sip" {
		return errno(op, syscall.ENOENT)
	}
	if s.Family == ipvs.IPv6 && (s.NetmaskBits < 1 || s.NetmaskBits > 128) {
		return errno(op, syscall.EINVAL)
	}
	return nil
}

// AddService implements kernel.Kernel.
func (k *Kernel) AddService(ctx context.Context, s ipvs.Service) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "adding service " + s.ServiceKey.String()
	if err := k.write(op); err != nil {
		return err
	}
	if k.find(s.ServiceKey) >= 0 {
		return errno(op, syscall.EEXIST)
	}
	if err := k.checkService(op, s); err != nil {
		return err
	}
	s.Destinations = nil
	s.Flags &^= ipvs.FlagHashed
	k.index[s.ServiceKey.Canonical()] = len(k.services)
	k.services = append(k.services, normalise(s))
	return nil
}

// normalise stores what the kernel stores: a fwmark service has no
// address, port or protocol in lvsgen's values.
func normalise(s ipvs.Service) ipvs.Service {
	if s.FWMark != 0 {
		s.Addr, s.Port, s.Protocol = netip.Addr{}, 0, 0
	}
	return s
}

// UpdateService implements kernel.Kernel.
func (k *Kernel) UpdateService(ctx context.Context, s ipvs.Service) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "updating service " + s.ServiceKey.String()
	if err := k.write(op); err != nil {
		return err
	}
	i := k.find(s.ServiceKey)
	if i < 0 {
		return errno(op, syscall.ESRCH)
	}
	if err := k.checkService(op, s); err != nil {
		return err
	}
	cur := &k.services[i]
	cur.Scheduler, cur.Flags, cur.Timeout, cur.NetmaskBits, cur.PE = s.Scheduler, s.Flags&^ipvs.FlagHashed, s.Timeout, s.NetmaskBits, s.PE
	return nil
}

// DelService implements kernel.Kernel.
func (k *Kernel) DelService(ctx context.Context, key ipvs.ServiceKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "deleting service " + key.String()
	if err := k.write(op); err != nil {
		return err
	}
	i := k.find(key)
	if i < 0 {
		return errno(op, syscall.ESRCH)
	}
	k.services = slices.Delete(k.services, i, i+1)
	delete(k.index, key.Canonical())
	for j := i; j < len(k.services); j++ {
		k.index[k.services[j].ServiceKey.Canonical()] = j
	}
	return nil
}

// WriteBatch implements kernel.BatchWriter the way the kernel runs a
// pipelined batch: every write in turn, each with its own error, none
// stopped by an earlier failure. Only a context done before the batch
// starts stops it, as a real exchange would stop before sending.
func (k *Kernel) WriteBatch(ctx context.Context, ws []kernel.IPVSWrite) ([]error, error) {
	errs := make([]error, len(ws))
	if err := ctx.Err(); err != nil {
		for i := range errs {
			errs[i] = kernel.ErrNotSent
		}
		return errs, err
	}
	k.mu.Lock()
	k.Batches++
	k.mu.Unlock()
	for i, w := range ws {
		errs[i] = kernel.Do(ctx, k, w)
	}
	return errs, nil
}

// checkDest applies ip_vs_genl_set_cmd's and ip_vs_add/edit_dest's checks.
func checkDest(op string, svc ipvs.Service, d ipvs.Destination) error {
	if ipvs.FamilyOf(d.Addr) != svc.Family && d.Forward != ipvs.Tunnel {
		// Mixed families are for tunnels only.
		return errno(op, syscall.EINVAL)
	}
	if d.Weight < 0 {
		return errno(op, syscall.ERANGE)
	}
	if d.LowerThreshold > d.UpperThreshold {
		return errno(op, syscall.ERANGE)
	}
	if d.UpperThreshold > math.MaxInt32 {
		// Debian's 6.1 has the fix that refuses thresholds the
		// kernel's int comparisons would read as negative.
		return errno(op, syscall.EINVAL)
	}
	if d.Forward == ipvs.Tunnel && d.TunType == ipvs.TunGUE && d.TunPort == 0 {
		// "tunnel port is zero"
		return errno(op, syscall.EINVAL)
	}
	return nil
}

// unicastDest applies ip_vs_new_dest's address check: an IPv4
// destination must be a unicast or local address (inet_addr_type), an
// IPv6 one a unicast address that is not link-local (ipv6_addr_type),
// unless it is bound here.
func (k *Kernel) unicastDest(a netip.Addr) bool {
	if a.Is4() {
		if a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return false
		}
		// A subnet's broadcast address, routed as broadcast while its
		// device is up.
		for _, x := range k.addrs {
			p := x.Prefix
			if l := k.links[x.Device]; l != nil && l.Up && p.Addr().Is4() && p.Bits() < 31 && lastAddr(p) == a {
				return false
			}
		}
		return true
	}
	if slices.ContainsFunc(k.addrs, func(x kernel.Address) bool { return x.Prefix.Addr() == a }) {
		return true
	}
	return !a.IsUnspecified() && !a.IsMulticast() && !a.IsLinkLocalUnicast() && !a.Is4In6()
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func destIndex(s *ipvs.Service, d ipvs.Destination) int {
	return slices.IndexFunc(s.Destinations, func(x ipvs.Destination) bool { return x.Addr == d.Addr && x.Port == d.Port })
}

// AddDestination implements kernel.Kernel.
func (k *Kernel) AddDestination(ctx context.Context, key ipvs.ServiceKey, d ipvs.Destination) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := fmt.Sprintf("adding destination %s to %s", d.AddrPort(), key)
	if err := k.write(op); err != nil {
		return err
	}
	i := k.find(key)
	if i < 0 {
		return errno(op, syscall.ESRCH)
	}
	svc := &k.services[i]
	if err := checkDest(op, *svc, d); err != nil {
		return err
	}
	if destIndex(svc, d) >= 0 {
		return errno(op, syscall.EEXIST)
	}
	if !k.unicastDest(d.Addr) {
		return errno(op, syscall.EINVAL)
	}
	d.ActiveConns, d.InactiveConns = 0, 0
	svc.Destinations = append(svc.Destinations, d)
	return nil
}

// UpdateDestination implements kernel.Kernel.
func (k *Kernel) UpdateDestination(ctx context.Context, key ipvs.ServiceKey, d ipvs.Destination) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := fmt.Sprintf("updating destination %s of %s", d.AddrPort(), key)
	if err := k.write(op); err != nil {
		return err
	}
	i := k.find(key)
	if i < 0 {
		return errno(op, syscall.ESRCH)
	}
	svc := &k.services[i]
	if err := checkDest(op, *svc, d); err != nil {
		return err
	}
	j := destIndex(svc, d)
	if j < 0 {
		return errno(op, syscall.ENOENT)
	}
	d.ActiveConns, d.InactiveConns = svc.Destinations[j].ActiveConns, svc.Destinations[j].InactiveConns
	svc.Destinations[j] = d
	return nil
}

// DelDestination implements kernel.Kernel.
func (k *Kernel) DelDestination(ctx context.Context, key ipvs.ServiceKey, d ipvs.Destination) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := fmt.Sprintf("deleting destination %s of %s", d.AddrPort(), key)
	if err := k.write(op); err != nil {
		return err
	}
	i := k.find(key)
	if i < 0 {
		return errno(op, syscall.ESRCH)
	}
	svc := &k.services[i]
	j := destIndex(svc, d)
	if j < 0 {
		return errno(op, syscall.ENOENT)
	}
	svc.Destinations = slices.Delete(svc.Destinations, j, j+1)
	return nil
}

// SetConns sets a destination's connection counters, as traffic would.
func (k *Kernel) SetConns(key ipvs.ServiceKey, addr netip.AddrPort, active, inactive uint32) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	i := k.find(key)
	if i < 0 {
		return errno("setting counters", syscall.ESRCH)
	}
	j := destIndex(&k.services[i], ipvs.Destination{Addr: addr.Addr(), Port: addr.Port()})
	if j < 0 {
		return errno("setting counters", syscall.ENOENT)
	}
	k.services[i].Destinations[j].ActiveConns = active
	k.services[i].Destinations[j].InactiveConns = inactive
	return nil
}

// Timeouts implements kernel.Kernel.
func (k *Kernel) Timeouts(ctx context.Context) (kernel.Timeouts, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.timeouts, nil
}

// SetTimeouts implements kernel.Kernel; zero leaves a timeout unchanged.
func (k *Kernel) SetTimeouts(ctx context.Context, t kernel.Timeouts) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.write("setting IPVS timeouts"); err != nil {
		return err
	}
	// The kernel keeps timeouts in jiffies in an int: it refuses more
	// than INT_MAX/HZ seconds (Debian's HZ is 250).
	const maxTimeout = math.MaxInt32 / 250
	for _, v := range []int{t.TCP, t.TCPFin, t.UDP} {
		if v < 0 || v > maxTimeout {
			return errno("setting IPVS timeouts", syscall.EINVAL)
		}
	}
	if t.TCP != 0 {
		k.timeouts.TCP = t.TCP
	}
	if t.TCPFin != 0 {
		k.timeouts.TCPFin = t.TCPFin
	}
	if t.UDP != 0 {
		k.timeouts.UDP = t.UDP
	}
	return nil
}

// Links implements kernel.Kernel.
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

// AddLink implements kernel.Kernel.
func (k *Kernel) AddLink(ctx context.Context, l kernel.Link) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "adding link " + l.Name
	if err := k.write(op); err != nil {
		return err
	}
	if kind, ok := fallbackDevices[l.Name]; ok {
		if l.Kind != kind {
			return errno(op, syscall.EINVAL)
		}
		if l.Mode != "" && (kind != "ip6tnl" || (l.Mode != "any" && l.Mode != "ipip6" && l.Mode != "ip6ip6")) {
			return errno(op, syscall.EINVAL)
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
		return errno(op, syscall.EEXIST)
	}
	if l.Kind != "dummy" {
		return errno(op, syscall.EOPNOTSUPP)
	}
	if len(l.Name) > 15 || l.Name == "" || strings.ContainsAny(l.Name, "/: ") {
		return errno(op, syscall.EINVAL)
	}
	k.addLinkLocked(kernel.Link{Name: l.Name, Kind: l.Kind, Up: true})
	return nil
}

// SetLinkUp implements kernel.Kernel.
func (k *Kernel) SetLinkUp(ctx context.Context, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "setting link " + name + " up"
	if err := k.write(op); err != nil {
		return err
	}
	l, ok := k.links[name]
	if !ok {
		return errno(op, syscall.ENODEV)
	}
	l.Up = true
	return nil
}

// DelLink implements kernel.Kernel.
func (k *Kernel) DelLink(ctx context.Context, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "deleting link " + name
	if err := k.write(op); err != nil {
		return err
	}
	if _, ok := k.links[name]; !ok {
		return errno(op, syscall.ENODEV)
	}
	if name == "lo" {
		return errno(op, syscall.EOPNOTSUPP)
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

// Addresses implements kernel.Kernel.
func (k *Kernel) Addresses(ctx context.Context) ([]kernel.Address, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.addrs), nil
}

// AddAddress implements kernel.Kernel.
func (k *Kernel) AddAddress(ctx context.Context, a kernel.Address) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "adding address " + a.String()
	if err := k.write(op); err != nil {
		return err
	}
	if _, ok := k.links[a.Device]; !ok {
		return errno(op, syscall.ENODEV)
	}
	// IPv4 takes the same address again with another prefix length
	// (__inet_insert_ifa compares address and mask); IPv6 does not
	// (ipv6_add_addr_hash compares the address).
	if slices.ContainsFunc(k.addrs, func(x kernel.Address) bool {
		return x.Device == a.Device && x.Prefix.Addr() == a.Prefix.Addr() && (a.Prefix.Addr().Is6() || x.Prefix.Bits() == a.Prefix.Bits())
	}) {
		return errno(op, syscall.EEXIST)
	}
	if a.Prefix.Addr().Is4() {
		// IPv4 has no DAD and no preferred lifetime to read back.
		a.NoDAD, a.Deprecated = false, false
	}
	k.addrs = append(k.addrs, a)
	return nil
}

// ReplaceAddress implements kernel.Kernel. Like the kernel, it finds an
// IPv6 address by its address alone and an IPv4 one by address and prefix
// length, and binds the address when there is none.
func (k *Kernel) ReplaceAddress(ctx context.Context, a kernel.Address) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "replacing address " + a.String()
	if err := k.write(op); err != nil {
		return err
	}
	if _, ok := k.links[a.Device]; !ok {
		return errno(op, syscall.ENODEV)
	}
	if a.Prefix.Addr().Is4() {
		a.NoDAD, a.Deprecated = false, false
	}
	i := slices.IndexFunc(k.addrs, func(x kernel.Address) bool {
		return x.Device == a.Device && x.Prefix.Addr() == a.Prefix.Addr() && (a.Prefix.Addr().Is6() || x.Prefix.Bits() == a.Prefix.Bits())
	})
	if i < 0 {
		k.addrs = append(k.addrs, a)
		return nil
	}
	k.addrs[i].NoDAD, k.addrs[i].Deprecated = a.NoDAD, a.Deprecated
	return nil
}

// DelAddress implements kernel.Kernel.
func (k *Kernel) DelAddress(ctx context.Context, a kernel.Address) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "deleting address " + a.String()
	if err := k.write(op); err != nil {
		return err
	}
	if _, ok := k.links[a.Device]; !ok {
		return errno(op, syscall.ENODEV)
	}
	i := slices.IndexFunc(k.addrs, func(x kernel.Address) bool { return x.Device == a.Device && x.Prefix == a.Prefix })
	if i < 0 {
		return errno(op, syscall.EADDRNOTAVAIL)
	}
	k.addrs = slices.Delete(k.addrs, i, i+1)
	return nil
}

// Routes implements kernel.Kernel.
func (k *Kernel) Routes(ctx context.Context) ([]kernel.Route, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.routes), nil
}

// AddRoute implements kernel.Kernel.
func (k *Kernel) AddRoute(ctx context.Context, r kernel.Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "adding route " + r.String()
	if err := k.write(op); err != nil {
		return err
	}
	if slices.ContainsFunc(k.routes, func(x kernel.Route) bool { return x.Dst == r.Dst }) {
		return errno(op, syscall.EEXIST)
	}
	// The gateway must be on a connected subnet of an up device.
	if !k.onLink(r.Gateway) {
		return errno(op, syscall.ENETUNREACH)
	}
	k.routes = append(k.routes, r)
	return nil
}

// DelRoute implements kernel.Kernel.
func (k *Kernel) DelRoute(ctx context.Context, r kernel.Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "deleting route " + r.String()
	if err := k.write(op); err != nil {
		return err
	}
	i := slices.IndexFunc(k.routes, func(x kernel.Route) bool { return x.Dst == r.Dst && x.Gateway == r.Gateway })
	if i < 0 {
		return errno(op, syscall.ESRCH)
	}
	k.routes = slices.Delete(k.routes, i, i+1)
	return nil
}

// ChangeRoute implements kernel.Kernel.
func (k *Kernel) ChangeRoute(ctx context.Context, r kernel.Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "changing route " + r.String()
	if err := k.write(op); err != nil {
		return err
	}
	if !k.onLink(r.Gateway) {
		return errno(op, syscall.ENETUNREACH)
	}
	i := slices.IndexFunc(k.routes, func(x kernel.Route) bool { return x.Dst == r.Dst })
	if i < 0 {
		return errno(op, syscall.ENOENT)
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

// FOUs implements kernel.Kernel.
func (k *Kernel) FOUs(ctx context.Context) ([]kernel.FOU, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.fous), nil
}

// AddFOU implements kernel.Kernel.
func (k *Kernel) AddFOU(ctx context.Context, f kernel.FOU) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "adding " + f.String()
	if err := k.write(op); err != nil {
		return err
	}
	if slices.Contains(k.fous, f) {
		return errno(op, syscall.EEXIST)
	}
	k.fous = append(k.fous, f)
	return nil
}

// DelFOU implements kernel.Kernel.
func (k *Kernel) DelFOU(ctx context.Context, f kernel.FOU) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "deleting " + f.String()
	if err := k.write(op); err != nil {
		return err
	}
	i := slices.Index(k.fous, f)
	if i < 0 {
		return errno(op, syscall.ENOENT)
	}
	k.fous = slices.Delete(k.fous, i, i+1)
	return nil
}

// Sysctl implements kernel.Kernel.
func (k *Kernel) Sysctl(ctx context.Context, key string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.sysctls[key]
	if !ok {
		return "", errno("reading sysctl "+key, syscall.ENOENT)
	}
	return v, nil
}

// SetSysctl implements kernel.Kernel.
func (k *Kernel) SetSysctl(ctx context.Context, key, value string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := "writing sysctl " + key
	if err := k.write(op); err != nil {
		return err
	}
	if _, ok := k.sysctls[key]; !ok {
		return errno(op, syscall.ENOENT)
	}
	k.sysctls[key] = value
	return nil
}

// String prints the IPVS table like `ipvsadm-save -n`, then the other
// objects, deterministically, for test failure messages.
func (k *Kernel) String() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	svcs := slices.Clone(k.services)
	ipvs.Sort(svcs)
	var b strings.Builder
	b.WriteString(ipvs.SaveString(svcs))
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
	return b.String()
}
