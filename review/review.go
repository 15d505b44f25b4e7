package review

import (
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/model"
	"github.com/lvsgen/lvsgen/plan"
	"github.com/lvsgen/lvsgen/plan/planfmt"
)

// Side is one compiled, valid config: the desired state of each host and
// the model it was built from.
type Side struct {
	// Label names the side for people: a directory, or REV:DIR.
	Label  string
	Hosts  map[string]*hoststate.Host
	Config *model.Config
}

// Review is what deploying the head config onto hosts running the base
// does: the hosts it touches, each with its changes in plan order, the
// objects that move between hosts, and the totals. Hosts nothing changes
// on are left out, so the size of a review follows the change, not the
// config.
type Review struct {
	Base, Head string
	// Hosts are the touched hosts, by name.
	Hosts []Host
	// Moves are objects deleted on some hosts and created on others: a
	// VIP or a service moving between directors.
	Moves []Move
	// HostsTotal counts the hosts of either config.
	HostsTotal int
	Total      Counts
}

// Host is one touched host.
type Host struct {
	Name string
	// Status is "added" (only in the head), "removed" (only in the base)
	// or "changed".
	Status string
	// Note says what the status means for a deploy, for an added or
	// removed host; empty for a changed one.
	Note    string
	Changes []Change
	// Problems are the plan's: reasons a deploy cannot work on the host
	// (a device the config names that the host does not declare).
	Problems []string
	Counts   Counts
}

// Change is one operation a deploy makes on a host.
type Change struct {
	Action plan.Action
	Kind   plan.Kind
	// Object names the object as plans do ("tcp:192.0.2.10:80").
	Object string
	// Service is the lvsgen service of a service or real server.
	Service string
	// Detail is what the change sets: the attributes of an addition,
	// old → new of a change or a drain.
	Detail string
	// Reason is the plan's.
	Reason string
	// Before and After are the object's JSON forms, as in a JSON plan.
	Before, After any
}

// Move is an object deleted on the From hosts and created on the To
// hosts.
type Move struct {
	Kind     plan.Kind
	Object   string
	From, To []string
}

// Counts sum the changes of a host or of a whole review. Real servers
// are IPVS destinations; a real server leaving with its service counts
// as removed.
type Counts struct {
	HostsTouched    int `json:"hostsTouched"`
	ServicesAdded   int `json:"servicesAdded"`
	ServicesChanged int `json:"servicesChanged"`
	ServicesRemoved int `json:"servicesRemoved"`
	RealsAdded      int `json:"realsAdded"`
	RealsChanged    int `json:"realsChanged"`
	RealsRemoved    int `json:"realsRemoved"`
	// RealsDraining are the leaving real servers that drain (weight 0,
	// deleted once their connections end or the drain timeout passes):
	// the real servers whose connections a deploy drains. Each is also
	// in RealsRemoved.
	RealsDraining int `json:"realsDraining"`
	// Other counts the changes of other kinds: sysctls, VIPs, links,
	// routes, fou ports, timeouts.
	Other int `json:"other"`
}

// add adds c's counts to n.
func (n *Counts) add(c Counts) {
	n.HostsTouched += c.HostsTouched
	n.ServicesAdded += c.ServicesAdded
	n.ServicesChanged += c.ServicesChanged
	n.ServicesRemoved += c.ServicesRemoved
	n.RealsAdded += c.RealsAdded
	n.RealsChanged += c.RealsChanged
	n.RealsRemoved += c.RealsRemoved
	n.RealsDraining += c.RealsDraining
	n.Other += c.Other
}

// count adds one change to n.
func (n *Counts) count(c *Change) {
	switch c.Kind {
	case plan.KindService:
		switch c.Action {
		case plan.Create:
			n.ServicesAdded++
		case plan.Delete, plan.Drain:
			// A leaving service drains first, as its real servers do.
			n.ServicesRemoved++
		default:
			n.ServicesChanged++
		}
	case plan.KindDestination:
		switch c.Action {
		case plan.Create:
			n.RealsAdded++
		case plan.Delete:
			n.RealsRemoved++
		case plan.Drain:
			n.RealsRemoved++
			n.RealsDraining++
		default:
			n.RealsChanged++
		}
	default:
		n.Other++
	}
}

// Changes is the number of changes n counts.
func (n Counts) Changes() int {
	return n.ServicesAdded + n.ServicesChanged + n.ServicesRemoved + n.RealsAdded + n.RealsChanged + n.RealsRemoved + n.Other
}

