package applier

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
)

// Observed is the live state of the kernel objects lvsgen looks at on one
// host.
type Observed struct {
	Services  []ipvs.Service
	Timeouts  kernel.Timeouts
	Links     []kernel.Link
	Addresses []kernel.Address
	Routes    []kernel.Route
	FOUs      []kernel.FOU
	// Sysctls holds the keys the desired state or the ownership state
	// names; a key the kernel does not have (a device not created yet)
	// is absent.
	Sysctls map[string]string
}

// Observe reads what Diff needs from k: one dump per kind of object, and
// the sysctls want or st name.
func Observe(ctx context.Context, k kernel.Kernel, want *hoststate.Host, st *State) (*Observed, error) {
	return observe(ctx, k, want, st, k.Services)
}

// observe is Observe with the IPVS table read by services.
func observe(ctx context.Context, k kernel.Kernel, want *hoststate.Host, st *State, services func(context.Context) ([]ipvs.Service, error)) (*Observed, error) {
	var obs Observed
	var err error
	if obs.Services, err = services(ctx); err != nil {
		return nil, fmt.Errorf("reading IPVS services: %w", err)
	}
	if obs.Timeouts, err = k.Timeouts(ctx); err != nil {
		return nil, fmt.Errorf("reading IPVS timeouts: %w", err)
	}
	if obs.Links, err = k.Links(ctx); err != nil {
		return nil, fmt.Errorf("reading links: %w", err)
	}
	if obs.Addresses, err = k.Addresses(ctx); err != nil {
		return nil, fmt.Errorf("reading addresses: %w", err)
	}
	if obs.Routes, err = k.Routes(ctx); err != nil {
		return nil, fmt.Errorf("reading routes: %w", err)
	}
	if obs.FOUs, err = k.FOUs(ctx); err != nil {
		return nil, fmt.Errorf("reading fou ports: %w", err)
	}
	obs.Sysctls = map[string]string{}
	keys := []string{}
	for _, s := range want.Sysctls {
		keys = append(keys, s.Key)
	}
	for key := range st.Sysctls {
		keys = append(keys, key)
	}
	for _, key := range keys {
		v, err := k.Sysctl(ctx, key)
		if errors.Is(err, syscall.ENOENT) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading sysctl: %w", err)
		}
		obs.Sysctls[key] = v
	}
	return &obs, nil
}

// Options tune Diff.
type Options struct {
	// Prune deletes IPVS services lvsgen did not create and the config
	// does not name, instead of listing them as unmanaged.
	Prune bool
	// DrainTimeout bounds how long a leaving TCP or SCTP destination
	// stays at weight 0 waiting for its connections to end; 0 deletes at
	// once.
	DrainTimeout time.Duration
	// Now is the time drains are measured against.
	Now time.Time
}

// DefaultDrainTimeout is how long a leaving destination may drain.
const DefaultDrainTimeout = 5 * time.Minute

// Diff computes the plan that makes obs equal want, given what lvsgen owns
// (st). It is pure: the same inputs give the same plan, and st is not
// changed (the plan carries the state as it will be).
//
// The operations come in this order, for these reasons:
//  1. links, then sysctls (a tunnel device's rp_filter exists only once
//     the device does), addresses, fou ports, routes and timeouts: a VIP is
//     bound, and a real server can decapsulate and answer, before any
//     director sends it traffic;
//  2. services, each created before its destinations;
//  3. destinations created and changed before any leaves, so a service
//     never has fewer real servers than both configs give it;
//  4. leaving destinations drained or deleted, then services deleted;
//  5. routes, fou ports, addresses (VIPs last, once no service uses them)
//     and links removed, and sysctls restored.
func Diff(want *hoststate.Host, obs *Observed, st *State, opt Options) *Plan {
	next := st.clone()
	d := &differ{want: want, obs: obs, st: st, next: next, opt: opt,
		dropDrainsOf: map[ipvs.ServiceKey]bool{}, dropDrain: map[drainKey]bool{}}
	d.links()
	d.sysctls()
	d.addresses()
	d.fous()
	d.routes()
	d.timeouts()
	d.services()
	sortTeardown(d.teardown)
	plan := &Plan{Host: want.Name, State: next, prev: st}
	phases := [][]Op{d.setup, d.svcCreate, d.destChange, d.destLeave, d.svcDelete, d.teardown}
	n := 0
	for _, phase := range phases {
		n += len(phase)
	}
	if n > 0 {
		plan.Ops = make([]Op, 0, n)
	}
	for _, phase := range phases {
		plan.Ops = append(plan.Ops, phase...)
	}
	plan.Unmanaged = d.unmanaged
	plan.Problems = d.problems
	next.sort()
	return plan
}

