package hoststate

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/model"
)

// Build computes the desired state of every managed host of a validated
// config. It fails when two services need contradicting settings on one
// host (a sysctl with two values, two gateways for one route): such a
// config cannot be applied. It is pure: the same config gives equal
// states and the same conflicts, sorted.
func Build(cfg *model.Config) (map[string]*Host, []Conflict) {
	in := NewInputs(cfg, nil)
	hosts := map[string]*Host{}
	var all []Conflict
	for _, name := range in.Managed() {
		h, errs := in.Host(name)
		hosts[name] = h
		all = append(all, errs...)
	}
	SortConflicts(all)
	return hosts, all
}

// Inputs is what building one host reads of a config, gathered once for
// all its hosts: which hosts are managed, what each carries, and how
// directors see each service. Host may be called for several hosts at
// once: the hosts are independent, and a compiler builds them on every
// core, keeping a host's state while its inputs are unchanged.
type Inputs struct {
	cfg     *model.Config
	managed []string
	parts   map[string][]Part
	views   map[*model.Service]*View
	// reasons[i] names cfg.Services[i], made once for every host (a
	// real server behind 10,000 services would otherwise make 10,000
	// strings) and only when a host is built.
	reasonsOnce sync.Once
	reasons     []string
}

// Part is what one service asks of a host: to direct it (Real ==
// DirectorPart), to be its real server number Real, or to be its sorry
// server (Real == SorryPart). Service indexes the config's services.
type Part struct{ Service, Real int }

// The Real of a Part that is not a real server's.
const (
	DirectorPart = -1
	SorryPart    = -2
)

// NewInputs gathers what building cfg's hosts reads. views holds every
// service of cfg as NewView makes it (a caller may keep them between
// configs: a view depends on its service alone), or is nil to make them
// here.
func NewInputs(cfg *model.Config, views map[*model.Service]*View) *Inputs {
	if views == nil {
		views = make(map[*model.Service]*View, len(cfg.Services))
		for _, s := range cfg.Services {
			views[s] = NewView(s)
		}
	}
	in := &Inputs{cfg: cfg, views: views, parts: map[string][]Part{}}
	for _, name := range slices.Sorted(maps.Keys(cfg.Hosts)) {
		if cfg.Hosts[name].Managed {
			in.managed = append(in.managed, name)
		}
	}
	// What each host carries, in service order: one pass over the
	// services rather than one per host.
	for i, s := range cfg.Services {
		for _, d := range cfg.Clusters[s.Cluster].Directors {
			in.parts[d] = append(in.parts[d], Part{Service: i, Real: DirectorPart})
		}
		for j, r := range s.Reals {
			in.parts[r.Host] = append(in.parts[r.Host], Part{Service: i, Real: j})
		}
		// A sorry server is set up as a real server is, so that it
		// can serve the moment the health overlay adds it.
		if s.Sorry != nil && s.Sorry.Host != "" {
			in.parts[s.Sorry.Host] = append(in.parts[s.Sorry.Host], Part{Service: i, Real: SorryPart})
		}
	}
	return in
}

// Managed returns the names of the managed hosts, sorted.
func (in *Inputs) Managed() []string { return in.managed }

// Parts returns what host name carries, in service order.
func (in *Inputs) Parts(name string) []Part { return in.parts[name] }

// Host builds the state of managed host name.
func (in *Inputs) Host(name string) (*Host, []Conflict) {
	in.reasonsOnce.Do(func() {
		in.reasons = make([]string, len(in.cfg.Services))
		for i, s := range in.cfg.Services {
			in.reasons[i] = "service " + s.Name
		}
	})
	cfg := in.cfg
	b := newBuilder(name)
	b.views = in.views
	h := cfg.Hosts[name]
	for _, cn := range slices.Sorted(maps.Keys(cfg.Clusters)) {
		if cl := cfg.Clusters[cn]; slices.Contains(cl.Directors, name) {
			b.director(cl, h)
		}
	}
	var cl *model.Cluster
	for _, p := range in.parts[name] {
		s := cfg.Services[p.Service]
		// Parts come service by service, most of a cluster's together:
		// one lookup per run of a cluster, not per part.
		if cl == nil || cl.Name != s.Cluster {
			cl = cfg.Clusters[s.Cluster]
		}
		switch p.Real {
		case DirectorPart:
			b.directorService(cl, h, s, in.reasons[p.Service])
		case SorryPart:
			b.realService(cfg, cl, h, s, model.Real{Host: s.Sorry.Host, Address: s.Sorry.Address, Port: s.Sorry.Port}, in.reasons[p.Service])
		default:
			b.realService(cfg, cl, h, s, s.Reals[p.Real], in.reasons[p.Service])
		}
	}
	b.conntrack()
	return b.finish(), b.errs
}

