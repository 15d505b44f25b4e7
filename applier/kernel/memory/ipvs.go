package memory

import (
	"context"
	"math"
	"net/netip"
	"slices"
	"sync"
	"syscall"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// IPVS is the in-memory IPVS table: services, destinations and timeouts.
// A Kernel has one; NewIPVS makes one alone. The zero value is not
// usable.
type IPVS struct {
	// mu guards the table and, in a Kernel, every other object too:
	// adding a destination reads the host's addresses.
	mu       sync.Mutex
	services []ipvs.Service
	// index finds a service by its canonical key: tests load tables of
	// 10,000 services, too many to search one by one per write.
	index    map[ipvs.ServiceKey]int
	timeouts kernel.Timeouts
	// host is the Kernel the table belongs to, whose addresses decide
	// which destinations are local or broadcast; nil for a table alone.
	host *Kernel
	// Schedulers are the scheduler modules this kernel has; by default
	// every one but twos, like Debian's 6.1 cloud kernel.
	Schedulers []string
	// Fail, when set, is consulted before every write with the write's
	// description ("adding service tcp:192.0.2.10:80"); a non-nil error
	// is returned, as it is, instead of doing it. Tests inject failures
	// with it.
	Fail func(op string) error
	// Writes counts the writes that changed (or tried to change) state.
	Writes int
	// Batches counts the calls of WriteBatch.
	Batches int
}

var (
	_ kernel.IPVS          = (*IPVS)(nil)
	_ kernel.PartialReader = (*IPVS)(nil)
	_ kernel.BatchWriter   = (*IPVS)(nil)
)

// NewIPVS returns an IPVS table alone, empty, with the kernel's default
// timeouts. Without a host's addresses, a destination is checked by its
// address alone: a subnet's broadcast address is taken.
func NewIPVS() *IPVS {
	return &IPVS{
		timeouts:   kernel.Timeouts{TCP: 900, TCPFin: 120, UDP: 300},
		index:      map[ipvs.ServiceKey]int{},
		Schedulers: slices.DeleteFunc(slices.Clone(ipvs.Schedulers), func(s string) bool { return s == "twos" }),
	}
}

// A pendingOp is a write being made, described (kernel.WriteError) only
// when it fails or Fail asks: a capture read into the twin (plan
// --observed) is a write per service and destination, and describing
// each one up front was a twentieth of that command's allocations.
type pendingOp struct {
	w kernel.IPVSWrite
	// fixed describes a write that is not an IPVS write.
	fixed *kernel.OpError
}

// failed is the write's error, caused by err.
func (o pendingOp) failed(err error) error {
	if o.fixed != nil {
		e := *o.fixed
		e.Err = err
		return &e
	}
	return kernel.WriteError(o.w, err)
}

// begin counts a write and consults Fail with its description.
func (t *IPVS) begin(op pendingOp) error {
	t.Writes++
	if t.Fail != nil {
		if err := t.Fail(op.failed(nil).Error()); err != nil {
			return err
		}
	}
	return nil
}

// write is begin for a write described up front (links, addresses,
// sysctls: few).
func (t *IPVS) write(op kernel.OpError) error { return t.begin(pendingOp{fixed: &op}) }

// failed is op's error, caused by err.
func failed(op kernel.OpError, err error) error { return pendingOp{fixed: &op}.failed(err) }

func (t *IPVS) find(key ipvs.ServiceKey) int {
	if i, ok := t.index[key.Canonical()]; ok {
		return i
	}
	return -1
}

// Services implements kernel.IPVS.
func (t *IPVS) Services(ctx context.Context) ([]ipvs.Service, error) {
	return t.ServicesWith(ctx, nil)
}

// ServicesWith implements kernel.PartialReader.
func (t *IPVS) ServicesWith(ctx context.Context, dests func(ipvs.ServiceKey) bool) ([]ipvs.Service, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]ipvs.Service, 0, len(t.services))
	for _, s := range t.services {
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
func (t *IPVS) checkService(s ipvs.Service) error {
	if s.Family != ipvs.IPv4 && s.Family != ipvs.IPv6 {
		return syscall.EAFNOSUPPORT
	}
	// Over netlink the kernel takes any protocol number (only the
	// setsockopt path checks for tcp, udp and sctp).
	if s.Scheduler != "none" && !slices.Contains(t.Schedulers, s.Scheduler) {
		// "Scheduler module ip_vs_%s not found"; "none" is no scheduler.
		return syscall.ENOENT
	}
	if s.PE != "" && s.PE != "sip" {
		return syscall.ENOENT
	}
	if s.Family == ipvs.IPv6 && (s.NetmaskBits < 1 || s.NetmaskBits > 128) {
		return syscall.EINVAL
	}
	return nil
}

// AddService implements kernel.IPVS.
func (t *IPVS) AddService(ctx context.Context, s ipvs.Service) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	op := pendingOp{w: kernel.IPVSWrite{Op: kernel.AddService, Service: s}}
	if err := t.begin(op); err != nil {
		return err
	}
	if t.find(s.ServiceKey) >= 0 {
		return op.failed(syscall.EEXIST)
	}
	if err := t.checkService(s); err != nil {
		return op.failed(err)
	}
	s.Destinations = nil
	s.Flags &^= ipvs.FlagHashed
	t.index[s.ServiceKey.Canonical()] = len(t.services)
	t.services = append(t.services, normalise(s))
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

// UpdateService implements kernel.IPVS.
func (t *IPVS) UpdateService(ctx context.Context, s ipvs.Service) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	op := pendingOp{w: kernel.IPVSWrite{Op: kernel.UpdateService, Service: s}}
	if err := t.begin(op); err != nil {
		return err
	}
	i := t.find(s.ServiceKey)
	if i < 0 {
		return op.failed(syscall.ESRCH)
	}
	if err := t.checkService(s); err != nil {
		return op.failed(err)
	}
	cur := &t.services[i]
	cur.Scheduler, cur.Flags, cur.Timeout, cur.NetmaskBits, cur.PE = s.Scheduler, s.Flags&^ipvs.FlagHashed, s.Timeout, s.NetmaskBits, s.PE
	return nil
}

