package compiler

import (
	"slices"

	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/model"
)

// hostEntry is a host's state as a compile built it, with what it was
// built from.
type hostEntry struct {
	world string
	parts []partOf
	state *hoststate.Host
	errs  []hoststate.Conflict
}

// partOf is a part with the service it names.
type partOf struct {
	svc  *model.Service
	real int
}

// hostStates is hoststate.Build keeping, for the next compile, each host's
// state with what it was built from: the services it carries (a service
// unchanged since the last compile is the same *model.Service) and the
// hosts and clusters (cc.world). A host whose inputs are all the same
// keeps its state.
//
// With a memo (ho), each host whose services all have keys gets its
// HostKey (returned, in the order of the managed hosts), and a host
// other than ho.want that the memo knows is not built (skipped counts
// them).
func (cc *Compiler) hostStates(cfg *model.Config, ho hostOpts) (hosts map[string]*hoststate.Host, conflicts []hoststate.Conflict, keys []HostKey, skipped int) {
	in := hoststate.NewInputs(cfg, cc.directorViews(cfg.Services, ho.fromMemo))
	names := in.Managed()
	entries := make([]hostEntry, len(names))
	var hkeys []HostKey
	skip := make([]bool, len(names))
	if ho.memo != nil {
		for i, name := range names {
			k, ok := hostKeyOf(ho.world, name, cfg, in.Parts(name), ho.keys)
			if !ok {
				continue
			}
			hkeys = append(hkeys, k)
			// The kernel would refuse a service (a bug, reported
			// per host): every host is built then.
			skip[i] = ho.want != "" && name != ho.want && len(cc.invalid) == 0 && ho.memo.Host(k)
		}
	}
	var todo []int
	for i, name := range names {
		if skip[i] {
			continue
		}
		parts := in.Parts(name)
		e := hostEntry{world: cc.world, parts: make([]partOf, len(parts))}
		for j, p := range parts {
			e.parts[j] = partOf{cfg.Services[p.Service], p.Real}
		}
		if old, ok := cc.hosts[name]; ok && cc.world != "" && old.world == e.world && slices.Equal(old.parts, e.parts) {
			entries[i] = old
			continue
		}
		entries[i] = e
		todo = append(todo, i)
	}
	// Hosts are independent: each is built on its own, on every core. A
	// director carries every service of its clusters and dominates; real
	// servers share the other cores.
	parallel(len(todo), func(_, j int) {
		i := todo[j]
		entries[i].state, entries[i].errs = in.Host(names[i])
	})
	hosts = make(map[string]*hoststate.Host, len(names))
	cc.hosts = make(map[string]hostEntry, len(names))
	var all []hoststate.Conflict
	for i, name := range names {
		if skip[i] {
			skipped++
			continue
		}
		hosts[name] = entries[i].state
		cc.hosts[name] = entries[i]
		all = append(all, entries[i].errs...)
	}
	hoststate.SortConflicts(all)
	return hosts, all, hkeys, skipped
}

// directorViews returns the view of every service, keeping them for the
// next compile; a service unchanged since is the same *model.Service, and
// its view depends on it alone.
//
// A service the memo gave (fromMemo) was found valid, its view too, by a
// compile of this build: its view is not validated again.
func (cc *Compiler) directorViews(svcs []*model.Service, fromMemo map[*model.Service]bool) map[*model.Service]*hoststate.View {
	// A view depends on its service alone: new ones are made on every
	// core (10,000 services' views were 35 ms on one).
	made := make([]*hoststate.View, len(svcs))
	parallel(len(svcs), func(_, i int) {
		switch made[i] = cc.views[svcs[i]]; {
		case made[i] != nil:
		case fromMemo[svcs[i]]:
			made[i] = hoststate.NewValidView(svcs[i])
		default:
			made[i] = hoststate.NewView(svcs[i])
		}
	})
	views := make(map[*model.Service]*hoststate.View, len(svcs))
	cc.invalid = map[string]error{}
	for i, s := range svcs {
		v := made[i]
		if v.Err != nil {
			cc.invalid[s.Name] = v.Err
		}
		views[s] = v
	}
	cc.views = views
	return views
}