// Notes of an added and a removed host.
const (
	NoteAdded = "new in the config: its first apply creates all of this"
	// NoteRemoved: apply refuses a host the config does not manage, so
	// nothing removes what lvsgen made there; the review lists what an
	// apply of the host with nothing on it would remove.
	NoteRemoved = "no longer managed by the config: lvsgen apply refuses the host, so a deploy leaves its kernel as it is; " +
		"this is what lvsgen made there, to remove by hand or by applying the host with nothing on it"
)

// unknownValue stands for the value a sysctl had before lvsgen set it,
// which only the host knows: what a deploy restores once the head no
// longer needs the setting.
const unknownValue = "(the value before lvsgen)"

// hostValue stands for the value a setting lvsgen has not set has on the
// host.
const hostValue = "(the host's value)"

// sysctlExists reports whether the kernel has key on a host with links:
// every key but those of a device (net.ipv4.conf.DEV.NAME,
// net.ipv6.conf.DEV.NAME) the host does not have.
func sysctlExists(key string, links []kernel.Link) bool {
	for _, prefix := range []string{"net.ipv4.conf.", "net.ipv6.conf."} {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		dev, _, ok := strings.Cut(rest, ".")
		if !ok || dev == "all" || dev == "default" {
			return true
		}
		return slices.ContainsFunc(links, func(l kernel.Link) bool { return l.Name == dev })
	}
	return true
}

// Compare reviews deploying head onto hosts that run base.
func Compare(base, head *Side) *Review {
	r := &Review{Base: base.Label, Head: head.Label}
	names := map[string]bool{}
	for n := range base.Hosts {
		names[n] = true
	}
	for n := range head.Hosts {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	r.HostsTotal = len(sorted)
	// Hosts are independent: each is diffed on its own, on every core (a
	// director of 10,000 services takes a tenth of a second).
	results := make([]Host, len(sorted))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(sorted)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(sorted); i = int(next.Add(1)) - 1 {
				name := sorted[i]
				b, h := base.Hosts[name], head.Hosts[name]
				if b == h {
					// The compiler hands back the same state for a
					// host no changed service touches: nothing to diff.
					continue
				}
				results[i] = compareHost(name, b, h, devices(name, base.Config, head.Config))
			}
		})
	}
	wg.Wait()
	for _, hr := range results {
		if len(hr.Changes) == 0 && len(hr.Problems) == 0 {
			continue
		}
		hr.Counts.HostsTouched = 1
		r.Hosts = append(r.Hosts, hr)
		r.Total.add(hr.Counts)
	}
	r.Moves = moves(r.Hosts)
	return r
}

// devices are the host's own devices, as either config declares them,
// and lo: the devices plan.Diff may find sysctls and addresses on that
// lvsgen does not create.
func devices(name string, cfgs ...*model.Config) []kernel.Link {
	links := []kernel.Link{{Name: "lo", Kind: "device", Up: true}}
	for _, cfg := range cfgs {
		if cfg == nil || cfg.Hosts[name] == nil {
			continue
		}
		for _, ifc := range cfg.Hosts[name].Interfaces {
			if !slices.ContainsFunc(links, func(l kernel.Link) bool { return l.Name == ifc.Name }) {
				links = append(links, kernel.Link{Name: ifc.Name, Kind: "device", Up: true})
			}
		}
	}
	return links
}

