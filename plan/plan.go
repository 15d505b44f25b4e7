package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
)

// Action is what an operation does to its object.
type Action string

// Actions, with their stable lowercase names (the JSON form uses them).
const (
	Create Action = "create"
	Update Action = "update"
	Delete Action = "delete"
	// Drain sets a leaving destination's weight to 0; a later run deletes
	// it once it has no active connections or the drain timeout passed.
	// A leaving service's Drain starts its drain and is no kernel write
	// of its own: the Drain of each of its destinations follows it.
	Drain Action = "drain"
	// Wait is no kernel write: a destination or service still draining,
	// or a host object kept while a service drains, shown so the
	// operator sees why it is still there.
	Wait Action = "wait"
)

// Kind is the kind of kernel object an operation changes. Each kind's
// constant is in its file, with its type: KindService (service.go),
// KindDestination, KindTimeouts, KindLink, KindAddress, KindRoute,
// KindFOU, KindSysctl, KindNFTable and KindSyncDaemon.
type Kind string

// Object is a kernel object as an operation carries it: one type per
// Kind (*Service, *Destination, *Timeouts, *Link, *Address, *Route, *FOU,
// *Sysctl, *NFTable, *SyncDaemon), each in its own file with everything the plan needs to know
// of its kind. The unexported method keeps the kinds in this package, so
// that a kind is added in one place (see the package documentation).
type Object interface {
	// Kind is the object's kind.
	Kind() Kind
	// String names the object for people: "tcp:192.0.2.10:80",
	// "192.0.2.10/32 dev lo", "net.ipv4.ip_forward".
	String() string
	// Attrs describes what creating the object sets, for people; empty
	// when its name says it all.
	Attrs() string
	// Changes lists "name: old → new" for each attribute that differs
	// from before, an object of the same kind.
	Changes(before Object) []string
	// JSON is the value the JSON form of a plan shows for the object.
	JSON() any
	// keepUndone puts back into u's state what op, an operation on the
	// object that may not have been done, still leaves lvsgen owning.
	keepUndone(op Op, u *undone)
}

// Op is one step of a plan. Before and After hold the object as it is and
// as it will be: Create has only After, Delete only Before; Update, Drain
// and Wait both, of the same kind.
type Op struct {
	Action Action
	Before Object
	After  Object
	// Reason says why: the lvsgen service or cluster that needs the
	// object, "not in the config", "drift", ...
	Reason string
}

// Object is the operation's object: After, or Before for a deletion.
func (o Op) Object() Object {
	if o.After != nil {
		return o.After
	}
	return o.Before
}

// Kind is the kind of the operation's object.
func (o Op) Kind() Kind { return o.Object().Kind() }

// Service is the IPVS service of a service or destination operation; the
// zero key for other kinds.
func (o Op) Service() ipvs.ServiceKey {
	if s, ok := o.Object().(interface{ service() ipvs.ServiceKey }); ok {
		return s.service()
	}
	return ipvs.ServiceKey{}
}

// ServiceOf is the lvsgen service an IPVS operation is for, by the
// desired state's names; empty for other kinds and for a service the
// config does not name (one leaving, or not lvsgen's).
func (p *Plan) ServiceOf(o Op) string {
	if !o.IsIPVS() {
		return ""
	}
	return p.Names[o.Service().Canonical()]
}

// serviceNames maps each service of h, by canonical key, to its lvsgen
// name.
func serviceNames(h *hoststate.Host) map[ipvs.ServiceKey]string {
	m := make(map[ipvs.ServiceKey]string, len(h.Services))
	for i := range h.Services {
		m[h.Services[i].ServiceKey.Canonical()] = h.Services[i].Name
	}
	return m
}

// Writes reports whether o makes a kernel write: all but a Wait and a
// service's Drain, whose writes are its destinations' drains.
func (o Op) Writes() bool {
	return o.Action != Wait && (o.Action != Drain || o.Kind() != KindService)
}

// IsIPVS reports whether o is an IPVS service or destination operation:
// the ones the kernel may take in batches.
func (o Op) IsIPVS() bool {
	k := o.Kind()
	return k == KindService || k == KindDestination
}

// Describe shows what the operation changes, for people: the attributes
// of a creation, old → new of the others, nothing for a deletion.
func (o Op) Describe() string {
	switch o.Action {
	case Create:
		return o.After.Attrs()
	case Update, Drain, Wait:
		return strings.Join(o.After.Changes(o.Before), ", ")
	}
	return ""
}