type differ struct {
	want *hoststate.Host
	obs  *Observed
	st   *State
	next *State
	opt  Options

	setup, svcCreate, destChange, destLeave, svcDelete, teardown []Op
	unmanaged                                                    []ipvs.Service
	problems                                                     []string

	// Drain records: st's by key, and the changes to make to next's
	// once every service is diffed — records to drop for a whole
	// service or one destination, and new ones.
	drains       map[drainKey]int
	dropDrainsOf map[ipvs.ServiceKey]bool
	dropDrain    map[drainKey]bool
	newDrains    []DrainRecord
}

// hasDevice reports whether name exists or the plan creates it.
func (d *differ) hasDevice(name string) bool {
	return slices.ContainsFunc(d.obs.Links, func(l kernel.Link) bool { return l.Name == name }) ||
		slices.ContainsFunc(d.want.Links, func(l hoststate.Link) bool { return l.Name == name })
}

func reasons(rs []string) string {
	if len(rs) == 0 {
		return "config"
	}
	return strings.Join(rs, ", ")
}

func (d *differ) links() {
	for _, l := range d.want.Links {
		want := l.Link
		i := slices.IndexFunc(d.obs.Links, func(x kernel.Link) bool { return x.Name == l.Name })
		switch {
		case i < 0:
			d.setup = append(d.setup, Op{Action: Create, Kind: KindLink, After: &want, Reason: reasons(l.Reasons), Key: l.Name})
			if !slices.Contains(d.next.Links, l.Name) {
				d.next.Links = append(d.next.Links, l.Name)
			}
		case !d.obs.Links[i].Up || (l.Mode != "" && d.obs.Links[i].Mode != l.Mode):
			before := d.obs.Links[i]
			d.setup = append(d.setup, Op{Action: Update, Kind: KindLink, Before: &before, After: &want, Reason: reasons(l.Reasons), Key: l.Name})
		}
	}
	for _, name := range d.st.Links {
		if slices.ContainsFunc(d.want.Links, func(l hoststate.Link) bool { return l.Name == name }) {
			continue
		}
		d.next.Links = slices.DeleteFunc(d.next.Links, func(x string) bool { return x == name })
		i := slices.IndexFunc(d.obs.Links, func(x kernel.Link) bool { return x.Name == name })
		if i >= 0 {
			before := d.obs.Links[i]
			d.teardown = append(d.teardown, Op{Action: Delete, Kind: KindLink, Before: &before, Reason: "no longer in the config", Key: name})
		}
	}
}

// sysctls plans the settings in want's order, which is by key: plans are
// deterministic without a sort here.
func (d *differ) sysctls() {
	for _, s := range d.want.Sysctls {
		cur, ok := d.obs.Sysctls[s.Key]
		if ok && cur == s.Value {
			if _, owned := d.st.Sysctls[s.Key]; !owned {
				// Record the value as it was, to restore it when no
				// service needs the setting any more.
				d.next.Sysctls[s.Key] = cur
			}
			continue
		}
		if dev, ok := confDevice(s.Key); !ok && dev != "" && !d.hasDevice(dev) {
			d.problems = append(d.problems, fmt.Sprintf("host %s has no interface %s, which the config declares (%s for %s)", d.want.Name, dev, s.Key, reasons(s.Reasons)))
			continue
		}
		after := s.Value
		op := Op{Action: Update, Kind: KindSysctl, After: &after, Reason: reasons(s.Reasons), Key: s.Key}
		if ok {
			before := cur
			op.Before = &before
		} else {
			op.Action = Create
		}
		if _, owned := d.st.Sysctls[s.Key]; !owned {
			d.next.Sysctls[s.Key] = cur
		}
		d.setup = append(d.setup, op)
	}
	for key, prev := range d.st.Sysctls {
		if slices.ContainsFunc(d.want.Sysctls, func(s hoststate.Sysctl) bool { return s.Key == key }) {
			continue
		}
		delete(d.next.Sysctls, key)
		cur, ok := d.obs.Sysctls[key]
		if !ok || prev == "" || cur == prev {
			continue
		}
		before, after := cur, prev
		d.teardown = append(d.teardown, Op{Action: Update, Kind: KindSysctl, Before: &before, After: &after, Reason: "no longer needed: restoring the value lvsgen found", Key: key})
	}
}