// View is what a director makes of a service, the same on every director
// and in every compile while the service is unchanged: its IPVS service,
// destinations sorted, and the key it is first ordered by.
type View struct {
	Service ipvs.Service
	Key     string
	// Err is what ipvs.Validate says of Service.
	Err error
	// Checks are the destinations' health checks in the destinations'
	// order, Sorry the sorry server's destination (see Service).
	Checks []Check
	Sorry  *ipvs.Destination
}

// NewView returns the view of a service.
func NewView(s *model.Service) *View { return newView(s, true) }

// NewValidView is NewView for a service known to make a valid view: one
// whose view a compile by the same build found valid (its Err nil), and
// which has not changed since. Validate, a function of the view's
// service alone, is not run again: it builds and parses each service's
// ipvsadm options, a fifth of a view's cost.
func NewValidView(s *model.Service) *View { return newView(s, false) }

func newView(s *model.Service, validate bool) *View {
	v := &View{Service: IPVSService(s)}
	ipvs.SortDestinations(v.Service.Destinations)
	v.Key = v.Service.ServiceKey.String()
	if validate {
		v.Err = v.Service.Validate()
	}
	v.Checks = Checks(s, v.Service.Destinations)
	if s.Sorry != nil {
		d := destination(s, model.Real{Address: s.Sorry.Address, Port: s.Sorry.Port, Weight: 1})
		v.Sorry = &d
	}
	return v
}

// Checks returns the health checks of s's real servers, one per checked
// real server, in the order of dests (s's destinations as a director
// carries them, sorted).
func Checks(s *model.Service, dests []ipvs.Destination) []Check {
	var out []Check
	for _, r := range s.Reals {
		if r.Check == nil {
			continue
		}
		dest := netip.AddrPortFrom(r.Address, r.Port)
		name := r.Host
		if name == "" {
			name = dest.String()
		}
		out = append(out, Check{Real: name, Destination: dest, Addr: netip.AddrPortFrom(r.Address, r.Check.Port), Check: *r.Check})
	}
	if len(out) == 0 {
		return nil
	}
	order := make(map[netip.AddrPort]int, len(dests))
	for i, d := range dests {
		order[d.AddrPort()] = i
	}
	slices.SortStableFunc(out, func(a, b Check) int { return cmp.Compare(order[a.Destination], order[b.Destination]) })
	return out
}

// Conflict is a setting two services need with different values on one
// host.
type Conflict struct {
	Host    string
	Message string
	// Reason is the item that found the conflict: "service NAME" or
	// "cluster NAME".
	Reason string
	// With are the items whose need Reason's contradicts, in the same
	// form: the compiler points at them too.
	With []string
}

// SortConflicts sorts conflicts by host and message, the order Build
// returns them in.
func SortConflicts(cs []Conflict) {
	slices.SortFunc(cs, func(a, b Conflict) int { return cmp.Compare(a.Host+a.Message, b.Host+b.Message) })
}

// hostService is a director's service with its first sort key.
type hostService struct {
	Service
	key string
}

// builder accumulates one host's state. Items needed by several services
// are merged, their reasons joined.
type builder struct {
	h        Host
	services map[ipvs.ServiceKey]*hostService
	sysctls  map[string]*Sysctl
	links    map[string]*Link
	addrs    map[addrKey]*Address
	fou      map[string]*FOU
	routes   map[netip.Prefix]*Route
	// snat are the SNAT rules of fullnat services by table family, with
	// the services that need each table.
	snat map[kernel.NFTFamily]*NFTable
	// snatSeen holds the rules in snat, so that a large config's rules
	// are deduplicated without a search each.
	snatSeen map[kernel.SNATRule]bool
	// fullnat names the services that need conntrack on.
	fullnat []string
	errs    []Conflict
	// views are the services as directors see them.
	views map[*model.Service]*View
	// arpKeys are an interface's ARP sysctl keys, built once: a real
	// server behind 10,000 services asks for them 10,000 times.
	arpKeys map[string][2]string
}

