// Package kernel is the small interface between lvsgen's applier and a
// Linux kernel: the IPVS table, network devices, addresses, routes, fou
// listeners and sysctls — the objects lvsgen manages, in kernel terms.
//
// Two implementations exist: netlink (the real kernel, Linux only) and
// memory (an in-memory twin for tests). They must return the same errors for
// the same requests — the kernel's errno values, wrapped so that errors.Is
// works (syscall.EEXIST, ENOENT, ESRCH, EINVAL, ERANGE...) — and the same
// conformance tests (kerneltest) run against both.
package kernel

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/lvsgen/lvsgen/ipvs"
)

// Kernel is what the applier reads and writes. Every call is bounded by
// its context. Methods named after an object read all of them in one dump;
// the others change one object.
type Kernel interface {
	// Services returns every IPVS service with its destinations,
	// including destinations' connection counters.
	Services(ctx context.Context) ([]ipvs.Service, error)
	// AddService creates s without its destinations (EEXIST if its key
	// exists; ENOENT if the scheduler or persistence engine module is
	// missing).
	AddService(ctx context.Context, s ipvs.Service) error
	// UpdateService changes a service's scheduler, flags, timeout,
	// netmask and persistence engine in place (ESRCH if missing).
	UpdateService(ctx context.Context, s ipvs.Service) error
	// DelService deletes a service and its destinations (ESRCH).
	DelService(ctx context.Context, k ipvs.ServiceKey) error
	// AddDestination adds d to service k (ESRCH: no service; EEXIST;
	// ERANGE: lower threshold above upper).
	AddDestination(ctx context.Context, k ipvs.ServiceKey, d ipvs.Destination) error
	// UpdateDestination changes weight, thresholds, forwarding and tunnel
	// settings of the destination at d's address and port (ENOENT).
	UpdateDestination(ctx context.Context, k ipvs.ServiceKey, d ipvs.Destination) error
	// DelDestination deletes the destination at d's address and port
	// (ENOENT).
	DelDestination(ctx context.Context, k ipvs.ServiceKey, d ipvs.Destination) error
	// Timeouts reads and SetTimeouts writes the IPVS timeouts.
	Timeouts(ctx context.Context) (Timeouts, error)
	SetTimeouts(ctx context.Context, t Timeouts) error

	// Links returns the network devices.
	Links(ctx context.Context) ([]Link, error)
	// AddLink creates a device of l.Kind and brings it up; for a
	// fallback tunnel device (tunl0, sit0, gre0, ip6tnl0, ip6gre0), which
	// the kernel creates with its module, it loads the module, sets
	// l.Mode (ip6tnl0) and brings the device up, and may be called again
	// to repair them.
	AddLink(ctx context.Context, l Link) error
	// SetLinkUp brings an existing device up (ENODEV if missing).
	SetLinkUp(ctx context.Context, name string) error
	// DelLink deletes a device (ENODEV).
	DelLink(ctx context.Context, name string) error

	// Addresses returns every address on every device.
	Addresses(ctx context.Context) ([]Address, error)
	// AddAddress binds an address (EEXIST, ENODEV).
	AddAddress(ctx context.Context, a Address) error
	// DelAddress removes an address (EADDRNOTAVAIL; ENODEV if the device
	// is missing).
	DelAddress(ctx context.Context, a Address) error

	// Routes returns the main table's unicast routes with a gateway.
	Routes(ctx context.Context) ([]Route, error)
	// AddRoute adds a route (EEXIST; ENETUNREACH if the gateway is not
	// on a connected subnet).
	AddRoute(ctx context.Context, r Route) error
	// DelRoute deletes a route (ESRCH).
	DelRoute(ctx context.Context, r Route) error

	// FOUs returns the fou/gue receive ports.
	FOUs(ctx context.Context) ([]FOU, error)
	// AddFOU opens a GUE receive port (EEXIST).
	AddFOU(ctx context.Context, f FOU) error
	// DelFOU closes one (ENOENT).
	DelFOU(ctx context.Context, f FOU) error

	// Sysctl reads a /proc/sys value by its dotted name (ENOENT if the
	// key does not exist).
	Sysctl(ctx context.Context, key string) (string, error)
	// SetSysctl writes one.
	SetSysctl(ctx context.Context, key, value string) error
}

// Timeouts are the IPVS connection timeouts in seconds. Zero in a write
// leaves that timeout as it is, as in the kernel.
type Timeouts struct {
	TCP    int `json:"tcp"`
	TCPFin int `json:"tcpfin"`
	UDP    int `json:"udp"`
}

// Link is a network device.
type Link struct {
	Name string `json:"name"`
	// Kind is the rtnetlink kind ("dummy", "ipip", "gre", "ip6tnl",
	// "ip6gre", "veth", ...); "device" for one without a kind
	// (loopback, physical).
	Kind string `json:"kind"`
	// Mode is an ip6tnl device's accepted inner protocol: "any", "ipip6"
	// or "ip6ip6"; empty for other kinds.
	Mode string `json:"mode,omitempty"`
	Up   bool   `json:"up"`
}

// Address is an address bound on a device.
type Address struct {
	Device string       `json:"device"`
	Prefix netip.Prefix `json:"prefix"`
	// NoDAD (IFA_F_NODAD) skips IPv6 duplicate address detection;
	// Deprecated (preferred lifetime 0) keeps an IPv6 address from being
	// chosen as a source. Both are set when adding and read back; an
	// address is identified by device and prefix alone.
	NoDAD      bool `json:"nodad,omitempty"`
	Deprecated bool `json:"deprecated,omitempty"`
}

func (a Address) String() string { return fmt.Sprintf("%s dev %s", a.Prefix, a.Device) }

// Route is a gateway route in the main table.
type Route struct {
	Dst     netip.Prefix `json:"dst"`
	Gateway netip.Addr   `json:"gateway"`
}

func (r Route) String() string { return fmt.Sprintf("%s via %s", r.Dst, r.Gateway) }

// FOU is a GUE receive port.
type FOU struct {
	Port uint16 `json:"port"`
	IPv6 bool   `json:"ipv6"`
}

func (f FOU) String() string {
	if f.IPv6 {
		return fmt.Sprintf("fou port %d gue -6", f.Port)
	}
	return fmt.Sprintf("fou port %d gue", f.Port)
}