// sameAddr identifies addresses by device and prefix; their flags are
// set when they are added.
func sameAddr(a, b kernel.Address) bool { return a.Device == b.Device && a.Prefix == b.Prefix }

func hasAddr(list []kernel.Address, a kernel.Address) bool {
	return slices.ContainsFunc(list, func(x kernel.Address) bool { return sameAddr(x, a) })
}

func (d *differ) addresses() {
	for _, a := range d.want.Addresses {
		want := a.Address
		if !d.hasDevice(a.Device) {
			d.problems = append(d.problems, fmt.Sprintf("host %s has no interface %s to bind %s on (%s)", d.want.Name, a.Device, a.Prefix, reasons(a.Reasons)))
			continue
		}
		i := slices.IndexFunc(d.obs.Addresses, func(x kernel.Address) bool { return sameAddr(x, want) })
		switch {
		case i < 0:
			d.setup = append(d.setup, Op{Action: Create, Kind: KindAddress, After: &want, Reason: reasons(a.Reasons)})
			if !hasAddr(d.next.Addresses, want) {
				d.next.Addresses = append(d.next.Addresses, want)
			}
		case d.obs.Addresses[i].NoDAD != want.NoDAD || d.obs.Addresses[i].Deprecated != want.Deprecated:
			// An IPv6 VIP that is not deprecated becomes the host's
			// source address: its flags are repaired, in place.
			before := d.obs.Addresses[i]
			d.setup = append(d.setup, Op{Action: Update, Kind: KindAddress, Before: &before, After: &want, Reason: reasons(a.Reasons)})
		}
	}
	for _, a := range d.st.Addresses {
		if slices.ContainsFunc(d.want.Addresses, func(x hoststate.Address) bool { return x.Device == a.Device && x.Prefix == a.Prefix }) {
			continue
		}
		d.next.Addresses = slices.DeleteFunc(d.next.Addresses, func(x kernel.Address) bool { return sameAddr(x, a) })
		if i := slices.IndexFunc(d.obs.Addresses, func(x kernel.Address) bool { return sameAddr(x, a) }); i >= 0 {
			before := d.obs.Addresses[i]
			d.teardown = append(d.teardown, Op{Action: Delete, Kind: KindAddress, Before: &before, Reason: "no longer in the config"})
		}
	}
}

func (d *differ) fous() {
	for _, f := range d.want.FOU {
		want := f.FOU
		if !slices.Contains(d.obs.FOUs, want) {
			d.setup = append(d.setup, Op{Action: Create, Kind: KindFOU, After: &want, Reason: reasons(f.Reasons)})
			if !slices.Contains(d.next.FOUs, want) {
				d.next.FOUs = append(d.next.FOUs, want)
			}
		}
	}
	for _, f := range d.st.FOUs {
		if slices.ContainsFunc(d.want.FOU, func(x hoststate.FOU) bool { return x.Port == f.Port && x.IPv6 == f.IPv6 }) {
			continue
		}
		d.next.FOUs = slices.DeleteFunc(d.next.FOUs, func(x kernel.FOU) bool { return x == f })
		if slices.Contains(d.obs.FOUs, f) {
			before := f
			d.teardown = append(d.teardown, Op{Action: Delete, Kind: KindFOU, Before: &before, Reason: "no longer in the config"})
		}
	}
}