func newBuilder(name string) *builder {
	return &builder{
		h:        Host{Version: FormatVersion, Name: name},
		services: map[ipvs.ServiceKey]*hostService{},
		sysctls:  map[string]*Sysctl{},
		links:    map[string]*Link{},
		addrs:    map[addrKey]*Address{},
		fou:      map[string]*FOU{},
		routes:   map[netip.Prefix]*Route{},
		snat:     map[kernel.NFTFamily]*NFTable{},
		snatSeen: map[kernel.SNATRule]bool{},
		arpKeys:  map[string][2]string{},
	}
}

// timeoutsText says IPVS timeouts as ipvsadm --set takes them.
func timeoutsText(t kernel.Timeouts) string {
	return fmt.Sprintf("tcp %ds, tcpfin %ds, udp %ds", t.TCP, t.TCPFin, t.UDP)
}

func (b *builder) conflict(reason string, with []string, format string, args ...any) Conflict {
	return Conflict{Host: b.h.Name, Reason: reason, With: slices.Clone(with), Message: fmt.Sprintf(format, args...)}
}

func (b *builder) role(r string) {
	if !slices.Contains(b.h.Roles, r) {
		b.h.Roles = append(b.h.Roles, r)
	}
}

// addReason adds r to the sorted reasons rs. A real server behind 10,000
// services collects 10,000 reasons for its ARP sysctls: insertion keeps
// that linear where re-sorting on every add did not.
func addReason(rs []string, r string) []string {
	// Services come in name order, so a reason is most often the last
	// one or after it: one comparison instead of a search.
	if n := len(rs); n > 0 && rs[n-1] <= r {
		if rs[n-1] < r {
			rs = append(rs, r)
		}
		return rs
	}
	if i, found := slices.BinarySearch(rs, r); !found {
		rs = slices.Insert(rs, i, r)
	}
	return rs
}

func (b *builder) sysctl(key string, value int, reason string) {
	v := strconv.Itoa(value)
	if s, ok := b.sysctls[key]; ok {
		if s.Value != v {
			b.errs = append(b.errs, b.conflict(reason, s.Reasons, "host %s: %s must be %s for %s but %s for %s", b.h.Name, key, s.Value, strings.Join(s.Reasons, ", "), v, reason))
			return
		}
		s.Reasons = addReason(s.Reasons, reason)
		return
	}
	b.sysctls[key] = &Sysctl{Key: key, Value: v, Reasons: []string{reason}}
}

func (b *builder) link(name, kind, reason string) {
	if l, ok := b.links[name]; ok {
		l.Reasons = addReason(l.Reasons, reason)
		return
	}
	l := &Link{Link: kernel.Link{Name: name, Kind: kind, Up: true}, Reasons: []string{reason}}
	if kind == "ip6tnl" {
		l.Mode = "any"
	}
	b.links[name] = l
}

type addrKey struct {
	dev string
	p   netip.Prefix
}

func (b *builder) addr(dev string, a netip.Addr, reason string) {
	p := netip.PrefixFrom(a, a.BitLen())
	k := addrKey{dev, p}
	if x, ok := b.addrs[k]; ok {
		x.Reasons = addReason(x.Reasons, reason)
		return
	}
	v6 := a.Is6()
	b.addrs[k] = &Address{Address: kernel.Address{Device: dev, Prefix: p, NoDAD: v6, Deprecated: v6}, Reasons: []string{reason}}
}

func (b *builder) route(dst netip.Prefix, gw netip.Addr, reason string) {
	if r, ok := b.routes[dst]; ok {
		if r.Gateway != gw {
			b.errs = append(b.errs, b.conflict(reason, r.Reasons, "host %s: route %s must go via %s for %s but via %s for %s", b.h.Name, dst, r.Gateway, strings.Join(r.Reasons, ", "), gw, reason))
			return
		}
		r.Reasons = addReason(r.Reasons, reason)
		return
	}
	b.routes[dst] = &Route{Route: kernel.Route{Dst: dst, Gateway: gw}, Reasons: []string{reason}}
}