// DelService implements kernel.IPVS.
func (t *IPVS) DelService(ctx context.Context, key ipvs.ServiceKey) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	op := pendingOp{w: kernel.IPVSWrite{Op: kernel.DelService, Service: ipvs.Service{ServiceKey: key}}}
	if err := t.begin(op); err != nil {
		return err
	}
	i := t.find(key)
	if i < 0 {
		return op.failed(syscall.ESRCH)
	}
	t.services = slices.Delete(t.services, i, i+1)
	delete(t.index, key.Canonical())
	for j := i; j < len(t.services); j++ {
		t.index[t.services[j].ServiceKey.Canonical()] = j
	}
	return nil
}

// WriteBatch implements kernel.BatchWriter the way the kernel runs a
// pipelined batch: every write in turn, each with its own error, none
// stopped by an earlier failure. Only a context done before the batch
// starts stops it, as a real exchange would stop before sending.
func (t *IPVS) WriteBatch(ctx context.Context, ws []kernel.IPVSWrite) ([]error, error) {
	errs := make([]error, len(ws))
	if err := ctx.Err(); err != nil {
		for i, w := range ws {
			errs[i] = kernel.WriteError(w, kernel.ErrNotSent)
		}
		return errs, err
	}
	t.mu.Lock()
	t.Batches++
	t.mu.Unlock()
	for i, w := range ws {
		errs[i] = kernel.Do(ctx, t, w)
	}
	return errs, nil
}

// checkDest applies ip_vs_genl_set_cmd's and ip_vs_add/edit_dest's checks.
func checkDest(svc ipvs.Service, d ipvs.Destination) error {
	if ipvs.FamilyOf(d.Addr) != svc.Family && d.Forward != ipvs.Tunnel {
		// Mixed families are for tunnels only.
		return syscall.EINVAL
	}
	if d.Weight < 0 {
		return syscall.ERANGE
	}
	if d.LowerThreshold > d.UpperThreshold {
		return syscall.ERANGE
	}
	if d.UpperThreshold > math.MaxInt32 {
		// As 6.1 stable builds with the fix that refuses thresholds
		// the schedulers' int comparisons would read as negative;
		// earlier builds store them (kerneltest's ThresholdRange
		// takes both).
		return syscall.EINVAL
	}
	if d.Forward == ipvs.Tunnel && d.TunType == ipvs.TunGUE && d.TunPort == 0 {
		// "tunnel port is zero"
		return syscall.EINVAL
	}
	return nil
}

