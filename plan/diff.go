package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
)

// Observed is the live state of the kernel objects lvsgen looks at on one
// host: what Diff compares the desired state with (applier.Observe reads
// it).
type Observed struct {
	Services  []ipvs.Service
	Timeouts  kernel.Timeouts
	Links     []kernel.Link
	Addresses []kernel.Address
	Routes    []kernel.Route
	FOUs      []kernel.FOU
	// NFTables are lvsgen's nftables tables the desired state or the
	// ownership state names, as they are; a missing one is absent.
	NFTables []kernel.NFTTable
	// SyncDaemons are the running IPVS sync daemons.
	SyncDaemons []kernel.SyncDaemon
	// Sysctls holds the keys the desired state or the ownership state
	// names; a key the kernel does not have (a device not created yet)
	// is absent.
	Sysctls map[string]string
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
//     the device does), addresses, fou ports, routes, nftables tables, sync
//     daemons and timeouts: a VIP is bound, a real server can decapsulate and answer,
//     and a fullnat connection's source is translated, before any
//     director sends it traffic;
//  2. services, each created before its destinations;
//  3. destinations created and changed before any leaves, so a service
//     never has fewer real servers than both configs give it;
//  4. leaving destinations drained or deleted, leaving services drained
//     (their destinations to weight 0), then services deleted;
//  5. routes, nftables tables, sync daemons, fou ports, addresses (VIPs last, once no service uses them)
//     and links removed, and sysctls restored — but kept, as waits, while
//     a leaving service drains: it may need any of them (keepForDrains).
//
// Rules 1 and 5 are hostKinds and teardownRank below; rules 2 to 4 are
// the phases of the IPVS table's operations.
func Diff(want *hoststate.Host, obs *Observed, st *State, opt Options) *Plan {
	next := st.clone()
	d := &differ{want: want, obs: obs, st: st, next: next, opt: opt,
		dropDrainsOf: map[ipvs.ServiceKey]bool{}, dropDrain: map[drainKey]bool{}}
	for _, diff := range hostKinds {
		diff(d)
	}
	d.services()
	sortTeardown(d.teardown)
	d.keepForDrains()
	p := &Plan{Host: want.Name, State: next, prev: st, Names: serviceNames(want)}
	phases := [][]Op{d.setup, d.svcCreate, d.destChange, d.destLeave, d.svcDelete, d.teardown}
	n := 0
	for _, phase := range phases {
		n += len(phase)
	}
	if n > 0 {
		p.Ops = make([]Op, 0, n)
	}
	for _, phase := range phases {
		p.Ops = append(p.Ops, phase...)
	}
	p.Unmanaged = d.unmanaged
	p.Problems = d.problems
	next.Sort()
	return p
}

// hostKinds are the diffs of the host's objects other than the IPVS
// table, in the order of rule 1 of Diff: links, then sysctls (a tunnel
// device's rp_filter exists only once the device does), addresses, fou
// ports, routes and timeouts, all before any service, so that a VIP is
// bound, and a real server can decapsulate and answer, before any
// director sends it traffic. Each kind's diff is in the kind's file; a
// new kind takes its place here.
var hostKinds = []func(*differ){
	(*differ).links,
	(*differ).sysctls,
	(*differ).addresses,
	(*differ).fous,
	(*differ).routes,
	(*differ).nftables,
	(*differ).syncDaemons,
	(*differ).timeouts,
}

// teardownRank orders removals, rule 5 of Diff: routes and fou ports
// first, then addresses (a VIP goes once nothing uses it), links, and
// restored sysctls last. A new kind that can be removed takes its place
// here.
//
// lvsgen's nftables tables go with the routes, first: the services they
// translate are gone by then, and net.ipv4.vs.conntrack, which they need,
// is restored after them.
//
// A sync daemon stops first too: it needs only its interface, which
// lvsgen never removes.
var teardownRank = map[Kind]int{KindRoute: 0, KindFOU: 1, KindAddress: 2, KindLink: 3, KindSysctl: 4, KindNFTable: 0, KindSyncDaemon: 0}

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
	// svcDraining names the leaving services kept to drain.
	svcDraining []string
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

	for wi := range d.want.Services {
		ws := &d.want.Services[wi]
		want := ws.Service
		key := want.ServiceKey.Canonical()
		if !nextOwned[key] {
			nextOwned[key] = true
			d.next.Services = append(d.next.Services, want.ServiceKey)
		}
		i, ok := obsIdx[key]
		if !ok {
			reason := "service " + ws.Name
			d.svcCreate = append(d.svcCreate, Op{Action: Create, After: bareService(want), Reason: reason})
			// One allocation for the destinations the operations point to.
			dsts := make([]Destination, len(want.Destinations))
			for j := range dsts {
				dsts[j] = Destination{Service: want.ServiceKey, Destination: want.Destinations[j]}
				d.svcCreate = append(d.svcCreate, Op{Action: Create, After: &dsts[j], Reason: destReason(ws, dsts[j].AddrPort(), reason)})
			}
			d.dropDrainsOf[key] = true
			continue
		}
		have := d.obs.Services[i]
		// Pointers into the slices, not to the copies: those would
		// escape, an allocation per service of a no-op plan.
		if !sameService(&d.obs.Services[i], &ws.Service) {
			why := "service " + ws.Name
			if owned[key] {
				why += " (drift or config change)"
			}
			d.destChange = append(d.destChange, Op{Action: Update, Before: bareService(have), After: bareService(want), Reason: why})
		}
		d.destinations(have, ws)
	}
	svcDrains := make(map[ipvs.ServiceKey]*ServiceDrainRecord, len(d.st.ServiceDrains))
	for i := range d.st.ServiceDrains {
		svcDrains[d.st.ServiceDrains[i].Service.Canonical()] = &d.st.ServiceDrains[i]
	}
	d.next.ServiceDrains = nil
	for _, have := range d.obs.Services {
		key := have.ServiceKey.Canonical()
		if wanted[key] {
			continue
		}
		if !owned[key] && !d.opt.Prune {
			d.unmanaged = append(d.unmanaged, have)
			continue
		}
		// Its destinations' own drains are over either way: they
		// leave with the service.
		d.dropDrainsOf[key] = true
		if !owned[key] {
			// --prune means now: the operator deletes what lvsgen
			// did not make, and no drain was asked for.
			d.svcDelete = append(d.svcDelete, Op{Action: Delete, Before: bareService(have), Reason: "not created by lvsgen (--prune)"})
			drop[key] = true
			continue
		}
		if d.leaveService(have, svcDrains[key]) {
			drop[key] = true
		}
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

// destReason is why a destination of ws is created or changed: the
// health overlay's reason when it made the destination differ from the
// config, else def (the service).
func destReason(ws *hoststate.Service, a netip.AddrPort, def string) string {
	if r, ok := ws.Health[a]; ok {
		return r
	}
	return def
}

// destinations diffs the destinations of a service that exists.
func (d *differ) destinations(have ipvs.Service, ws *hoststate.Service) {
	want, name, drain := ws.Service, ws.Name, ws.DrainTimeout
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
			d.destChange = append(d.destChange, Op{Action: Create, After: &Destination{want.ServiceKey, *w}, Reason: destReason(ws, w.AddrPort(), "service "+name)})
			continue
		}
		if h := &have.Destinations[i]; !sameDest(h, w) {
			d.destChange = append(d.destChange, Op{Action: Update, Before: &Destination{want.ServiceKey, *h}, After: &Destination{want.ServiceKey, *w}, Reason: destReason(ws, w.AddrPort(), "service "+name)})
		}
	}
	timeout := d.opt.DrainTimeout
	if drain != nil {
		timeout = time.Duration(*drain) * time.Second
	}
	for _, h := range have.Destinations {
		if wantIdx.find(h) >= 0 {
			continue
		}
		r, byHealth := ws.Health[h.AddrPort()]
		switch {
		case byHealth && ws.Sorry != nil && h.AddrPort() == ws.Sorry.AddrPort():
			// The sorry server leaving once real servers are up is
			// healthy and answering: it drains, weight 0 first even
			// with no active connection (one may be opening while
			// this plan runs). Deleted at once, its connections would
			// be reset: with expire_nodest_conn (lvsgen's default 1)
			// IPVS drops a deleted destination's connection at its
			// next packet, and the e2e health test saw requests fail.
			d.leave(have, h, timeout, r, true)
		case byHealth:
			// Taken out by health (onFailure "remove"): deleted at
			// once, one kernel write, with no drain — the decision is
			// health's, already made with fall failed checks, and the
			// server is not answering; with expire_nodest_conn its
			// connections are dropped rather than left to time out.
			d.destLeave = append(d.destLeave, Op{Action: Delete, Before: &Destination{have.ServiceKey, h}, Reason: r})
			d.dropDrain[drainKey{key, h.AddrPort()}] = true
		default:
			d.leave(have, h, timeout, "no longer in the config", false)
		}
	}
}