// director records what every director of a cluster needs whatever its
// services: IPVS timeouts and the cluster's net.ipv4.vs.* sysctls.
func (b *builder) director(cl *model.Cluster, h *model.Host) {
	b.role("director")
	reason := "cluster " + cl.Name
	t := &Timeouts{Timeouts: kernel.Timeouts{TCP: cl.Timeouts.TCP, TCPFin: cl.Timeouts.TCPFin, UDP: cl.Timeouts.UDP}, Reason: []string{reason}}
	if b.h.Timeouts != nil && b.h.Timeouts.Timeouts != t.Timeouts {
		b.errs = append(b.errs, b.conflict(reason, b.h.Timeouts.Reason, "host %s: IPVS timeouts differ between %s (%s) and %s (%s); a kernel has one set", h.Name, strings.Join(b.h.Timeouts.Reason, ", "), timeoutsText(b.h.Timeouts.Timeouts), reason, timeoutsText(t.Timeouts)))
	} else if b.h.Timeouts != nil {
		b.h.Timeouts.Reason = addReason(b.h.Timeouts.Reason, reason)
	} else {
		b.h.Timeouts = t
	}
	for _, k := range slices.Sorted(maps.Keys(cl.Sysctl)) {
		b.sysctl("net.ipv4.vs."+k, cl.Sysctl[k], reason)
	}
	if cl.VIPBind == "dummy" {
		b.link(cl.VIPDevice, "dummy", reason)
	}
	b.syncDaemons(cl, h)
}

func (b *builder) directorService(cl *model.Cluster, h *model.Host, s *model.Service, reason string) {
	v := b.views[s]
	b.services[v.Service.ServiceKey] = &hostService{Service{
		Name: s.Name, Service: v.Service, DrainTimeout: s.DrainTimeout,
		Checks: v.Checks, Sorry: v.Sorry, Quorum: s.Quorum, Hysteresis: s.Hysteresis,
		Addresses: slices.Clone(s.Addresses),
	}, v.Key}
	switch cl.VIPBind {
	case "dummy", "interface":
		for _, a := range s.BoundAddresses() {
			b.addr(cl.VIPDevice, a, reason)
			if cl.Mode == model.ActiveActive {
				b.addrs[addrKey{cl.VIPDevice, netip.PrefixFrom(a, a.BitLen())}].Announced = true
			}
		}
	}
	if s.Forwarding == "fullnat" {
		b.fullNAT(h, s, reason)
	}
	if s.Forwarding == "nat" || s.Forwarding == "fullnat" {
		// NAT replies come back through the director and are forwarded
		// (de-NATed) to the client: routing must be on.
		if s.Family == ipvs.IPv4 {
			b.sysctl("net.ipv4.ip_forward", 1, reason)
		} else {
			b.sysctl("net.ipv6.conf.all.forwarding", 1, reason)
		}
		// A director that forwards out the interface a packet came in on
		// sends ICMP redirects; for NAT they would point clients or real
		// servers past the director. The kernel ORs all and the device.
		if s.Family == ipvs.IPv4 {
			b.sysctl("net.ipv4.conf.all.send_redirects", 0, reason)
			// FULLNAT real servers may sit behind a router: what
			// matters is the interface their route leaves by.
			route := h.InterfaceFor
			if s.Forwarding == "fullnat" {
				route = h.RouteTo
			}
			for _, r := range s.Reals {
				if ifc, _, ok := route(r.Address); ok {
					b.sysctl("net.ipv4.conf."+ifc.Name+".send_redirects", 0, reason)
				}
			}
			if s.Sorry != nil {
				if ifc, _, ok := route(s.Sorry.Address); ok {
					b.sysctl("net.ipv4.conf."+ifc.Name+".send_redirects", 0, reason)
				}
			}
		}
	}
}

// conntrackKey is the sysctl that makes IPVS keep conntrack entries.
const conntrackKey = "net.ipv4.vs.conntrack"

// conntrack turns net.ipv4.vs.conntrack on for the host's fullnat
// services. It wins over a cluster's conntrack: 0, the schema's default,
// which a cluster with a fullnat service cannot mean to keep: without
// conntrack entries the SNAT rules match nothing and every fullnat
// connection is answered to the client's address, which the real server
// need not route back through the director.
func (b *builder) conntrack() {
	if len(b.fullnat) == 0 {
		return
	}
	if s, ok := b.sysctls[conntrackKey]; ok && s.Value != "1" {
		delete(b.sysctls, conntrackKey)
	}
	for _, r := range b.fullnat {
		b.sysctl(conntrackKey, 1, r)
	}
}