// compareHost diffs one host: b and h are nil when the host is not in
// that config.
func compareHost(name string, b, h *hoststate.Host, devs []kernel.Link) Host {
	hr := Host{Name: name, Status: "changed"}
	switch {
	case b == nil:
		hr.Status, hr.Note = "added", NoteAdded
		b = &hoststate.Host{Name: name}
	case h == nil:
		hr.Status, hr.Note = "removed", NoteRemoved
		h = &hoststate.Host{Name: name}
	}
	opt := plan.Options{DrainTimeout: plan.DefaultDrainTimeout}
	// What the base's first apply records as lvsgen's, on a host that
	// has only its own devices.
	st := plan.Diff(b, &plan.Observed{Links: devs}, plan.NewState(name), opt).State
	for k, v := range st.Sysctls {
		if v == "" {
			st.Sysctls[k] = unknownValue
		}
	}
	obs := plan.ObservedOf(b)
	for _, d := range devs {
		if !slices.ContainsFunc(obs.Links, func(l kernel.Link) bool { return l.Name == d.Name }) {
			obs.Links = append(obs.Links, d)
		}
	}
	// No kernel, no connection counts: assume each real server has
	// some, so that a leaving one drains as a live one would (a real
	// server with none at all is deleted at once).
	for i := range obs.Services {
		for j := range obs.Services[i].Destinations {
			obs.Services[i].Destinations[j].InactiveConns = 1
		}
	}
	// A setting the base did not make has the host's own value, which
	// only the host knows: the head changes it, rather than creating it
	// — unless it belongs to a device that does not exist yet.
	for _, sc := range h.Sysctls {
		if _, ok := obs.Sysctls[sc.Key]; !ok && sysctlExists(sc.Key, obs.Links) {
			obs.Sysctls[sc.Key] = hostValue
		}
	}
	p := plan.Diff(h, obs, st, opt)
	hr.Problems = p.Problems

	baseSvc := make(map[ipvs.ServiceKey]*hoststate.Service, len(b.Services))
	for i := range b.Services {
		baseSvc[b.Services[i].ServiceKey.Canonical()] = &b.Services[i]
	}
	for _, o := range p.Ops {
		name := p.ServiceOf(o)
		var leaving *hoststate.Service
		if name == "" && o.IsIPVS() {
			leaving = baseSvc[o.Service().Canonical()]
			if leaving != nil {
				name = leaving.Name
			}
		}
		hr.add(change(o, name))
		if o.Kind() == plan.KindService && o.Action == plan.Delete && leaving != nil {
			// The plan deletes a service with its destinations in one
			// operation; the review lists them, since they are real
			// servers leaving.
			for _, d := range leaving.Destinations {
				hr.add(change(plan.Op{Action: plan.Delete, Before: &plan.Destination{Service: leaving.ServiceKey, Destination: d},
					Reason: "with its service"}, name))
			}
		}
	}
	return hr
}

// add appends c and counts it.
func (h *Host) add(c Change) {
	h.Changes = append(h.Changes, c)
	h.Counts.count(&h.Changes[len(h.Changes)-1])
}

// change is the review's form of an operation.
func change(o plan.Op, service string) Change {
	// The plan cannot tell a config change from drift on a service it
	// owns; here it is a config change.
	reason := strings.TrimSuffix(o.Reason, " (drift or config change)")
	// Nor are the connection counts Compare assumed the host's.
	reason = assumedConns.ReplaceAllString(reason, "")
	c := Change{Action: o.Action, Kind: o.Kind(), Object: o.Object().String(), Service: service, Reason: reason}
	c.Before, c.After = planfmt.JSONObject(o.Before, service), planfmt.JSONObject(o.After, service)
	switch o.Action {
	case plan.Create:
		c.Detail = o.After.Attrs()
	case plan.Update, plan.Drain, plan.Wait:
		// Without the connection counts Compare assumed: they are not
		// the real server's.
		var parts []string
		for _, s := range o.After.Changes(o.Before) {
			if !strings.HasPrefix(s, "(") {
				parts = append(parts, s)
			}
		}
		c.Detail = strings.Join(parts, ", ")
	}
	return c
}

// assumedConns matches the connection counts a plan's reason gives, which
// are Compare's assumption here.
var assumedConns = regexp.MustCompile(` \(\d+ active, \d+ inactive connections?\)`)

// moves finds the objects deleted (or drained, on their way out) on some
// hosts and created on others.
func moves(hosts []Host) []Move {
	type key struct {
		k   plan.Kind
		obj string
	}
	from, to := map[key][]string{}, map[key][]string{}
	var order []key
	for _, h := range hosts {
		for _, c := range h.Changes {
			if c.Kind == plan.KindDestination || c.Kind == plan.KindSysctl {
				// A real server moves with its service; a setting is
				// every host's own.
				continue
			}
			k := key{c.Kind, c.Object}
			switch c.Action {
			case plan.Create:
				if from[k] == nil && to[k] == nil {
					order = append(order, k)
				}
				to[k] = append(to[k], h.Name)
			case plan.Delete, plan.Drain:
				if from[k] == nil && to[k] == nil {
					order = append(order, k)
				}
				from[k] = append(from[k], h.Name)
			}
		}
	}
	var ms []Move
	for _, k := range order {
		if len(from[k]) > 0 && len(to[k]) > 0 {
			ms = append(ms, Move{Kind: k.k, Object: k.obj, From: from[k], To: to[k]})
		}
	}
	return ms
}
