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

var (
	_ kernel.Kernel        = (*Kernel)(nil)
	_ kernel.PartialReader = (*Kernel)(nil)
	_ kernel.BatchWriter   = (*Kernel)(nil)
)

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

// Services implements kernel.IPVS: one dump of the services, then one
// dump of destinations per service (the kernel dumps the destinations of
// one service at a time, and runs one dump at a time per socket, so they
// cannot be pipelined). This is most of what a plan reads, so it is kept
// cheap: one held socket for all the dumps, requests built in one reused
// buffer, a dump's data and end read in one system call, attributes
// decoded in place, and every destination in one shared array.
func (k *Kernel) Services(ctx context.Context) ([]ipvs.Service, error) {
	return k.ServicesWith(ctx, nil)
}

// ServicesWith implements kernel.PartialReader: one dump of the services,
// then one of the destinations of each service dests selects (nil: all).
func (k *Kernel) ServicesWith(ctx context.Context, dests func(ipvs.ServiceKey) bool) ([]ipvs.Service, error) {
	listing := func(err error) error { return &kernel.OpError{Op: "listing", Object: "IPVS services", Err: err} }
	r, err := k.ipvsRequest(ctx, ipvsCmdGetService)
	if err != nil {
		return nil, listing(err)
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
		return nil, listing(err)
	}
	// ends[i] is where the destinations of svcs[i] end in all.
	all := make([]ipvs.Destination, 0, 4*len(svcs))
	ends := make([]int, len(svcs))
	err = k.genl.session(ctx, func(sn *session) error {
		var data []byte
		reqs := []request{{typ: r.typ, flags: unix.NLM_F_DUMP}}
		errs := []error{nil}
		for i := range svcs {
			s := &svcs[i]
			if dests != nil && !dests(s.ServiceKey) {
				ends[i] = len(all)
				continue
			}
			listing := func(err error) error {
				return &kernel.OpError{Op: "listing", Object: "destinations of " + s.ServiceKey.String(), Err: err}
			}
			data = putGenl(data[:0], ipvsCmdGetDest, ipvsGenlVersion)
			if data, err = appendServiceKey(data, s.ServiceKey); err != nil {
				return listing(err)
			}
			reqs[0].data = data
			start := len(all)
			for try := 0; ; try++ {
				all = all[:start]
				errs[0] = nil
				if err := sn.exchange(reqs, errs, false, func(_ int, msg []byte) error {
					d, err := decodeDest(s.Family, msg)
					if err != nil {
						return err
					}
					all = append(all, d)
					return nil
				}); err != nil {
					return listing(err)
				}
				if errors.Is(errs[0], errDumpInterrupted) && try < 5 {
					continue
				}
				if errs[0] != nil {
					return listing(errs[0])
				}
				break
			}
			ends[i] = len(all)
		}
		return nil
	})
	if err != nil {
		// The session's own failures (a done context, a closed
		// socket) come without the read they stopped.
		if oe := (*kernel.OpError)(nil); !errors.As(err, &oe) {
			err = listing(err)
		}
		return nil, err
	}
	start := 0
	for i := range svcs {
		if ends[i] > start {
			// A full slice expression: appending to one service's
			// destinations must not overwrite the next one's.
			svcs[i].Destinations = all[start:ends[i]:ends[i]]
		}
		start = ends[i]
	}
	return svcs, nil
}