// Plan is the ordered list of operations that makes a host's kernel match
// its desired state, plus what lvsgen saw and left alone. A plan is data:
// Apply executes exactly its operations, in order, and decides nothing.
type Plan struct {
	Host string
	Ops  []Op
	// Unmanaged are IPVS services in the kernel that lvsgen did not
	// create and that the config does not name; --prune deletes them.
	Unmanaged []ipvs.Service
	// Problems are reasons the plan cannot work on this host (a device
	// the config names that the host does not have). A plan with
	// problems must not be applied.
	Problems []string
	// Names are the lvsgen services of the desired state, by canonical
	// key: the name each IPVS operation is for (ServiceOf).
	Names map[ipvs.ServiceKey]string
	// State is the ownership state as it will be once every operation
	// has succeeded; StateAfter gives it for a partial apply.
	State *State
	// prev is the state the plan was made from.
	prev *State
}

// Changes counts the operations that write to the kernel.
func (p *Plan) Changes() int {
	n := 0
	for _, o := range p.Ops {
		if o.Writes() {
			n++
		}
	}
	return n
}

// LeavingServices lists the IPVS services p deletes or starts draining,
// but those whose drain an earlier plan started: they left then. What
// --max-delete-fraction limits.
func (p *Plan) LeavingServices() []ipvs.ServiceKey {
	var keys []ipvs.ServiceKey
	for _, o := range p.Ops {
		if o.Kind() != KindService || (o.Action != Delete && o.Action != Drain) {
			continue
		}
		k := o.Service().Canonical()
		if o.Action == Delete && p.prev != nil && slices.ContainsFunc(p.prev.ServiceDrains, func(r ServiceDrainRecord) bool { return r.Service.Canonical() == k }) {
			continue
		}
		keys = append(keys, o.Service())
	}
	return keys
}

// Deletes counts services and destinations the plan deletes or drains
// (a leaving service's drain counts as its own, and each of its
// destinations'): what the --max-deletes guard limits.
func (p *Plan) Deletes() int {
	n := 0
	for _, o := range p.Ops {
		if o.IsIPVS() && (o.Action == Delete || o.Action == Drain) {
			n++
		}
	}
	return n
}

// StateAfter is the ownership state after an apply of p that stopped
// early, given the operations that may not have been done (failed,
// unanswered or not sent): p.State, except that objects whose removal may
// not have been done are still owned. Creations not done may stay
// claimed: the next plan sees them missing and creates them, or, if the
// config no longer wants them, forgets them.
func (p *Plan) StateAfter(undoneOps []Op) *State {
	if len(undoneOps) == 0 {
		return p.State
	}
	u := &undone{prev: p.prev, s: p.State.clone()}
	for _, op := range undoneOps {
		op.Object().keepUndone(op, u)
	}
	u.s.Sort()
	return u.s
}

// Intent is the ownership state to record before the first kernel write
// of p: StateAfter with no operation done, which claims everything the
// plan creates (with the sysctl values found before changing them) and
// releases nothing it removes. Whatever point an apply is killed at, the
// kernel then holds nothing lvsgen made that this state does not own: a
// claim comes before the creation, a release only with the final state,
// after the deletion.
func (p *Plan) Intent() *State { return p.StateAfter(p.Ops) }

// undone is StateAfter's work in progress: the state being made, the one
// the plan was made from, and sets of owned services made on first use.
type undone struct {
	prev, s *State
	// Sets, not searches: a plan may delete thousands of services.
	prevOwned, owned map[ipvs.ServiceKey]bool
}

// keySet is the set of keys' canonical forms.
func keySet(keys []ipvs.ServiceKey) map[ipvs.ServiceKey]bool {
	m := make(map[ipvs.ServiceKey]bool, len(keys))
	for _, k := range keys {
		m[k.Canonical()] = true
	}
	return m
}

// Summary counts operations by kind and action, e.g. "2 service create,
// 20 destination create".
func Summary(ops []Op) string {
	type key struct {
		k Kind
		a Action
	}
	counts := map[key]int{}
	var order []key
	for _, o := range ops {
		k := key{o.Kind(), o.Action}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	var parts []string
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%d %s %s", counts[k], k.k, k.a))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}