// leave plans the way out of a destination: at once for UDP, with no
// drain timeout (the service's own, else the applier's default), or with
// no connection at all, active or inactive — a drain with nothing to wait
// for completes in this plan, so that an apply leaves nothing for the next
// one (and `apply; plan --detailed-exitcode` shows no change). Inactive
// connections count: a real server that served anything in the last
// minutes (TIME_WAIT) is weighted to 0 first, so that only a server idle
// for minutes can take a new connection in the instant between this
// plan's read and its deletion. quiesceFirst (the sorry server, which was
// serving until this plan) always goes to weight 0 first. Otherwise weight 0
// first, deletion once it has no active connections or has drained for
// the drain timeout. The drain's start is in the state file, so a later
// run — after a restart too — finishes it. why starts each reason.
// Deleting a destination with connections left cuts them when the
// cluster's expire_nodest_conn is 1 (lvsgen's default); with 0 IPVS keeps
// them, unlisted, until they end.
func (d *differ) leave(svc ipvs.Service, h ipvs.Destination, timeout time.Duration, why string, quiesceFirst bool) {
	key := svc.ServiceKey
	hd := &Destination{key, h}
	del := Op{Action: Delete, Before: hd, Reason: why}
	drainable := svc.Protocol != ipvs.UDP && timeout > 0
	if !drainable {
		d.destLeave = append(d.destLeave, del)
		return
	}
	rec := d.drain(key, h.AddrPort())
	switch {
	case h.ActiveConns == 0 && (h.Weight == 0 || rec != nil):
		d.destLeave = append(d.destLeave, Op{Action: Delete, Before: hd, Reason: why + ": drained (no active connections)"})
		d.dropDrain[drainKey{key.Canonical(), h.AddrPort()}] = true
	case rec == nil && h.ActiveConns == 0 && h.InactiveConns == 0 && !quiesceFirst:
		d.destLeave = append(d.destLeave, Op{Action: Delete, Before: hd, Reason: why + ": no connections to drain"})
	case rec == nil && h.Weight != 0:
		after := &Destination{key, h}
		after.Weight = 0
		d.destLeave = append(d.destLeave, Op{Action: Drain, Before: hd, After: after,
			Reason: fmt.Sprintf("%s: draining up to %s before deletion", why, timeout)})
		d.newDrains = append(d.newDrains, DrainRecord{Service: key, Addr: h.AddrPort(), Weight: h.Weight, Since: d.opt.Now})
	case rec == nil:
		// Weight already 0 (by hand, or a lost state file): the drain
		// starts now.
		d.newDrains = append(d.newDrains, DrainRecord{Service: key, Addr: h.AddrPort(), Since: d.opt.Now})
		d.destLeave = append(d.destLeave, Op{Action: Wait, Before: hd, After: hd,
			Reason: fmt.Sprintf("draining: %d active connections; deleted when they end or in %s", h.ActiveConns, timeout)})
	case d.opt.Now.Sub(rec.Since) >= timeout:
		d.destLeave = append(d.destLeave, Op{Action: Delete, Before: hd,
			Reason: fmt.Sprintf("%s: drain timeout %s passed with %d active connections", why, timeout, h.ActiveConns)})
		d.dropDrain[drainKey{key.Canonical(), h.AddrPort()}] = true
	case h.Weight != 0:
		after := &Destination{key, h}
		after.Weight = 0
		d.destLeave = append(d.destLeave, Op{Action: Drain, Before: hd, After: after, Reason: "draining, but its weight was raised since: back to 0"})
	default:
		left := timeout - d.opt.Now.Sub(rec.Since)
		d.destLeave = append(d.destLeave, Op{Action: Wait, Before: hd, After: hd,
			Reason: fmt.Sprintf("draining since %s: %d active connections; deleted when they end or in %s", rec.Since.UTC().Format(time.RFC3339), h.ActiveConns, left.Round(time.Second))})
	}
}