func (d *differ) routes() {
	for _, r := range d.want.Routes {
		want := r.Route
		i := slices.IndexFunc(d.obs.Routes, func(x kernel.Route) bool { return x.Dst == r.Dst })
		owned := slices.IndexFunc(d.next.Routes, func(x OwnedRoute) bool { return x.Dst == r.Dst })
		switch {
		case i < 0:
			d.setup = append(d.setup, Op{Action: Create, Kind: KindRoute, After: &want, Reason: reasons(r.Reasons)})
			if owned < 0 {
				d.next.Routes = append(d.next.Routes, OwnedRoute{Route: want})
			} else {
				d.next.Routes[owned].Route = want
			}
		case d.obs.Routes[i].Gateway != r.Gateway:
			before := d.obs.Routes[i]
			d.setup = append(d.setup, Op{Action: Update, Kind: KindRoute, Before: &before, After: &want, Reason: reasons(r.Reasons)})
			if owned < 0 {
				// Someone else's route to the same place (a NAT real
				// server's default route): remember it to put back.
				d.next.Routes = append(d.next.Routes, OwnedRoute{Route: want, Previous: before.Gateway})
			} else {
				d.next.Routes[owned].Route = want
			}
		}
	}
	for _, r := range d.st.Routes {
		if slices.ContainsFunc(d.want.Routes, func(x hoststate.Route) bool { return x.Dst == r.Dst }) {
			continue
		}
		d.next.Routes = slices.DeleteFunc(d.next.Routes, func(x OwnedRoute) bool { return x.Dst == r.Dst })
		i := slices.IndexFunc(d.obs.Routes, func(x kernel.Route) bool { return x.Dst == r.Dst && x.Gateway == r.Gateway })
		if i < 0 {
			continue
		}
		before := r.Route
		if r.Previous.IsValid() {
			after := kernel.Route{Dst: r.Dst, Gateway: r.Previous}
			d.teardown = append(d.teardown, Op{Action: Update, Kind: KindRoute, Before: &before, After: &after, Reason: "no longer in the config: restoring the route lvsgen replaced"})
			continue
		}
		d.teardown = append(d.teardown, Op{Action: Delete, Kind: KindRoute, Before: &before, Reason: "no longer in the config"})
	}
}

func (d *differ) timeouts() {
	t := d.want.Timeouts
	if t == nil {
		return
	}
	want := t.Timeouts
	if want != d.obs.Timeouts {
		before := d.obs.Timeouts
		d.setup = append(d.setup, Op{Action: Update, Kind: KindTimeouts, Before: &before, After: &want, Reason: reasons(t.Reason)})
	}
}

