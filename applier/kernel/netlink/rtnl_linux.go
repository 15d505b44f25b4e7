//go:build linux

package netlink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// rtnl is a vishvananda/netlink rtnetlink handle in one namespace, for
// devices, addresses and routes, used one call at a time so that each call
// gets its own socket timeouts.
type rtnl struct {
	ns      netns.NsHandle
	timeout time.Duration

	mu sync.Mutex
	h  *vnl.Handle
}

func newRtnl(ns netns.NsHandle, timeout time.Duration) (*rtnl, error) {
	r := &rtnl{ns: ns, timeout: timeout}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rtnl) open() error {
	h, err := vnl.NewHandleAt(r.ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("opening rtnetlink sockets: %w", err)
	}
	r.h = h
	return nil
}

func (r *rtnl) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h != nil {
		r.h.Close()
		r.h = nil
	}
}

// call runs fn with the handle's socket timeouts set to what is left of
// ctx's deadline (or the default timeout). A call that times out leaves
// its socket mid-answer, so the handle is reopened for the next.
func (r *rtnl) call(ctx context.Context, fn func(h *vnl.Handle) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h == nil {
		if err := r.open(); err != nil {
			return err
		}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(r.timeout)
	}
	left := time.Until(deadline)
	if left < time.Microsecond {
		return fmt.Errorf("no time left for the kernel: %w", context.DeadlineExceeded)
	}
	if err := r.h.SetSocketTimeout(left); err != nil {
		return err
	}
	err := fn(r.h)
	if errors.Is(err, unix.EAGAIN) && !time.Now().Before(deadline) {
		r.h.Close()
		r.h = nil
		return fmt.Errorf("no answer from the kernel by the deadline: %w", context.DeadlineExceeded)
	}
	return err
}

// retryDump runs a dump again when the kernel reports it interrupted by
// a concurrent change.
func retryDump(fn func() error) error {
	for try := 0; ; try++ {
		err := fn()
		if errors.Is(err, vnl.ErrDumpInterrupted) && try < 5 {
			continue
		}
		return err
	}
}

// validLinkName tells whether the kernel could have a device of this name
// (dev_valid_name).
func validLinkName(name string) bool {
	if name == "" || len(name) >= unix.IFNAMSIZ || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsAny(name, "/: \t\n\v\f\r\x00")
}

// linkByName finds a device by name; ENODEV when there is none.
func linkByName(h *vnl.Handle, name string) (vnl.Link, error) {
	if !validLinkName(name) {
		return nil, unix.ENODEV
	}
	l, err := h.LinkByName(name)
	var nf vnl.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil, unix.ENODEV
	}
	return l, err
}

// withLink runs do on the rtnetlink handle with the device named name
// (ENODEV when there is none): the lookup every write to one device
// starts with.
func (k *Kernel) withLink(ctx context.Context, name string, do func(*vnl.Handle, vnl.Link) error) error {
	return k.rt.call(ctx, func(h *vnl.Handle) error {
		link, err := linkByName(h, name)
		if err != nil {
			return err
		}
		return do(h, link)
	})
}

// ip6tnl modes: the inner protocol an ip6tnl device takes
// (IFLA_IPTUN_PROTO; ip -6 tunnel's mode).
var ip6tnlModes = map[string]uint8{"any": 0, "ipip6": unix.IPPROTO_IPIP, "ip6ip6": unix.IPPROTO_IPV6}

func ip6tnlMode(proto uint8) string {
	for name, p := range ip6tnlModes {
		if p == proto {
			return name
		}
	}
	return fmt.Sprintf("proto(%d)", proto)
}

// kernelLink converts a device.
func kernelLink(l vnl.Link) kernel.Link {
	a := l.Attrs()
	// The kind is the rtnetlink kind (Type names it for the kinds
	// vishvananda/netlink knows, and GenericLink for the others); a
	// device without one is "device".
	out := kernel.Link{Name: a.Name, Kind: l.Type(), Up: a.Flags&net.FlagUp != 0}
	if t, ok := l.(*vnl.Ip6tnl); ok {
		out.Mode = ip6tnlMode(t.Proto)
	}
	return out
}