// fullNAT records what a director needs to translate the source of a
// fullnat service's connections: IPVS masquerades them (the destination),
// and an nftables SNAT rule per real server rewrites their source to the
// service's snat address, or to the director's own address on the
// interface that routes to the real server, so that the replies come
// back to the director whatever the real server's routes. The rules match
// the connections by their conntrack entries, which IPVS keeps only with
// net.ipv4.vs.conntrack = 1.
func (b *builder) fullNAT(h *model.Host, s *model.Service, reason string) {
	fam := kernel.NFTFamilyOf(s.Family)
	t, ok := b.snat[fam]
	if !ok {
		t = &NFTable{NFTTable: kernel.NFTTable{Family: fam, Name: kernel.NFTTableName}}
		b.snat[fam] = t
	}
	t.Reasons = addReason(t.Reasons, reason)
	b.fullnat = append(b.fullnat, reason)
	proto, _ := ipvs.ParseProtocol(s.Protocol)
	reals := slices.Clone(s.Reals)
	if s.Sorry != nil {
		// The sorry server is reached as a real server is.
		reals = append(reals, model.Real{Address: s.Sorry.Address, Port: s.Sorry.Port})
	}
	var rules []kernel.SNATRule
	if len(t.Chains) > 0 {
		rules = t.Chains[0].Rules
	}
	for _, r := range reals {
		to := s.SNAT
		if !to.IsValid() {
			_, p, ok := h.RouteTo(r.Address)
			if !ok {
				// The compiler refuses a real server the director has
				// no route to (fullnat-route).
				continue
			}
			to = p.Addr()
		}
		rule := kernel.SNATRule{Protocol: proto, VIP: s.VIP, Port: s.Port, Real: r.Address, To: to}
		if !b.snatSeen[rule] {
			b.snatSeen[rule] = true
			rules = append(rules, rule)
		}
	}
	t.Chains = []kernel.NFTChain{kernel.SNATChain(rules)}
}

// realService records what a managed real server needs to accept the
// packets a director forwards to it and to answer them correctly.
func (b *builder) realService(cfg *model.Config, cl *model.Cluster, h *model.Host, s *model.Service, r model.Real, reason string) {
	b.role("real")
	switch s.Forwarding {
	case "dr":
		// The packet still carries the VIP: it must be local, but the
		// real server must neither answer ARP for it nor use it as an ARP
		// source, or it would steal the VIP from the director. The kernel
		// takes the larger of all and the device for both settings.
		for _, a := range s.BoundAddresses() {
			b.addr("lo", a, reason)
		}
		if s.Family == ipvs.IPv4 {
			b.arpSettings(h, r.Address, reason)
		}
	case "nat":
		gw := natGateway(cfg, cl, s.Family, r.Address)
		if !gw.IsValid() {
			return
		}
		if len(cl.ClientNetworks) == 0 {
			def := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
			if s.Family == ipvs.IPv6 {
				def = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
			}
			b.route(def, gw, reason)
		}
		for _, c := range cl.ClientNetworks {
			if ipvs.FamilyOf(c.Addr()) == s.Family {
				b.route(c.Masked(), gw, reason)
			}
		}
	case "tun":
		dev, kind := tunnelDevice(s.Tunnel.Type, ipvs.FamilyOf(r.Address), s.Family)
		outer := ipvs.FamilyOf(r.Address)
		if s.Tunnel.Type == "gue" {
			k := fmt.Sprintf("%d/%s", s.Tunnel.Port, outer)
			if f, ok := b.fou[k]; ok {
				f.Reasons = addReason(f.Reasons, reason)
			} else {
				b.fou[k] = &FOU{FOU: kernel.FOU{Port: s.Tunnel.Port, IPv6: outer == ipvs.IPv6}, Family: outer, Reasons: []string{reason}}
			}
		}
		b.link(dev, kind, reason)
		for _, a := range s.BoundAddresses() {
			b.addr(dev, a, reason)
		}
		if s.Family == ipvs.IPv4 {
			// Decapsulated packets arrive on the tunnel device with the
			// client's source address, which the reverse-path filter
			// would drop: the kernel uses the larger of all and the
			// device. (IPv6 has no rp_filter.)
			b.sysctl("net.ipv4.conf.all.rp_filter", 0, reason)
			b.sysctl("net.ipv4.conf."+dev+".rp_filter", 0, reason)
			b.arpSettings(h, r.Address, reason)
		}
	}
}