// leaveService plans the way out of an owned service the config no longer
// names, as leave does for a destination: deleted at once for UDP, with
// no drain timeout, or with no connection at all, active or inactive;
// otherwise its destinations go to weight 0 and it stays until none has
// an active connection or the drain timeout (Options.DrainTimeout: the
// service's own went with its config) has passed, the start of its drain
// in the state file. It reports whether the plan deletes the service.
//
// A draining service keeps what the host has for it (keepForDrains): with
// its VIP unbound, or ip_forward restored under a NAT service, the
// connections the drain waits for would be cut anyway.
func (d *differ) leaveService(have ipvs.Service, rec *ServiceDrainRecord) (deleted bool) {
	const why = "no longer in the config"
	timeout := d.opt.DrainTimeout
	hs := bareService(have)
	var active, inactive uint32
	weighted := false
	for _, h := range have.Destinations {
		active += h.ActiveConns
		inactive += h.InactiveConns
		weighted = weighted || h.Weight != 0
	}
	del := func(reason string) bool {
		d.svcDelete = append(d.svcDelete, Op{Action: Delete, Before: hs, Reason: reason})
		return true
	}
	switch {
	case have.Protocol == ipvs.UDP || timeout <= 0:
		return del(why)
	case rec == nil && active == 0 && inactive == 0:
		return del(why + ": no connections to drain")
	case active == 0 && (rec != nil || !weighted):
		return del(why + ": drained (no active connections)")
	case rec != nil && d.opt.Now.Sub(rec.Since) >= timeout:
		return del(fmt.Sprintf("%s: drain timeout %s passed with %d active connections", why, timeout, active))
	}
	since := d.opt.Now
	if rec == nil {
		d.destLeave = append(d.destLeave, Op{Action: Drain, Before: hs, After: hs,
			Reason: fmt.Sprintf("%s: draining up to %s before deletion (%d active, %d inactive connections)", why, timeout, active, inactive)})
	} else {
		since = rec.Since
		left := timeout - d.opt.Now.Sub(rec.Since)
		d.destLeave = append(d.destLeave, Op{Action: Wait, Before: hs, After: hs,
			Reason: fmt.Sprintf("draining since %s: %d active connections; deleted when they end or in %s", rec.Since.UTC().Format(time.RFC3339), active, left.Round(time.Second))})
	}
	d.next.ServiceDrains = append(d.next.ServiceDrains, ServiceDrainRecord{Service: have.ServiceKey, Since: since})
	d.svcDraining = append(d.svcDraining, hs.String())
	reason := why + ", with its service: draining"
	if rec != nil {
		reason = "draining, but its weight was raised since: back to 0"
	}
	for _, h := range have.Destinations {
		if h.Weight != 0 {
			after := &Destination{have.ServiceKey, h}
			after.Weight = 0
			d.destLeave = append(d.destLeave, Op{Action: Drain, Before: &Destination{have.ServiceKey, h}, After: after, Reason: reason})
		}
	}
	return false
}

// keepForDrains turns the host's removals into waits while a leaving
// service drains, and keeps what they would release owned: lvsgen does
// not know which VIP, device, route or sysctl a service that left the
// config used (their reasons went with it), and removing the one it needs
// cuts the connections its drain is for. They go with the plan that
// deletes the last draining service.
func (d *differ) keepForDrains() {
	if len(d.svcDraining) == 0 {
		return
	}
	u := &undone{prev: d.st, s: d.next}
	names := strings.Join(d.svcDraining, ", ")
	for i, op := range d.teardown {
		op.Object().keepUndone(op, u)
		d.teardown[i] = Op{Action: Wait, Before: op.Before, After: op.Before, Reason: op.Reason + "; kept while " + names + " drains"}
	}
}

// sortTeardown orders removals by teardownRank, each kind in a stable
// order of its objects.
func sortTeardown(ops []Op) {
	slices.SortStableFunc(ops, func(a, b Op) int {
		if c := teardownRank[a.Kind()] - teardownRank[b.Kind()]; c != 0 {
			return c
		}
		return strings.Compare(a.Object().String(), b.Object().String())
	})
}
