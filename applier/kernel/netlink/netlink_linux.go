//go:build linux

package netlink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// ErrNoIPVS is returned by the IPVS methods when the kernel has no IPVS
// generic netlink family: the ip_vs module is not loaded.
var ErrNoIPVS = errors.New("the kernel has no IPVS (module ip_vs not loaded)")

// Kernel is the real kernel of one network namespace. It keeps its netlink
// sockets open until Close. Its methods may be called concurrently.
type Kernel struct {
	ns      netns.NsHandle // not open: the namespace New ran in
	timeout time.Duration

	genl      *conn // IPVS and fou
	famMu     sync.Mutex
	ipvsFamID uint16
	fouFamID  uint16

	rt *rtnl
}

var _ kernel.Kernel = (*Kernel)(nil)

// New opens the kernel of the current network namespace, or of the one an
// option names. IPVS need not be loaded yet: its methods find the family
// on first use (ErrNoIPVS until then).
func New(opts ...Option) (*Kernel, error) {
	c := config{timeout: DefaultTimeout}
	for _, o := range opts {
		o(&c)
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	k := &Kernel{ns: netns.None(), timeout: c.timeout}
	switch {
	case c.nsPath != "":
		h, err := netns.GetFromPath(c.nsPath)
		if err != nil {
			return nil, fmt.Errorf("opening network namespace %s: %w", c.nsPath, err)
		}
		k.ns = h
	case c.hasNS:
		fd, err := unix.FcntlInt(uintptr(c.ns), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("duplicating network namespace handle: %w", err)
		}
		k.ns = netns.NsHandle(fd)
	}
	var err error
	if k.genl, err = dial(k.ns, unix.NETLINK_GENERIC, k.timeout); err != nil {
		k.Close()
		return nil, err
	}
	if k.rt, err = newRtnl(k.ns, k.timeout); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// Close closes the Kernel's sockets and namespace handle.
func (k *Kernel) Close() error {
	var errs []error
	if k.genl != nil {
		errs = append(errs, k.genl.close())
	}
	if k.rt != nil {
		k.rt.close()
	}
	if k.ns.IsOpen() {
		errs = append(errs, k.ns.Close())
		k.ns = netns.None()
	}
	return errors.Join(errs...)
}

// family returns the IPVS generic netlink family id, resolving it once.
func (k *Kernel) family(ctx context.Context) (uint16, error) {
	k.famMu.Lock()
	defer k.famMu.Unlock()
	if k.ipvsFamID != 0 {
		return k.ipvsFamID, nil
	}
	id, err := k.genl.genlFamily(ctx, ipvsGenlName)
	if errors.Is(err, unix.ENOENT) {
		return 0, ErrNoIPVS
	}
	if err != nil {
		return 0, fmt.Errorf("resolving the IPVS netlink family: %w", err)
	}
	k.ipvsFamID = id
	return id, nil
}

// ipvsRequest builds an IPVS request.
func (k *Kernel) ipvsRequest(ctx context.Context, cmd uint8, attrs ...*nl.RtAttr) (request, error) {
	id, err := k.family(ctx)
	if err != nil {
		return request{}, err
	}
	return request{typ: id, data: genlMessage(cmd, ipvsGenlVersion, attrs...)}, nil
}

// ipvsDo sends one IPVS command and waits for its ack.
func (k *Kernel) ipvsDo(ctx context.Context, cmd uint8, attrs ...*nl.RtAttr) error {
	r, err := k.ipvsRequest(ctx, cmd, attrs...)
	if err != nil {
		return err
	}
	return k.genl.do(ctx, r, nil)
}

// Services implements kernel.Kernel: one dump of the services, then one
// dump of destinations per service (the kernel dumps the destinations of
// one service at a time).
func (k *Kernel) Services(ctx context.Context) ([]ipvs.Service, error) {
	r, err := k.ipvsRequest(ctx, ipvsCmdGetService)
	if err != nil {
		return nil, fmt.Errorf("listing IPVS services: %w", err)
	}
	var svcs []ipvs.Service
	if err := k.genl.dump(ctx, r, func(data []byte) error {
		s, err := decodeService(data)
		if err != nil {
			return err
		}
		svcs = append(svcs, s)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listing IPVS services: %w", err)
	}
	for i := range svcs {
		s := &svcs[i]
		key, err := serviceKeyAttr(s.ServiceKey)
		if err != nil {
			return nil, fmt.Errorf("listing destinations of %s: %w", s.ServiceKey, err)
		}
		r, err := k.ipvsRequest(ctx, ipvsCmdGetDest, key)
		if err != nil {
			return nil, fmt.Errorf("listing destinations of %s: %w", s.ServiceKey, err)
		}
		if err := k.genl.dump(ctx, r, func(data []byte) error {
			d, err := decodeDest(s.Family, data)
			if err != nil {
				return err
			}
			s.Destinations = append(s.Destinations, d)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("listing destinations of %s: %w", s.ServiceKey, err)
		}
	}
	return svcs, nil
}

// AddService implements kernel.Kernel.
func (k *Kernel) AddService(ctx context.Context, s ipvs.Service) error {
	a, err := serviceAttr(s)
	if err == nil {
		err = k.ipvsDo(ctx, ipvsCmdNewService, a)
	}
	if err != nil {
		return fmt.Errorf("adding service %s: %w", s.ServiceKey, err)
	}
	return nil
}

// UpdateService implements kernel.Kernel.
func (k *Kernel) UpdateService(ctx context.Context, s ipvs.Service) error {
	a, err := serviceAttr(s)
	if err == nil {
		err = k.ipvsDo(ctx, ipvsCmdSetService, a)
	}
	if err != nil {
		return fmt.Errorf("updating service %s: %w", s.ServiceKey, err)
	}
	return nil
}

// DelService implements kernel.Kernel.
func (k *Kernel) DelService(ctx context.Context, key ipvs.ServiceKey) error {
	a, err := serviceKeyAttr(key)
	if err == nil {
		err = k.ipvsDo(ctx, ipvsCmdDelService, a)
	}
	if err != nil {
		return fmt.Errorf("deleting service %s: %w", key, err)
	}
	return nil
}

func (k *Kernel) destDo(ctx context.Context, cmd uint8, key ipvs.ServiceKey, d ipvs.Destination) error {
	sa, err := serviceKeyAttr(key)
	if err != nil {
		return err
	}
	da, err := destAttr(d, cmd != ipvsCmdDelDest)
	if err != nil {
		return err
	}
	return k.ipvsDo(ctx, cmd, sa, da)
}

// AddDestination implements kernel.Kernel.
func (k *Kernel) AddDestination(ctx context.Context, key ipvs.ServiceKey, d ipvs.Destination) error {
	if err := k.destDo(ctx, ipvsCmdNewDest, key, d); err != nil {
		return fmt.Errorf("adding destination %s to %s: %w", d.AddrPort(), key, err)
	}
	return nil
}

// UpdateDestination implements kernel.Kernel.
func (k *Kernel) UpdateDestination(ctx context.Context, key ipvs.ServiceKey, d ipvs.Destination) error {
	if err := k.destDo(ctx, ipvsCmdSetDest, key, d); err != nil {
		return fmt.Errorf("updating destination %s of %s: %w", d.AddrPort(), key, err)
	}
	return nil
}

// DelDestination implements kernel.Kernel.
func (k *Kernel) DelDestination(ctx context.Context, key ipvs.ServiceKey, d ipvs.Destination) error {
	if err := k.destDo(ctx, ipvsCmdDelDest, key, d); err != nil {
		return fmt.Errorf("deleting destination %s of %s: %w", d.AddrPort(), key, err)
	}
	return nil
}

// Timeouts implements kernel.Kernel.
func (k *Kernel) Timeouts(ctx context.Context) (kernel.Timeouts, error) {
	var t kernel.Timeouts
	r, err := k.ipvsRequest(ctx, ipvsCmdGetConfig)
	if err == nil {
		err = k.genl.do(ctx, r, func(data []byte) error {
			var err error
			t, err = decodeTimeouts(data)
			return err
		})
	}
	if err != nil {
		return kernel.Timeouts{}, fmt.Errorf("reading IPVS timeouts: %w", err)
	}
	return t, nil
}

// SetTimeouts implements kernel.Kernel.
func (k *Kernel) SetTimeouts(ctx context.Context, t kernel.Timeouts) error {
	attrs, err := timeoutsAttrs(t)
	if err == nil {
		err = k.ipvsDo(ctx, ipvsCmdSetConfig, attrs...)
	}
	if err != nil {
		return fmt.Errorf("setting IPVS timeouts: %w", err)
	}
	return nil
}
