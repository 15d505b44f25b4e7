package applier

import (
	"errors"
	"fmt"
	"slices"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/plan"
)

// ErrCorruptState is returned (wrapped) by LoadState for a state file
// that is there but is not one lvsgen wrote for the host: not JSON, no or
// another version, another host, a sysctl lvsgen never sets. Its message
// names --adopt, the way back.
var ErrCorruptState = errors.New("corrupt state file")

// adoptHint ends the message of a state file lvsgen cannot use.
const adoptHint = "lvsgen apply --adopt starts a new one: it claims the kernel objects that equal the config (IPVS services, VIPs, devices, routes but default routes, fou ports, and sysctls, whose values before lvsgen are then unknown and are left as they are at removal); objects lvsgen made that the config no longer names stay behind, for you to remove"

// corrupt wraps ErrCorruptState with what is wrong with the state file of
// host under dir.
func corrupt(dir, host, format string, args ...any) error {
	return fmt.Errorf("reading state %s: %s: %w (%s)", StatePath(dir, host), fmt.Sprintf(format, args...), ErrCorruptState, adoptHint)
}

// adopt claims in st, as lvsgen's, the objects of obs that equal what want
// asks for, and returns them, named for people. It is --adopt: the way
// back after a state file was lost or was corrupt, when the next apply
// would otherwise leave behind, at their removal, every VIP, device and
// route an earlier run made.
//
// What is claimed is what the config names and the kernel has exactly:
// services by key (every plan claims those anyway), links by name and
// kind, addresses by device and prefix, routes by destination and gateway
// (but default routes: lvsgen would have replaced the host's own, whose
// gateway is unknown now, and deleting a default route at removal would
// cut the host off; it stays unowned, left in place), fou ports, and
// sysctls at the config's value, with their value before lvsgen unknown
// (recorded as "", which removal leaves as it is).
func adopt(want *hoststate.Host, obs *plan.Observed, st *plan.State) []string {
	var got []string
	for _, s := range want.Services {
		k := s.ServiceKey.Canonical()
		if slices.ContainsFunc(obs.Services, func(o ipvs.Service) bool { return o.ServiceKey.Canonical() == k }) &&
			!slices.ContainsFunc(st.Services, func(x ipvs.ServiceKey) bool { return x.Canonical() == k }) {
			st.Services = append(st.Services, s.ServiceKey)
			got = append(got, "service "+plan.ServiceName(s.ServiceKey))
		}
	}
	for _, l := range want.Links {
		if slices.ContainsFunc(obs.Links, func(o kernel.Link) bool { return o.Name == l.Name && o.Kind == l.Link.Kind }) && !slices.Contains(st.Links, l.Name) {
			st.Links = append(st.Links, l.Name)
			got = append(got, "link "+l.Name)
		}
	}
	for _, a := range want.Addresses {
		same := func(o kernel.Address) bool { return o.Device == a.Device && o.Prefix == a.Prefix }
		if slices.ContainsFunc(obs.Addresses, same) && !slices.ContainsFunc(st.Addresses, same) {
			st.Addresses = append(st.Addresses, a.Address)
			got = append(got, "address "+a.Address.String())
		}
	}
	for _, r := range want.Routes {
		if r.Dst.Bits() == 0 || !slices.Contains(obs.Routes, r.Route) || slices.ContainsFunc(st.Routes, func(o plan.OwnedRoute) bool { return o.Dst == r.Dst }) {
			continue
		}
		st.Routes = append(st.Routes, plan.OwnedRoute{Route: r.Route})
		got = append(got, "route "+r.Route.String())
	}
	for _, f := range want.FOU {
		if slices.Contains(obs.FOUs, f.FOU) && !slices.Contains(st.FOUs, f.FOU) {
			st.FOUs = append(st.FOUs, f.FOU)
			got = append(got, f.FOU.String())
		}
	}
	for _, s := range want.Sysctls {
		if _, owned := st.Sysctls[s.Key]; owned || obs.Sysctls[s.Key] != s.Value {
			continue
		}
		st.Sysctls[s.Key] = ""
		got = append(got, "sysctl "+s.Key+" (value before lvsgen unknown: left as it is at removal)")
	}
	st.Sort()
	return got
}
