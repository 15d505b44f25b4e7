package kernel

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/lvsgen/lvsgen/ipvs"
)

// Kernel is what the applier reads and writes: every kind of object
// lvsgen manages, one small interface per kind. Every call is bounded by
// its context. Methods named after an object read all of them in one dump;
// the others change one object. Every error names its operation and
// object in an *OpError that keeps the kernel's errno.
//
// A new kind of kernel object gets its own interface here, embedded in
// Kernel, with its methods in both implementations and its conformance
// tests in a group of its own in kerneltest, so that a caller that needs
// only IPVS (or only nftables) asks for that alone.
type Kernel interface {
	IPVS
	Links
	Addresses
	Routes
	FOUs
	Sysctls
	NFTables
	SyncDaemons
}

// IPVS is the IPVS table: virtual services, their destinations, and the
// connection timeouts. It is all a kernel read from an `ipvsadm-save`
// capture has (the --observed mode of `lvsgen plan`).
//
// Two optional interfaces make large tables cheaper, and an IPVS kernel
// may implement either: PartialReader reads the destinations of some
// services only, BatchWriter pipelines many writes. Callers type-assert
// for them and fall back to these methods.
type IPVS interface {
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
}

// Links are the network devices: the dummy device VIPs are bound on and
// the fallback tunnel devices that decapsulate tunnelled packets.
type Links interface {
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
}

// Addresses are the addresses bound on devices (VIPs, and the subnets
// that make gateways reachable).
type Addresses interface {
	// Addresses returns every address on every device.
	Addresses(ctx context.Context) ([]Address, error)
	// AddAddress binds an address (EEXIST, ENODEV).
	AddAddress(ctx context.Context, a Address) error
	// DelAddress removes an address (EADDRNOTAVAIL; ENODEV if the device
	// is missing).
	DelAddress(ctx context.Context, a Address) error
	// ReplaceAddress binds an address, or sets the flags of the same
	// address already bound, in place (RTM_NEWADDR with NLM_F_REPLACE:
	// the address is never missing meanwhile; ENODEV).
	ReplaceAddress(ctx context.Context, a Address) error
}

// Routes are the gateway routes of the main table.
type Routes interface {
	// Routes returns the main table's unicast routes with a gateway.
	Routes(ctx context.Context) ([]Route, error)
	// AddRoute adds a route (EEXIST; ENETUNREACH if the gateway is not
	// on a connected subnet).
	AddRoute(ctx context.Context, r Route) error
	// DelRoute deletes a route (ESRCH).
	DelRoute(ctx context.Context, r Route) error
	// ChangeRoute points the route to r.Dst at r.Gateway in one step,
	// as `ip route change` does, so that there is no moment without a
	// route (ENOENT if there is no route to r.Dst of metric 0;
	// ENETUNREACH if the gateway is not on a connected subnet).
	ChangeRoute(ctx context.Context, r Route) error
}

// FOUs are the fou/gue receive ports that decapsulate GUE-tunnelled
// packets.
type FOUs interface {
	// FOUs returns the fou/gue receive ports.
	FOUs(ctx context.Context) ([]FOU, error)
	// AddFOU opens a GUE receive port (EEXIST).
	AddFOU(ctx context.Context, f FOU) error
	// DelFOU closes one (ENOENT).
	DelFOU(ctx context.Context, f FOU) error
}

// Sysctls are the /proc/sys values lvsgen reads and sets.
type Sysctls interface {
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

// PartialReader is implemented by IPVS kernels that can read the table
// with the destinations of some services only. Reading destinations is
// one dump per service, most of the cost of reading a large table; a plan
// right after an edit needs only those of the services the edit, or the
// apply before it, can have changed.
type PartialReader interface {
	// ServicesWith is Services with the destinations of only the
	// services for which dests reports true; the others have none.
	ServicesWith(ctx context.Context, dests func(ipvs.ServiceKey) bool) ([]ipvs.Service, error)
}

// BatchWriter is implemented by IPVS kernels that can pipeline writes:
// many requests in flight at once instead of one round trip each, which is
// most of the cost of loading a large table. The applier uses it when the
// kernel has it, and the Kernel methods otherwise.
type BatchWriter interface {
	// WriteBatch does ws in order, as the kernel does a pipelined batch
	// of netlink requests: a write that fails does not stop the ones
	// after it (destinations of a service whose creation failed fail
	// with ESRCH, and the rest of the batch goes on). It returns one
	// error per write — nil when the kernel did it, else an *OpError
	// naming the write, as the single-write method returns — and,
	// separately, an error that failed the exchange as a whole
	// (cancelled, timed out, socket error). When that error is non-nil,
	// a write whose outcome is not known has an error wrapping
	// ErrNoAnswer, and one never sent has an error wrapping ErrNotSent.
	WriteBatch(ctx context.Context, ws []IPVSWrite) ([]error, error)
}

// ErrNotSent is the error of a batch write that never reached the kernel:
// the exchange failed before it. The kernel did not do it.
var ErrNotSent = errors.New("not sent to the kernel")

// ErrNoAnswer is the error of a batch write that was sent but whose answer
// never came (the exchange timed out or was cancelled after sending): the
// kernel may or may not have done it.
var ErrNoAnswer = errors.New("sent to the kernel, no answer")

// WriteOp is the kind of an IPVS write.
type WriteOp uint8

// The IPVS writes a batch holds, one per Kernel method.
const (
	AddService WriteOp = iota + 1
	UpdateService
	DelService
	AddDestination
	UpdateDestination
	DelDestination
)

var writeOpNames = [...]string{AddService: "add service", UpdateService: "update service", DelService: "delete service",
	AddDestination: "add destination", UpdateDestination: "update destination", DelDestination: "delete destination"}

func (o WriteOp) String() string {
	if int(o) < len(writeOpNames) && writeOpNames[o] != "" {
		return writeOpNames[o]
	}
	return fmt.Sprintf("write op %d", uint8(o))
}

// IPVSWrite is one write of a batch: the arguments of the Kernel method
// its Op names.
type IPVSWrite struct {
	Op WriteOp
	// Service is the service to add or update (its destinations are
	// ignored), or, for the other writes, the service by its key.
	Service ipvs.Service
	// Dest is the destination of a destination write.
	Dest ipvs.Destination
}

// Do does one IPVS write with k's single-write methods: a batch of one,
// for kernels without BatchWriter.
func Do(ctx context.Context, k IPVS, w IPVSWrite) error {
	switch w.Op {
	case AddService:
		return k.AddService(ctx, w.Service)
	case UpdateService:
		return k.UpdateService(ctx, w.Service)
	case DelService:
		return k.DelService(ctx, w.Service.ServiceKey)
	case AddDestination:
		return k.AddDestination(ctx, w.Service.ServiceKey, w.Dest)
	case UpdateDestination:
		return k.UpdateDestination(ctx, w.Service.ServiceKey, w.Dest)
	case DelDestination:
		return k.DelDestination(ctx, w.Service.ServiceKey, w.Dest)
	}
	return fmt.Errorf("%v: no such IPVS write", w.Op)
}