// tunnelDevice is the device that decapsulates what a director sends a
// tun real server, by the kernel's demultiplexing: GRE carries any inner
// protocol on gre0 (ip6gre0 over IPv6); IPv4-in-IPv4 (ipip, or gue, which
// hands its payload on by IP protocol) arrives on tunl0 and IPv6-in-IPv4 on
// sit0; anything in IPv6 on ip6tnl0, which must accept any inner protocol.
// The e2e suite carries traffic through each combination.
func tunnelDevice(typ string, outer, inner ipvs.Family) (dev, kind string) {
	switch {
	case typ == "gre" && outer == ipvs.IPv4:
		return "gre0", "gre"
	case typ == "gre":
		return "ip6gre0", "ip6gre"
	case outer == ipvs.IPv6:
		return "ip6tnl0", "ip6tnl"
	case inner == ipvs.IPv6:
		return "sit0", "sit"
	}
	return "tunl0", "ipip"
}

// arpSettings keeps a real server from answering ARP for, or announcing, a
// VIP it holds on lo or a tunnel device.
func (b *builder) arpSettings(h *model.Host, addr netip.Addr, reason string) {
	b.sysctl("net.ipv4.conf.all.arp_ignore", 1, reason)
	b.sysctl("net.ipv4.conf.all.arp_announce", 2, reason)
	if ifc, _, ok := h.InterfaceFor(addr); ok {
		keys, ok := b.arpKeys[ifc.Name]
		if !ok {
			keys = [2]string{"net.ipv4.conf." + ifc.Name + ".arp_ignore", "net.ipv4.conf." + ifc.Name + ".arp_announce"}
			b.arpKeys[ifc.Name] = keys
		}
		b.sysctl(keys[0], 1, reason)
		b.sysctl(keys[1], 2, reason)
	}
}

// natGateway is the address a NAT real server at a routes back through:
// the cluster's floating natGateway, else the director's own address on
// the real server's subnet.
func natGateway(cfg *model.Config, cl *model.Cluster, f ipvs.Family, a netip.Addr) netip.Addr {
	if f == ipvs.IPv4 && cl.NATGateway.IsValid() {
		return cl.NATGateway
	}
	if f == ipvs.IPv6 && cl.NATGateway6.IsValid() {
		return cl.NATGateway6
	}
	for _, d := range cl.Directors {
		if h := cfg.Hosts[d]; h != nil {
			if _, p, ok := h.InterfaceFor(a); ok {
				return p.Addr()
			}
		}
	}
	return netip.Addr{}
}

// IPVSService converts a validated service into the IPVS service its
// directors carry.
func IPVSService(s *model.Service) ipvs.Service {
	svc := ipvs.Service{
		ServiceKey: ipvs.ServiceKey{FWMark: s.FWMark, Family: s.Family},
		Scheduler:  s.Scheduler,
	}
	if s.FWMark == 0 {
		svc.Addr = s.VIP
		svc.Port = s.Port
		svc.Protocol, _ = ipvs.ParseProtocol(s.Protocol)
	}
	if p := s.Persistence; p != nil {
		svc.Flags |= ipvs.FlagPersistent
		svc.Timeout = p.Timeout
		svc.NetmaskBits = p.Netmask
		svc.PE = p.Engine
	} else {
		// The kernel stores a full mask for a non-persistent service.
		svc.NetmaskBits = 32
		if s.Family == ipvs.IPv6 {
			svc.NetmaskBits = 128
		}
	}
	if s.OnePacket {
		svc.Flags |= ipvs.FlagOnePacket
	}
	for _, f := range s.Flags {
		switch f {
		case "sh-fallback", "mh-fallback", "flag-1":
			svc.Flags |= ipvs.FlagSched1
		case "sh-port", "mh-port", "flag-2":
			svc.Flags |= ipvs.FlagSched2
		case "flag-3":
			svc.Flags |= ipvs.FlagSched3
		}
	}
	if len(s.Reals) > 0 {
		// Sized at once (a service without real servers keeps nil):
		// growing it was most of a view's cost.
		svc.Destinations = make([]ipvs.Destination, len(s.Reals))
		for i, r := range s.Reals {
			svc.Destinations[i] = destination(s, r)
		}
	}
	return svc
}

