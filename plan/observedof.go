package plan

import (
	"slices"

	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
)

// ObservedOf is what a host's kernel holds once h has been applied to
// it: each of h's objects as the kernel would report it, with no
// connections. Diffing another desired state against it (with the state
// lvsgen would own, Diff(h, &Observed{}, NewState(h.Name), o).State) is
// what deploying that state after h changes, with no kernel at hand:
// `lvsgen diff` reviews a config change this way.
//
// A new kind's field of Observed is filled here too (step 3 of "Adding an
// object kind"); a test fails while one is left zero.
func ObservedOf(h *hoststate.Host) *Observed {
	obs := &Observed{Sysctls: make(map[string]string, len(h.Sysctls))}
	if len(h.Services) > 0 {
		obs.Services = make([]ipvs.Service, len(h.Services))
		for i := range h.Services {
			s := h.Services[i].Service
			s.Destinations = slices.Clone(s.Destinations)
			obs.Services[i] = s
		}
	}
	if h.Timeouts != nil {
		obs.Timeouts = h.Timeouts.Timeouts
	}
	for _, l := range h.Links {
		obs.Links = append(obs.Links, l.Link)
	}
	for _, a := range h.Addresses {
		obs.Addresses = append(obs.Addresses, a.Address)
	}
	for _, r := range h.Routes {
		obs.Routes = append(obs.Routes, r.Route)
	}
	for _, f := range h.FOU {
		obs.FOUs = append(obs.FOUs, f.FOU)
	}
	for _, s := range h.Sysctls {
		obs.Sysctls[s.Key] = s.Value
	}
	for _, t := range h.NFTables {
		obs.NFTables = append(obs.NFTables, t.NFTTable)
	}
	for _, d := range h.SyncDaemons {
		obs.SyncDaemons = append(obs.SyncDaemons, d.SyncDaemon)
	}
	return obs
}