// WriteBatch implements kernel.BatchWriter: the writes are sent many per
// sendmsg, and only the last of each sendmsg asks for an ack, so a batch
// costs a few system calls instead of two per write. A write that cannot
// be encoded (an invalid key) fails alone, without being sent, as the
// single-write method would.
func (k *Kernel) WriteBatch(ctx context.Context, ws []kernel.IPVSWrite) ([]error, error) {
	errs := make([]error, len(ws))
	id, err := k.family(ctx)
	if err != nil {
		for i, w := range ws {
			errs[i] = kernel.WriteError(w, kernel.ErrNotSent)
		}
		return errs, fmt.Errorf("writing IPVS: %w", err)
	}
	// One buffer for every request: the requests' data are slices of it,
	// taken once it has stopped growing.
	var buf []byte
	offs := make([]int, 0, len(ws)+1)
	idx := make([]int, 0, len(ws)) // the write of each request
	for i, w := range ws {
		b, err := appendWrite(buf, w)
		if err != nil {
			errs[i] = kernel.WriteError(w, err)
			continue
		}
		offs = append(offs, len(buf))
		idx = append(idx, i)
		buf = b
	}
	offs = append(offs, len(buf))
	reqs := make([]request, len(idx))
	for j := range reqs {
		reqs[j] = request{typ: id, data: buf[offs[j]:offs[j+1]]}
	}
	rerrs, err := k.genl.writeBatch(ctx, reqs)
	for j, e := range rerrs {
		if e != nil {
			errs[idx[j]] = kernel.WriteError(ws[idx[j]], e)
		}
	}
	if err != nil {
		return errs, fmt.Errorf("writing %d IPVS requests: %w", len(reqs), err)
	}
	return errs, nil
}

// write does one IPVS write, as a batch of one would but waiting for its
// ack.
func (k *Kernel) write(ctx context.Context, w kernel.IPVSWrite) error {
	id, err := k.family(ctx)
	if err == nil {
		var data []byte
		if data, err = appendWrite(nil, w); err == nil {
			err = k.genl.do(ctx, request{typ: id, data: data}, nil)
		}
	}
	if err != nil {
		return kernel.WriteError(w, err)
	}
	return nil
}

// AddService implements kernel.IPVS.
func (k *Kernel) AddService(ctx context.Context, s ipvs.Service) error {
	return k.write(ctx, kernel.IPVSWrite{Op: kernel.AddService, Service: s})
}

// UpdateService implements kernel.IPVS.
func (k *Kernel) UpdateService(ctx context.Context, s ipvs.Service) error {
	return k.write(ctx, kernel.IPVSWrite{Op: kernel.UpdateService, Service: s})
}

// DelService implements kernel.IPVS.
func (k *Kernel) DelService(ctx context.Context, key ipvs.ServiceKey) error {
	return k.write(ctx, kernel.IPVSWrite{Op: kernel.DelService, Service: ipvs.Service{ServiceKey: key}})
}

// AddDestination implements kernel.IPVS.
func (k *Kernel) AddDestination(ctx context.Context, key ipvs.ServiceKey, d ipvs.Destination) error {
	return k.write(ctx, kernel.IPVSWrite{Op: kernel.AddDestination, Service: ipvs.Service{ServiceKey: key}, Dest: d})
}

// UpdateDestination implements kernel.IPVS.
func (k *Kernel) UpdateDestination(ctx context.Context, key ipvs.ServiceKey, d ipvs.Destination) error {
	return k.write(ctx, kernel.IPVSWrite{Op: kernel.UpdateDestination, Service: ipvs.Service{ServiceKey: key}, Dest: d})
}

// DelDestination implements kernel.IPVS.
func (k *Kernel) DelDestination(ctx context.Context, key ipvs.ServiceKey, d ipvs.Destination) error {
	return k.write(ctx, kernel.IPVSWrite{Op: kernel.DelDestination, Service: ipvs.Service{ServiceKey: key}, Dest: d})
}

// Timeouts implements kernel.IPVS.
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
		return kernel.Timeouts{}, &kernel.OpError{Op: "reading", Object: "IPVS timeouts", Err: err}
	}
	return t, nil
}

// SetTimeouts implements kernel.IPVS.
func (k *Kernel) SetTimeouts(ctx context.Context, t kernel.Timeouts) error {
	attrs, err := timeoutsAttrs(t)
	if err == nil {
		err = k.ipvsDo(ctx, ipvsCmdSetConfig, attrs...)
	}
	if err != nil {
		return &kernel.OpError{Op: "setting", Object: "IPVS timeouts", Err: err}
	}
	return nil
}