// services diffs the IPVS table. Services are matched through maps by
// canonical key, and changes to the ownership state are collected and
// made in one pass at the end: a table of 10,000 services must not cost
// 10,000 searches of 10,000 services.
func (d *differ) services() {
	obsIdx := make(map[ipvs.ServiceKey]int, len(d.obs.Services))
	for i, s := range d.obs.Services {
		obsIdx[s.ServiceKey.Canonical()] = i
	}
	wanted := make(map[ipvs.ServiceKey]bool, len(d.want.Services))
	for _, ws := range d.want.Services {
		wanted[ws.ServiceKey.Canonical()] = true
	}
	owned := make(map[ipvs.ServiceKey]bool, len(d.st.Services))
	for _, k := range d.st.Services {
		owned[k.Canonical()] = true
	}
	// next owns what st owns, plus what the config wants, minus drop.
	nextOwned := make(map[ipvs.ServiceKey]bool, len(owned)+len(wanted))
	for _, k := range d.next.Services {
		nextOwned[k.Canonical()] = true
	}
	drop := map[ipvs.ServiceKey]bool{}
	d.drains = make(map[drainKey]int, len(d.st.Drains))
	for i, r := range d.st.Drains {
		d.drains[drainKey{r.Service.Canonical(), r.Addr}] = i
	}
	// The creations, counted first: from an empty kernel they are the
	// whole plan, 110,000 operations for 10,000 services, not to be
	// grown by doubling.
	creates := 0
	for _, ws := range d.want.Services {
		if _, ok := obsIdx[ws.ServiceKey.Canonical()]; !ok {
			creates += 1 + len(ws.Destinations)
		}
	}
	d.svcCreate = make([]Op, 0, creates)

	for _, ws := range d.want.Services {
		want := ws.Service
		key := want.ServiceKey.Canonical()
		if !nextOwned[key] {
			nextOwned[key] = true
			d.next.Services = append(d.next.Services, want.ServiceKey)
		}
		i, ok := obsIdx[key]
		if !ok {
			reason := "service " + ws.Name
			after := bare(want)
			d.svcCreate = append(d.svcCreate, Op{Action: Create, Kind: KindService, Service: want.ServiceKey, After: &after, Reason: reason})
			// One allocation for the destinations the operations point to.
			dsts := slices.Clone(want.Destinations)
			for j := range dsts {
				d.svcCreate = append(d.svcCreate, Op{Action: Create, Kind: KindDestination, Service: want.ServiceKey, After: &dsts[j], Reason: reason})
			}
			d.dropDrainsOf[key] = true
			continue
		}
		have := d.obs.Services[i]
		if !sameService(have, want) {
			before, after := bare(have), bare(want)
			why := "service " + ws.Name
			if owned[key] {
				why += " (drift or config change)"
			}
			d.destChange = append(d.destChange, Op{Action: Update, Kind: KindService, Service: want.ServiceKey, Before: &before, After: &after, Reason: why})
		}
		d.destinations(have, want, ws.Name, ws.DrainTimeout)
	}
	for _, have := range d.obs.Services {
		key := have.ServiceKey.Canonical()
		if wanted[key] {
			continue
		}
		if !owned[key] && !d.opt.Prune {
			d.unmanaged = append(d.unmanaged, have)
			continue
		}
		before := bare(have)
		reason := "no longer in the config"
		if !owned[key] {
			reason = "not created by lvsgen (--prune)"
		}
		d.svcDelete = append(d.svcDelete, Op{Action: Delete, Kind: KindService, Service: have.ServiceKey, Before: &before, Reason: reason})
		drop[key] = true
		d.dropDrainsOf[key] = true
	}
	// Owned services gone from both kernel and config: forget them.
	for k := range owned {
		if _, inObs := obsIdx[k]; !wanted[k] && !inObs {
			drop[k] = true
		}
	}
	if len(drop) > 0 {
		d.next.Services = slices.DeleteFunc(d.next.Services, func(k ipvs.ServiceKey) bool { return drop[k.Canonical()] })
	}
	d.next.Drains = slices.DeleteFunc(d.next.Drains, func(r DrainRecord) bool {
		return d.dropDrainsOf[r.Service.Canonical()] || d.dropDrain[drainKey{r.Service.Canonical(), r.Addr}]
	})
	d.next.Drains = append(d.next.Drains, d.newDrains...)
}

// drainKey identifies a drain record: a service by canonical key, and a
// destination.
type drainKey struct {
	svc  ipvs.ServiceKey
	addr netip.AddrPort
}

// drain returns the drain record st has for a destination, or nil.
func (d *differ) drain(k ipvs.ServiceKey, a netip.AddrPort) *DrainRecord {
	if i, ok := d.drains[drainKey{k.Canonical(), a}]; ok {
		return &d.st.Drains[i]
	}
	return nil
}

// destIndex finds destinations by address and port: by a scan for the
// handful most services have, through a map for more.
type destIndex struct {
	list []ipvs.Destination
	m    map[netip.AddrPort]int
}

func newDestIndex(list []ipvs.Destination) destIndex {
	x := destIndex{list: list}
	if len(list) > 16 {
		x.m = make(map[netip.AddrPort]int, len(list))
		for i, dst := range list {
			x.m[dst.AddrPort()] = i
		}
	}
	return x
}