// Links implements kernel.Links.
func (k *Kernel) Links(ctx context.Context) ([]kernel.Link, error) {
	var links []vnl.Link
	err := k.rt.call(ctx, func(h *vnl.Handle) error {
		return retryDump(func() (err error) {
			links, err = h.LinkList()
			return err
		})
	})
	if err != nil {
		return nil, &kernel.OpError{Op: "listing", Object: "links", Err: err}
	}
	out := make([]kernel.Link, 0, len(links))
	for _, l := range links {
		out = append(out, kernelLink(l))
	}
	slices.SortFunc(out, func(a, b kernel.Link) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// fallbackDevices are the devices a tunnel module creates in every
// namespace when it loads, by name, with the kind of the module.
var fallbackDevices = map[string]string{"tunl0": "ipip", "sit0": "sit", "gre0": "gre", "ip6tnl0": "ip6tnl", "ip6gre0": "ip6gre"}

// AddLink implements kernel.Links. A dummy device is created up in one
// request. For a fallback tunnel device, a request to create a device of
// its kind by its name makes the kernel load the module (request_module
// "rtnl-link-<kind>"), whose per-namespace setup creates the device; the
// request then finds the name taken and answers EEXIST, which is the
// expected outcome. ip6tnl0 gets l.Mode, when given, through the
// SIOCCHGTUNNEL ioctl: Linux before 6.17 refuses to change a fallback
// device over rtnetlink (EINVAL). The device is then brought up.
func (k *Kernel) AddLink(ctx context.Context, l kernel.Link) error {
	failed := func(err error) error { return &kernel.OpError{Op: "adding", Object: "link " + l.Name, Err: err} }
	if kind, ok := fallbackDevices[l.Name]; ok {
		if l.Kind != kind {
			return failed(fmt.Errorf("kind %q, want %q: %w", l.Kind, kind, unix.EINVAL))
		}
		proto, setMode := ip6tnlModes[l.Mode]
		switch {
		case l.Mode == "":
		case kind != "ip6tnl":
			return failed(fmt.Errorf("a %s device has no mode: %w", kind, unix.EINVAL))
		case !setMode:
			return failed(fmt.Errorf("unknown ip6tnl mode %q: %w", l.Mode, unix.EINVAL))
		}
		err := k.rt.call(ctx, func(h *vnl.Handle) error {
			link, err := linkByName(h, l.Name)
			if errors.Is(err, unix.ENODEV) {
				err = h.LinkAdd(&vnl.GenericLink{LinkAttrs: vnl.LinkAttrs{Name: l.Name}, LinkType: kind})
				if err != nil && !errors.Is(err, unix.EEXIST) {
					return fmt.Errorf("loading the %s module: %w", kind, err)
				}
				link, err = linkByName(h, l.Name)
			}
			if err != nil {
				return err
			}
			if setMode {
				if err := k.setIP6TnlProto(l.Name, proto); err != nil {
					return fmt.Errorf("setting mode %s: %w", l.Mode, err)
				}
			}
			return h.LinkSetUp(link)
		})
		if err != nil {
			return failed(err)
		}
		return nil
	}
	if l.Kind != "dummy" {
		return failed(fmt.Errorf("kind %q: only dummy devices are created: %w", l.Kind, unix.EOPNOTSUPP))
	}
	if !validLinkName(l.Name) {
		return failed(fmt.Errorf("invalid device name: %w", unix.EINVAL))
	}
	err := k.rt.call(ctx, func(h *vnl.Handle) error {
		return h.LinkAdd(&vnl.Dummy{LinkAttrs: vnl.LinkAttrs{Name: l.Name, Flags: net.FlagUp}})
	})
	if err != nil {
		return failed(err)
	}
	return nil
}

// SetLinkUp implements kernel.Links.
func (k *Kernel) SetLinkUp(ctx context.Context, name string) error {
	err := k.withLink(ctx, name, func(h *vnl.Handle, link vnl.Link) error { return h.LinkSetUp(link) })
	if err != nil {
		return &kernel.OpError{Op: "setting up", Object: "link " + name, Err: err}
	}
	return nil
}

// DelLink implements kernel.Links.
func (k *Kernel) DelLink(ctx context.Context, name string) error {
	err := k.withLink(ctx, name, func(h *vnl.Handle, link vnl.Link) error { return h.LinkDel(link) })
	if err != nil {
		return &kernel.OpError{Op: "deleting", Object: "link " + name, Err: err}
	}
	return nil
}

// ipAddr converts a net.IP, unmapping IPv4.
func ipAddr(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	return a.Unmap(), ok
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Addresses implements kernel.Addresses.
func (k *Kernel) Addresses(ctx context.Context) ([]kernel.Address, error) {
	var (
		links []vnl.Link
		addrs []vnl.Addr
	)
	err := k.rt.call(ctx, func(h *vnl.Handle) error {
		if err := retryDump(func() (err error) {
			links, err = h.LinkList()
			return err
		}); err != nil {
			return err
		}
		return retryDump(func() (err error) {
			addrs, err = h.AddrList(nil, vnl.FAMILY_ALL)
			return err
		})
	})
	if err != nil {
		return nil, &kernel.OpError{Op: "listing", Object: "addresses", Err: err}
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	out := make([]kernel.Address, 0, len(addrs))
	for _, a := range addrs {
		ip, ok := ipAddr(a.IP)
		name, known := names[a.LinkIndex]
		if !ok || !known || a.IPNet == nil {
			continue
		}
		ones, _ := a.Mask.Size()
		ka := kernel.Address{Device: name, Prefix: netip.PrefixFrom(ip, ones)}
		if ip.Is6() {
			ka.NoDAD = a.Flags&unix.IFA_F_NODAD != 0
			ka.Deprecated = a.Flags&unix.IFA_F_DEPRECATED != 0
		}
		out = append(out, ka)
	}
	return out, nil
}

func checkPrefix(p netip.Prefix) error {
	if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
		return fmt.Errorf("prefix %v: %w", p, unix.EINVAL)
	}
	return nil
}

// AddAddress implements kernel.Addresses. For IPv6, NoDAD sets IFA_F_NODAD
// and Deprecated a preferred lifetime of 0 (valid forever), which the
// kernel marks IFA_F_DEPRECATED; IPv4 gets neither.
func (k *Kernel) AddAddress(ctx context.Context, a kernel.Address) error {
	if err := k.setAddress(ctx, a, (*vnl.Handle).AddrAdd); err != nil {
		return &kernel.OpError{Op: "adding", Object: "address " + a.String(), Err: err}
	}
	return nil
}

// ReplaceAddress implements kernel.Addresses.
func (k *Kernel) ReplaceAddress(ctx context.Context, a kernel.Address) error {
	if err := k.setAddress(ctx, a, (*vnl.Handle).AddrReplace); err != nil {
		return &kernel.OpError{Op: "replacing", Object: "address " + a.String(), Err: err}
	}
	return nil
}

// setAddress sends a with its flags by send (add or replace). An IPv6
// address that is not deprecated is given infinite lifetimes explicitly,
// so that replacing a deprecated one clears its deprecation.
func (k *Kernel) setAddress(ctx context.Context, a kernel.Address, send func(*vnl.Handle, vnl.Link, *vnl.Addr) error) error {
	if err := checkPrefix(a.Prefix); err != nil {
		return err
	}
	addr := &vnl.Addr{IPNet: ipNet(a.Prefix)}
	if a.Prefix.Addr().Is6() {
		if a.NoDAD {
			addr.Flags |= unix.IFA_F_NODAD
		}
		addr.PreferedLft, addr.ValidLft = math.MaxUint32, math.MaxUint32
		if a.Deprecated {
			addr.PreferedLft = 0
		}
	}
	return k.withLink(ctx, a.Device, func(h *vnl.Handle, link vnl.Link) error { return send(h, link, addr) })
}

// DelAddress implements kernel.Addresses.
func (k *Kernel) DelAddress(ctx context.Context, a kernel.Address) error {
	err := checkPrefix(a.Prefix)
	if err == nil {
		err = k.withLink(ctx, a.Device, func(h *vnl.Handle, link vnl.Link) error {
			return h.AddrDel(link, &vnl.Addr{IPNet: ipNet(a.Prefix)})
		})
	}
	if err != nil {
		return &kernel.OpError{Op: "deleting", Object: "address " + a.String(), Err: err}
	}
	return nil
}

// Routes implements kernel.Routes.
func (k *Kernel) Routes(ctx context.Context) ([]kernel.Route, error) {
	var routes []vnl.Route
	err := k.rt.call(ctx, func(h *vnl.Handle) error {
		return retryDump(func() (err error) {
			routes, err = h.RouteListFiltered(vnl.FAMILY_ALL, &vnl.Route{Table: unix.RT_TABLE_MAIN}, vnl.RT_FILTER_TABLE)
			return err
		})
	})
	if err != nil {
		return nil, &kernel.OpError{Op: "listing", Object: "routes", Err: err}
	}
	out := []kernel.Route{}
	for _, r := range routes {
		if r.Table != unix.RT_TABLE_MAIN || r.Type != unix.RTN_UNICAST || r.Gw == nil {
			continue
		}
		gw, ok := ipAddr(r.Gw)
		if !ok {
			continue
		}
		dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if gw.Is6() {
			dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		if r.Dst != nil {
			ip, ok := ipAddr(r.Dst.IP)
			if !ok {
				continue
			}
			ones, _ := r.Dst.Mask.Size()
			dst = netip.PrefixFrom(ip, ones)
		}
		out = append(out, kernel.Route{Dst: dst, Gateway: gw})
	}
	return out, nil
}

func routeOf(r kernel.Route) (*vnl.Route, error) {
	if err := checkPrefix(r.Dst); err != nil {
		return nil, err
	}
	if !r.Gateway.IsValid() || r.Gateway.Is4() != r.Dst.Addr().Is4() || r.Gateway.Is4In6() {
		return nil, fmt.Errorf("gateway %v for %v: %w", r.Gateway, r.Dst, unix.EINVAL)
	}
	return &vnl.Route{Dst: ipNet(r.Dst.Masked()), Gw: r.Gateway.AsSlice(), Table: unix.RT_TABLE_MAIN}, nil
}

// AddRoute implements kernel.Routes.
func (k *Kernel) AddRoute(ctx context.Context, r kernel.Route) error {
	if err := k.setRoute(ctx, r, (*vnl.Handle).RouteAdd); err != nil {
		return &kernel.OpError{Op: "adding", Object: "route " + r.String(), Err: err}
	}
	return nil
}

// ChangeRoute implements kernel.Routes: RTM_NEWROUTE with NLM_F_REPLACE
// and without NLM_F_CREATE, which replaces the route of the same
// destination, TOS and metric, or fails.
func (k *Kernel) ChangeRoute(ctx context.Context, r kernel.Route) error {
	if err := k.setRoute(ctx, r, (*vnl.Handle).RouteChange); err != nil {
		return &kernel.OpError{Op: "changing", Object: "route " + r.String(), Err: err}
	}
	return nil
}

// setRoute sends r by send (add or change). For IPv6 the kernel refuses a
// gateway it cannot reach with EHOSTUNREACH (ip6_route_check_nh), for IPv4
// with ENETUNREACH; both are reported as ENETUNREACH, as documented.
func (k *Kernel) setRoute(ctx context.Context, r kernel.Route, send func(*vnl.Handle, *vnl.Route) error) error {
	rt, err := routeOf(r)
	if err != nil {
		return err
	}
	err = k.rt.call(ctx, func(h *vnl.Handle) error { return send(h, rt) })
	if errors.Is(err, unix.EHOSTUNREACH) && r.Dst.Addr().Is6() {
		err = fmt.Errorf("gateway not on a connected subnet: %w (the kernel answers %w)", unix.ENETUNREACH, err)
	}
	return err
}

// DelRoute implements kernel.Routes.
func (k *Kernel) DelRoute(ctx context.Context, r kernel.Route) error {
	rt, err := routeOf(r)
	if err == nil {
		err = k.rt.call(ctx, func(h *vnl.Handle) error { return h.RouteDel(rt) })
	}
	if err != nil {
		return &kernel.OpError{Op: "deleting", Object: "route " + r.String(), Err: err}
	}
	return nil
}