// destination is the IPVS destination of real server r of s.
func destination(s *model.Service, r model.Real) ipvs.Destination {
	d := ipvs.Destination{
		Addr:           r.Address,
		Port:           r.Port,
		Weight:         r.Weight,
		UpperThreshold: r.UpperThreshold,
		LowerThreshold: r.LowerThreshold,
	}
	switch s.Forwarding {
	case "dr":
		d.Forward = ipvs.Route
	case "nat", "fullnat":
		// FULLNAT is masquerading to IPVS; the source NAT is nftables'.
		d.Forward = ipvs.Masq
	case "tun":
		d.Forward = ipvs.Tunnel
		switch s.Tunnel.Type {
		case "gue":
			d.TunType = ipvs.TunGUE
			d.TunPort = s.Tunnel.Port
		case "gre":
			d.TunType = ipvs.TunGRE
		}
		switch s.Tunnel.Checksum {
		case "csum":
			d.TunFlags = ipvs.TunFlagCsum
		case "remcsum":
			d.TunFlags = ipvs.TunFlagRemCsum
		}
	}
	return d
}

// finish returns the host's state with every list in a stable order.
func (b *builder) finish() *Host {
	h := b.h
	slices.Sort(h.Roles)
	h.Roles = nonNil(h.Roles)
	// ipvs.Sort is ipvsadm's merge sort, whose result depends on the
	// input order when addresses spread over the whole address space (its
	// comparison is not a total order): start from a fixed order, not the
	// map's, so renders are deterministic.
	order := make([]*hostService, 0, len(b.services))
	for _, s := range b.services {
		order = append(order, s)
	}
	slices.SortFunc(order, func(a, b *hostService) int { return strings.Compare(a.key, b.key) })
	svcs := make([]ipvs.Service, len(order))
	for i, o := range order {
		svcs[i] = o.Service.Service
	}
	// Destinations are sorted (and shared) already: see View.
	ipvs.SortServices(svcs)
	h.Services = make([]Service, 0, len(svcs))
	for _, s := range svcs {
		hs := b.services[s.ServiceKey].Service
		hs.Service = s
		h.Services = append(h.Services, hs)
	}
	h.Sysctls = sortedDeref(b.sysctls, func(a, b Sysctl) int { return cmp.Compare(a.Key, b.Key) })
	h.Links = sortedDeref(b.links, func(a, b Link) int { return cmp.Compare(a.Name, b.Name) })
	h.Addresses = sortedDeref(b.addrs, func(a, b Address) int {
		return cmp.Or(cmp.Compare(a.Device, b.Device), a.Prefix.Addr().Compare(b.Prefix.Addr()))
	})
	h.FOU = sortedDeref(b.fou, func(a, b FOU) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Family, b.Family))
	})
	for _, fam := range []kernel.NFTFamily{kernel.NFTIPv4, kernel.NFTIPv6} {
		if t, ok := b.snat[fam]; ok {
			rules := t.Chains[0].Rules
			slices.SortFunc(rules, func(a, b kernel.SNATRule) int {
				return cmp.Or(a.VIP.Compare(b.VIP), cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port), a.Real.Compare(b.Real))
			})
			h.NFTables = append(h.NFTables, *t)
		}
	}
	h.Routes = sortedDeref(b.routes, func(a, b Route) int {
		return cmp.Or(a.Dst.Addr().Compare(b.Dst.Addr()), cmp.Compare(a.Dst.Bits(), b.Dst.Bits()))
	})
	return &h
}

// sortedDeref returns the values of m in cmpf's order. It sorts the
// pointers and copies once: a director binding 10,000 VIPs sorts 10,000
// addresses, and moving the structs themselves was most of the sort.
func sortedDeref[K comparable, V any](m map[K]*V, cmpf func(a, b V) int) []V {
	ptrs := make([]*V, 0, len(m))
	for _, v := range m {
		ptrs = append(ptrs, v)
	}
	slices.SortFunc(ptrs, func(a, b *V) int { return cmpf(*a, *b) })
	out := make([]V, len(ptrs))
	for i, v := range ptrs {
		out[i] = *v
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