func (x destIndex) find(dst ipvs.Destination) int {
	if x.m != nil {
		if i, ok := x.m[dst.AddrPort()]; ok {
			return i
		}
		return -1
	}
	for i := range x.list {
		if x.list[i].Addr == dst.Addr && x.list[i].Port == dst.Port {
			return i
		}
	}
	return -1
}

// destinations diffs the destinations of a service that exists.
func (d *differ) destinations(have, want ipvs.Service, name string, drain *int) {
	haveIdx, wantIdx := newDestIndex(have.Destinations), newDestIndex(want.Destinations)
	key := want.ServiceKey.Canonical()
	// The loops copy a destination only for an operation to point to:
	// a no-op plan of 10,000 services x 10 allocates nothing per
	// destination.
	for j := range want.Destinations {
		w := &want.Destinations[j]
		i := haveIdx.find(*w)
		if len(d.drains) > 0 {
			if _, ok := d.drains[drainKey{key, w.AddrPort()}]; ok {
				// Back in the config while draining.
				d.dropDrain[drainKey{key, w.AddrPort()}] = true
			}
		}
		if i < 0 {
			after := *w
			d.destChange = append(d.destChange, Op{Action: Create, Kind: KindDestination, Service: want.ServiceKey, After: &after, Reason: "service " + name})
			continue
		}
		if h := &have.Destinations[i]; !sameDest(*h, *w) {
			before, after := *h, *w
			d.destChange = append(d.destChange, Op{Action: Update, Kind: KindDestination, Service: want.ServiceKey, Before: &before, After: &after, Reason: "service " + name})
		}
	}
	for _, h := range have.Destinations {
		if wantIdx.find(h) >= 0 {
			continue
		}
		timeout := d.opt.DrainTimeout
		if drain != nil {
			timeout = time.Duration(*drain) * time.Second
		}
		d.leave(have, h, timeout)
	}
}

// leave plans the way out of a destination: at once for UDP or with no
// drain timeout (the service's own, else the applier's default); otherwise weight 0 first, deletion once it has no active
// connections or has drained for the drain timeout. The drain's start is
// in the state file, so a later run — after a restart too — finishes it.
func (d *differ) leave(svc ipvs.Service, h ipvs.Destination, timeout time.Duration) {
	key := svc.ServiceKey
	del := Op{Action: Delete, Kind: KindDestination, Service: key, Before: &h, Reason: "no longer in the config"}
	drainable := svc.Protocol != ipvs.UDP && timeout > 0
	if !drainable {
		d.destLeave = append(d.destLeave, del)
		return
	}
	rec := d.drain(key, h.AddrPort())
	switch {
	case rec == nil && h.Weight != 0:
		after := h
		after.Weight = 0
		d.destLeave = append(d.destLeave, Op{Action: Drain, Kind: KindDestination, Service: key, Before: &h, After: &after,
			Reason: fmt.Sprintf("no longer in the config: draining up to %s before deletion", timeout)})
		d.newDrains = append(d.newDrains, DrainRecord{Service: key, Addr: h.AddrPort(), Weight: h.Weight, Since: d.opt.Now})
	case h.ActiveConns == 0:
		d.destLeave = append(d.destLeave, Op{Action: Delete, Kind: KindDestination, Service: key, Before: &h, Reason: "no longer in the config: drained (no active connections)"})
		d.dropDrain[drainKey{key.Canonical(), h.AddrPort()}] = true
	case rec == nil:
		// Weight already 0 (by hand, or a lost state file): the drain
		// starts now.
		d.newDrains = append(d.newDrains, DrainRecord{Service: key, Addr: h.AddrPort(), Since: d.opt.Now})
		d.destLeave = append(d.destLeave, Op{Action: Wait, Kind: KindDestination, Service: key, Before: &h, After: &h,
			Reason: fmt.Sprintf("draining: %d active connections; deleted when they end or in %s", h.ActiveConns, timeout)})
	case d.opt.Now.Sub(rec.Since) >= timeout:
		d.destLeave = append(d.destLeave, Op{Action: Delete, Kind: KindDestination, Service: key, Before: &h,
			Reason: fmt.Sprintf("no longer in the config: drain timeout %s passed with %d active connections", timeout, h.ActiveConns)})
		d.dropDrain[drainKey{key.Canonical(), h.AddrPort()}] = true
	case h.Weight != 0:
		after := h
		after.Weight = 0
		d.destLeave = append(d.destLeave, Op{Action: Drain, Kind: KindDestination, Service: key, Before: &h, After: &after, Reason: "draining, but its weight was raised since: back to 0"})
	default:
		left := timeout - d.opt.Now.Sub(rec.Since)
		d.destLeave = append(d.destLeave, Op{Action: Wait, Kind: KindDestination, Service: key, Before: &h, After: &h,
			Reason: fmt.Sprintf("draining since %s: %d active connections; deleted when they end or in %s", rec.Since.UTC().Format(time.RFC3339), h.ActiveConns, left.Round(time.Second))})
	}
}

