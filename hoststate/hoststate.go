package hoststate

import (
	"net/netip"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/model"
)

// FormatVersion is the version of the JSON form. It changes only when a
// field is removed or changes meaning; new fields do not change it.
const FormatVersion = 1

// Host is the desired state of one host. Every slice is sorted so that two
// compilations of the same config are equal and render identically.
type Host struct {
	Version int    `json:"version"`
	Name    string `json:"host"`
	// Roles says what the host is: "director" and/or "real".
	Roles []string `json:"roles"`
	// Services are the IPVS services a director carries, in ipvsadm's
	// order.
	Services []Service `json:"services"`
	// Timeouts are the IPVS timeouts of a director; nil for other hosts.
	Timeouts  *Timeouts `json:"timeouts,omitempty"`
	Sysctls   []Sysctl  `json:"sysctls"`
	Links     []Link    `json:"links"`
	Addresses []Address `json:"addresses"`
	FOU       []FOU     `json:"fou"`
	Routes    []Route   `json:"routes"`
	// NFTables are the nftables tables of a director with fullnat
	// services, one per family: the source NAT of their connections.
	NFTables []NFTable `json:"nftables,omitempty"`
	// SyncDaemons are the IPVS connection sync daemons of a director of
	// a cluster with sync: a master, a backup, or both, in that order.
	SyncDaemons []SyncDaemon `json:"syncDaemons,omitempty"`
	// Withdrawn says, per VIP the health overlay left out of Addresses
	// (an active-active cluster's VIP none of whose real servers is up),
	// why: the plan gives it as the reason of the unbinding. Nil in a
	// config's desired state; not part of the JSON form.
	Withdrawn map[netip.Prefix]string `json:"-"`
}

// Service is an IPVS service with the name of the lvsgen service it comes
// from.
type Service struct {
	Name string `json:"name"`
	ipvs.Service
	// DrainTimeout is how long, in seconds, a leaving TCP/SCTP
	// destination drains before deletion; nil leaves it to the applier's
	// default.
	DrainTimeout *int `json:"drainTimeout,omitempty"`
	// Checks are the health checks of the destinations, one per checked
	// destination, in the destinations' order; nil when none is checked.
	Checks []Check `json:"checks,omitempty"`
	// Sorry is the sorry server, nil without one. It is not one of the
	// destinations: the health overlay adds it while no real server is
	// up or the quorum is lost.
	Sorry *ipvs.Destination `json:"sorry,omitempty"`
	// Quorum and Hysteresis are the service's (0: none): the quorum is
	// the smallest sum of the weights of the destinations up, lost below
	// Quorum-Hysteresis and regained at Quorum+Hysteresis.
	Quorum     int `json:"quorum,omitempty"`
	Hysteresis int `json:"hysteresis,omitempty"`
	// Addresses are the destination addresses a fwmark service's mark
	// covers (the config's addresses; nil for a VIP service, and for a
	// fwmark service that declares none): the health overlay withdraws
	// an announced address only when every service that covers it is
	// down. Not part of the JSON form, where they are the host's
	// addresses.
	Addresses []netip.Addr `json:"-"`
	// Health says, per destination address, why the health overlay made
	// it differ from the config: quiesced, removed, or the sorry server
	// added or taken out ("health: web2 down since 12:03:07, 3 failed
	// http checks: 503"). The plan gives it as the reason of the
	// destination's operation. Nil in a config's desired state; not part
	// of the JSON form, which is the config's.
	Health map[netip.AddrPort]string `json:"-"`
}

// Check is the health check of one destination of a director's service,
// resolved: the check the real server runs (its own, else its
// service's) with every default applied.
type Check struct {
	// Real names the real server: its host's name, else its address and
	// port as the plan names the destination ("10.0.0.11:80").
	Real string `json:"real"`
	// Destination is the destination's address and port, as in the
	// service's destinations: what the health overlay changes.
	Destination netip.AddrPort `json:"destination"`
	// Addr is where the check goes: the real server's own address (not
	// the VIP) and the check's port.
	Addr netip.AddrPort `json:"addr"`
	// Check holds the check's fields; its OnFailure says what a failed
	// destination gets: weight 0 ("quiesce") or deletion ("remove").
	model.Check
}

// The kernel objects below embed applier/kernel's value of the same
// name, so that the applier compares and creates exactly what is desired,
// with no field-by-field copy to forget when the kernel's value grows a
// field; the reasons are hoststate's own. Their JSON is the kernel value's
// fields followed by "reasons".

// Timeouts are IPVS connection timeouts in seconds (ipvsadm --set).
type Timeouts struct {
	kernel.Timeouts
	Reason []string `json:"reasons"`
}

// Sysctl is one /proc/sys setting, by its dotted name.
type Sysctl struct {
	Key     string   `json:"key"`
	Value   string   `json:"value"`
	Reasons []string `json:"reasons"`
}

// Link is a network device lvsgen makes sure exists and is up: Up is
// always true. Kind is the rtnetlink kind: dummy, ipip (tunl0), sit
// (sit0), gre (gre0), ip6tnl (ip6tnl0) or ip6gre (ip6gre0). Mode is the
// inner protocol an ip6tnl device accepts: "any" lets ip6tnl0 take IPv4
// as well as IPv6 inside IPv6 (its default is IPv6 only).
type Link struct {
	kernel.Link
	Reasons []string `json:"reasons"`
}

// Address is an address to bind on a device. NoDAD and Deprecated are set
// on IPv6 VIPs: usable at once (no duplicate address detection against
// the real servers that hold the same VIP) and never chosen as a source
// address — a director that sent tunnelled packets from the VIP would have
// them dropped by real servers that hold the VIP themselves.
type Address struct {
	kernel.Address
	Reasons []string `json:"reasons"`
	// Announced marks a VIP of an active-active cluster, which BIRD
	// announces while it is bound: the health overlay leaves it out
	// while none of the services on it has a real server up, so that
	// the routers send its flows to the other directors. Not part of
	// the JSON form.
	Announced bool `json:"-"`
}

// FOU is a foo-over-UDP receive port in GUE mode (`ip fou add port P gue`),
// which decapsulates the GUE tunnels of IPVS tun destinations. Family is
// the outer family, IPv6 said as the kernel value says it; it orders the
// listeners and is not in the JSON form.
type FOU struct {
	kernel.FOU
	Family  ipvs.Family `json:"-"`
	Reasons []string    `json:"reasons"`
}

// NFTable is an nftables table lvsgen owns (kernel.NFTTableName, "ip
// lvsgen" or "ip6 lvsgen"), with the services that need it. Its rules are
// sorted by VIP, protocol, port and real server.
type NFTable struct {
	kernel.NFTTable
	Reasons []string `json:"reasons"`
}

// SyncDaemon is an IPVS connection sync daemon lvsgen starts. A zero
// MaxLen leaves the largest message to the kernel (the interface's MTU
// less the headers); lvsgen then accepts whatever the kernel chose.
type SyncDaemon struct {
	kernel.SyncDaemon
	Reasons []string `json:"reasons"`
}

// Route is a route lvsgen installs: the return path of a NAT real server.
type Route struct {
	kernel.Route
	Reasons []string `json:"reasons"`
}