// unicastDest applies ip_vs_new_dest's address check: an IPv4
// destination must be a unicast or local address (inet_addr_type), an
// IPv6 one a unicast address that is not link-local (ipv6_addr_type),
// unless it is bound here.
func (t *IPVS) unicastDest(a netip.Addr) bool {
	var addrs []kernel.Address
	var up func(dev string) bool
	if h := t.host; h != nil {
		addrs = h.addrs
		up = func(dev string) bool { l := h.links[dev]; return l != nil && l.Up }
	}
	if a.Is4() {
		if a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return false
		}
		// A subnet's broadcast address, routed as broadcast while its
		// device is up.
		for _, x := range addrs {
			p := x.Prefix
			if up(x.Device) && p.Addr().Is4() && p.Bits() < 31 && lastAddr(p) == a {
				return false
			}
		}
		return true
	}
	if slices.ContainsFunc(addrs, func(x kernel.Address) bool { return x.Prefix.Addr() == a }) {
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

// destWrite begins a destination write, with t.mu held: it counts the
// write, consults Fail and finds the destination's service, which every
// destination write requires (ESRCH without it). It returns the write,
// whose error the caller's own checks make, and the service to change.
func (t *IPVS) destWrite(o kernel.WriteOp, key ipvs.ServiceKey, d ipvs.Destination) (pendingOp, *ipvs.Service, error) {
	op := pendingOp{w: kernel.IPVSWrite{Op: o, Service: ipvs.Service{ServiceKey: key}, Dest: d}}
	if err := t.begin(op); err != nil {
		return op, nil, err
	}
	i := t.find(key)
	if i < 0 {
		return op, nil, op.failed(syscall.ESRCH)
	}
	return op, &t.services[i], nil
}

// AddDestination implements kernel.IPVS.
func (t *IPVS) AddDestination(ctx context.Context, key ipvs.ServiceKey, d ipvs.Destination) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	op, svc, err := t.destWrite(kernel.AddDestination, key, d)
	if err != nil {
		return err
	}
	if err := checkDest(*svc, d); err != nil {
		return op.failed(err)
	}
	if destIndex(svc, d) >= 0 {
		return op.failed(syscall.EEXIST)
	}
	if !t.unicastDest(d.Addr) {
		return op.failed(syscall.EINVAL)
	}
	d.ActiveConns, d.InactiveConns = 0, 0
	svc.Destinations = append(svc.Destinations, d)
	return nil
}

// UpdateDestination implements kernel.IPVS.
func (t *IPVS) UpdateDestination(ctx context.Context, key ipvs.ServiceKey, d ipvs.Destination) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	op, svc, err := t.destWrite(kernel.UpdateDestination, key, d)
	if err != nil {
		return err
	}
	if err := checkDest(*svc, d); err != nil {
		return op.failed(err)
	}
	j := destIndex(svc, d)
	if j < 0 {
		return op.failed(syscall.ENOENT)
	}
	d.ActiveConns, d.InactiveConns = svc.Destinations[j].ActiveConns, svc.Destinations[j].InactiveConns
	svc.Destinations[j] = d
	return nil
}

// DelDestination implements kernel.IPVS.
func (t *IPVS) DelDestination(ctx context.Context, key ipvs.ServiceKey, d ipvs.Destination) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	op, svc, err := t.destWrite(kernel.DelDestination, key, d)
	if err != nil {
		return err
	}
	j := destIndex(svc, d)
	if j < 0 {
		return op.failed(syscall.ENOENT)
	}
	svc.Destinations = slices.Delete(svc.Destinations, j, j+1)
	return nil
}

// SetConns sets a destination's connection counters, as traffic would.
func (t *IPVS) SetConns(key ipvs.ServiceKey, addr netip.AddrPort, active, inactive uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	op := pendingOp{fixed: &kernel.OpError{Op: "setting", Object: "counters of destination " + addr.String() + " of " + key.String()}}
	i := t.find(key)
	if i < 0 {
		return op.failed(syscall.ESRCH)
	}
	j := destIndex(&t.services[i], ipvs.Destination{Addr: addr.Addr(), Port: addr.Port()})
	if j < 0 {
		return op.failed(syscall.ENOENT)
	}
	t.services[i].Destinations[j].ActiveConns = active
	t.services[i].Destinations[j].InactiveConns = inactive
	return nil
}

// Timeouts implements kernel.IPVS.
func (t *IPVS) Timeouts(ctx context.Context) (kernel.Timeouts, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.timeouts, nil
}

// SetTimeouts implements kernel.IPVS; zero leaves a timeout unchanged.
func (t *IPVS) SetTimeouts(ctx context.Context, to kernel.Timeouts) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	op := pendingOp{fixed: &kernel.OpError{Op: "setting", Object: "IPVS timeouts"}}
	if err := t.begin(op); err != nil {
		return err
	}
	// The kernel keeps timeouts in jiffies in an int: it refuses more
	// than INT_MAX/HZ seconds (Debian's HZ is 250).
	const maxTimeout = math.MaxInt32 / 250
	for _, v := range []int{to.TCP, to.TCPFin, to.UDP} {
		if v < 0 || v > maxTimeout {
			return op.failed(syscall.EINVAL)
		}
	}
	if to.TCP != 0 {
		t.timeouts.TCP = to.TCP
	}
	if to.TCPFin != 0 {
		t.timeouts.TCPFin = to.TCPFin
	}
	if to.UDP != 0 {
		t.timeouts.UDP = to.UDP
	}
	return nil
}

// String prints the IPVS table like `ipvsadm-save -n`, deterministically,
// for test failure messages.
func (t *IPVS) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.saveLocked()
}

func (t *IPVS) saveLocked() string {
	svcs := slices.Clone(t.services)
	ipvs.Sort(svcs)
	return ipvs.SaveString(svcs)
}
