//go:build linux

package netlink

import (
	"context"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// The fou generic netlink family (include/uapi/linux/fou.h). It is spoken
// here rather than through vishvananda/netlink, whose FouAdd always sends
// FOU_ATTR_IPPROTO, 0 for GUE, which Linux 6.1 refuses with ERANGE.
const (
	fouGenlName    = "fou"
	fouGenlVersion = 1

	fouCmdAdd = 1
	fouCmdDel = 2
	fouCmdGet = 3

	fouAttrPort = 1
	fouAttrAF   = 2
	fouAttrType = 4

	fouEncapGUE = 2
)

// fouFamily returns the fou family id, resolving it once. Asking for the
// family loads the fou module if needed (it declares its family alias).
func (k *Kernel) fouFamily(ctx context.Context) (uint16, error) {
	k.famMu.Lock()
	defer k.famMu.Unlock()
	if k.fouFamID != 0 {
		return k.fouFamID, nil
	}
	id, err := k.genl.genlFamily(ctx, fouGenlName)
	if err != nil {
		return 0, fmt.Errorf("resolving the fou netlink family: %w", err)
	}
	k.fouFamID = id
	return id, nil
}

func fouAF(f kernel.FOU) uint8 {
	if f.IPv6 {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

func fouRequest(id uint16, cmd uint8, f kernel.FOU, gue bool) request {
	attrs := []*nl.RtAttr{
		nl.NewRtAttr(fouAttrPort, nl.BEUint16Attr(f.Port)),
		nl.NewRtAttr(fouAttrAF, nl.Uint8Attr(fouAF(f))),
	}
	if gue {
		attrs = append(attrs, nl.NewRtAttr(fouAttrType, nl.Uint8Attr(fouEncapGUE)))
	}
	return request{typ: id, data: genlMessage(cmd, fouGenlVersion, attrs...)}
}

// fous dumps the fou ports of every family and type.
func (k *Kernel) fous(ctx context.Context) (all, gue []kernel.FOU, err error) {
	id, err := k.fouFamily(ctx)
	if err != nil {
		return nil, nil, err
	}
	err = k.genl.dump(ctx, request{typ: id, data: genlMessage(fouCmdGet, fouGenlVersion)}, func(data []byte) error {
		if len(data) < genlHdrLen {
			return errors.New("short generic netlink message")
		}
		m, err := attrMap(data[genlHdrLen:])
		if err != nil {
			return err
		}
		var f kernel.FOU
		f.Port = be16(m[fouAttrPort])
		if af := m[fouAttrAF]; len(af) > 0 && af[0] == unix.AF_INET6 {
			f.IPv6 = true
		}
		all = append(all, f)
		if t := m[fouAttrType]; len(t) > 0 && t[0] == fouEncapGUE {
			gue = append(gue, f)
		}
		return nil
	})
	return all, gue, err
}

// FOUs implements kernel.FOUs: the GUE receive ports, of both families
// (the kernel dumps them all whatever family is asked for).
func (k *Kernel) FOUs(ctx context.Context) ([]kernel.FOU, error) {
	_, gue, err := k.fous(ctx)
	if err != nil {
		return nil, &kernel.OpError{Op: "listing", Object: "fou ports", Err: err}
	}
	if gue == nil {
		gue = []kernel.FOU{}
	}
	return gue, nil
}

// hasFOU tells whether the kernel has a fou port f (of any type).
func (k *Kernel) hasFOU(ctx context.Context, f kernel.FOU) bool {
	all, _, err := k.fous(ctx)
	if err != nil {
		return false
	}
	for _, x := range all {
		if x == f {
			return true
		}
	}
	return false
}

// AddFOU implements kernel.FOUs. The kernel opens the UDP socket first,
// so a port it already has fails with EADDRINUSE, as does a port another
// socket holds; the first is reported as EEXIST, as documented.
func (k *Kernel) AddFOU(ctx context.Context, f kernel.FOU) error {
	id, err := k.fouFamily(ctx)
	if err == nil {
		err = k.genl.do(ctx, fouRequest(id, fouCmdAdd, f, true), nil)
		if errors.Is(err, unix.EADDRINUSE) && k.hasFOU(ctx, f) {
			err = fmt.Errorf("%w (the kernel answers %w)", unix.EEXIST, err)
		}
	}
	if err != nil {
		return &kernel.OpError{Op: "adding", Object: f.String(), Err: err}
	}
	return nil
}

// DelFOU implements kernel.FOUs. The kernel answers EINVAL for a port
// it does not have; that is reported as ENOENT, as documented.
func (k *Kernel) DelFOU(ctx context.Context, f kernel.FOU) error {
	id, err := k.fouFamily(ctx)
	if err == nil {
		err = k.genl.do(ctx, fouRequest(id, fouCmdDel, f, false), nil)
		if errors.Is(err, unix.EINVAL) && !k.hasFOU(ctx, f) {
			err = fmt.Errorf("%w (the kernel answers %w)", unix.ENOENT, err)
		}
	}
	if err != nil {
		return &kernel.OpError{Op: "deleting", Object: f.String(), Err: err}
	}
	return nil
}