// bare is a service without its destinations, as service operations carry.
func bare(s ipvs.Service) ipvs.Service {
	s.Destinations = nil
	s.Flags &^= ipvs.FlagHashed
	return s
}

// sameService compares what UpdateService can change. The timeout and
// netmask matter only for a persistent service: the kernel keeps but never
// uses them otherwise.
func sameService(a, b ipvs.Service) bool {
	fa, fb := a.Flags&^ipvs.FlagHashed, b.Flags&^ipvs.FlagHashed
	if a.Scheduler != b.Scheduler || fa != fb || a.PE != b.PE {
		return false
	}
	if fb&ipvs.FlagPersistent != 0 {
		return a.Timeout == b.Timeout && a.NetmaskBits == b.NetmaskBits
	}
	return true
}

// sameDest compares what UpdateDestination can change; tunnel settings
// only for tunnel destinations, since the kernel ignores them otherwise.
func sameDest(a, b ipvs.Destination) bool {
	fwd := func(f ipvs.Forward) ipvs.Forward {
		// Kernels before 2.6.37 report a local address as Local; it is
		// the same as Route for lvsgen.
		if f == ipvs.Local {
			return ipvs.Route
		}
		return f
	}
	if fwd(a.Forward) != fwd(b.Forward) || a.Weight != b.Weight || a.UpperThreshold != b.UpperThreshold || a.LowerThreshold != b.LowerThreshold {
		return false
	}
	if b.Forward == ipvs.Tunnel {
		return a.TunType == b.TunType && a.TunPort == b.TunPort && a.TunFlags == b.TunFlags
	}
	return true
}

// confDevice returns the device of a per-device key
// (net.ipv4.conf.DEV.NAME); ok is false for "all" and "default" and other
// keys.
func confDevice(key string) (dev string, ok bool) {
	const prefix = "net.ipv4.conf."
	if !strings.HasPrefix(key, prefix) {
		return "", true
	}
	rest := key[len(prefix):]
	i := strings.LastIndex(rest, ".")
	if i < 0 {
		return "", true
	}
	dev = rest[:i]
	if dev == "all" || dev == "default" {
		return "", true
	}
	return dev, false
}

// sortTeardown orders removals: routes and fou ports first, then
// addresses (a VIP goes once nothing uses it), links, and restored sysctls
// last, each kind in a stable order of its objects.
func sortTeardown(ops []Op) {
	rank := map[Kind]int{KindRoute: 0, KindFOU: 1, KindAddress: 2, KindLink: 3, KindSysctl: 4}
	slices.SortStableFunc(ops, func(a, b Op) int {
		if c := rank[a.Kind] - rank[b.Kind]; c != 0 {
			return c
		}
		return strings.Compare(a.Object(), b.Object())
	})
}

func (s *State) clone() *State {
	n := *s
	n.Services = slices.Clone(s.Services)
	n.Links = slices.Clone(s.Links)
	n.Addresses = slices.Clone(s.Addresses)
	n.Routes = slices.Clone(s.Routes)
	n.FOUs = slices.Clone(s.FOUs)
	n.Drains = slices.Clone(s.Drains)
	n.Sysctls = map[string]string{}
	for k, v := range s.Sysctls {
		n.Sysctls[k] = v
	}
	return &n
}
