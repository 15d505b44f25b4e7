package plan

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// StateVersion is the version of the state file format.
const StateVersion = 1

// State is what lvsgen owns on one host, kept between runs in a file so
// that it never deletes what it did not create, and so that a drain begun
// by one run is finished by a later one, whatever happened in between.
type State struct {
	Version int    `json:"version"`
	Host    string `json:"host"`
	// Services lvsgen created or took over, by key.
	Services []ipvs.ServiceKey `json:"services"`
	Links    []string          `json:"links"`
	// Addresses lvsgen bound.
	Addresses []kernel.Address `json:"addresses"`
	// Routes lvsgen installed; Previous holds the gateway of a route
	// to the same destination that lvsgen replaced, restored when lvsgen
	// no longer needs its own.
	Routes []OwnedRoute `json:"routes"`
	FOUs   []kernel.FOU `json:"fous"`
	// Sysctls lvsgen set, with the value each had before, restored when
	// no service needs the setting any more.
	Sysctls map[string]string `json:"sysctls"`
	// Drains are destinations on their way out: weight 0 since Since.
	Drains []DrainRecord `json:"drains"`
	// NFTables are the nftables tables lvsgen wrote.
	NFTables []NFTableRef `json:"nftables,omitempty"`
	// SyncDaemons are the IPVS sync daemons lvsgen started, by state.
	SyncDaemons []kernel.SyncState `json:"syncDaemons,omitempty"`
	// ServiceDrains are services on their way out: gone from the config,
	// their destinations at weight 0 since Since, kept with the host's
	// objects until their connections end or the drain timeout passes.
	ServiceDrains []ServiceDrainRecord `json:"serviceDrains,omitempty"`
}

// ServiceDrainRecord is a service being drained before it is deleted.
type ServiceDrainRecord struct {
	Service ipvs.ServiceKey `json:"service"`
	Since   time.Time       `json:"since"`
}

// OwnedRoute is a route lvsgen installed.
type OwnedRoute struct {
	kernel.Route
	Previous netip.Addr `json:"previous,omitzero"`
	// Also is the gateway lvsgen's route had before a change of it that
	// may not have been done (an apply killed or failed before it): the
	// kernel may hold the route with either gateway, and both are
	// lvsgen's to remove.
	Also netip.Addr `json:"also,omitzero"`
}

// DrainRecord is a destination being drained before it is deleted.
type DrainRecord struct {
	Service ipvs.ServiceKey `json:"service"`
	Addr    netip.AddrPort  `json:"destination"`
	// Weight is the weight it had before the drain began.
	Weight int32     `json:"weight"`
	Since  time.Time `json:"since"`
}

// NewState returns an empty state for host.
func NewState(host string) *State {
	return &State{Version: StateVersion, Host: host, Sysctls: map[string]string{}}
}

// clone is a deep copy of s.
func (s *State) clone() *State {
	n := *s
	n.Services = slices.Clone(s.Services)
	n.Links = slices.Clone(s.Links)
	n.Addresses = slices.Clone(s.Addresses)
	n.Routes = slices.Clone(s.Routes)
	n.FOUs = slices.Clone(s.FOUs)
	n.Drains = slices.Clone(s.Drains)
	n.ServiceDrains = slices.Clone(s.ServiceDrains)
	n.NFTables = slices.Clone(s.NFTables)
	n.SyncDaemons = slices.Clone(s.SyncDaemons)
	n.Sysctls = map[string]string{}
	for k, v := range s.Sysctls {
		n.Sysctls[k] = v
	}
	return &n
}

// Sort puts s in the order the state file lists it, so that the same
// ownership is the same file.
func (s *State) Sort() {
	sortKeys(s.Services)
	slices.Sort(s.Links)
	slices.SortFunc(s.Addresses, func(a, b kernel.Address) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(s.Routes, func(a, b OwnedRoute) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(s.FOUs, func(a, b kernel.FOU) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(s.ServiceDrains, func(a, b ServiceDrainRecord) int {
		return strings.Compare(a.Service.String(), b.Service.String())
	})
	slices.SortFunc(s.NFTables, func(a, b NFTableRef) int { return strings.Compare(a.String(), b.String()) })
	slices.Sort(s.SyncDaemons)
	names := make(map[ipvs.ServiceKey]string, len(s.Drains))
	for _, r := range s.Drains {
		if _, ok := names[r.Service]; !ok {
			names[r.Service] = r.Service.String()
		}
	}
	slices.SortFunc(s.Drains, func(a, b DrainRecord) int {
		if c := strings.Compare(names[a.Service], names[b.Service]); c != 0 {
			return c
		}
		return a.Addr.Compare(b.Addr)
	})
}

// sortKeys orders service keys by their names, as the state file lists
// them. Each name is made once, not once per comparison: a state of
// 10,000 services is sorted on every plan.
func sortKeys(keys []ipvs.ServiceKey) {
	type named struct {
		start, end int // the name in buf
		key        ipvs.ServiceKey
	}
	buf := make([]byte, 0, 24*len(keys))
	ns := make([]named, len(keys))
	for i, k := range keys {
		start := len(buf)
		buf = appendKeyName(buf, k)
		ns[i] = named{start, len(buf), k}
	}
	slices.SortFunc(ns, func(a, b named) int { return bytes.Compare(buf[a.start:a.end], buf[b.start:b.end]) })
	for i := range ns {
		keys[i] = ns[i].key
	}
}

// appendKeyName appends k.String() to b without formatting through fmt.
func appendKeyName(b []byte, k ipvs.ServiceKey) []byte {
	if k.FWMark != 0 {
		return append(b, k.String()...)
	}
	b = append(b, k.Protocol.String()...)
	b = append(b, ':')
	return netip.AddrPortFrom(k.Addr, k.Port).AppendTo(b)
}
