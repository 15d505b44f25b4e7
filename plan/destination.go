package plan

import (
	"fmt"

	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
)

// KindDestination is the kind of a real server of an IPVS service.
const KindDestination Kind = "destination"

// Destination is a real server of an IPVS service (KindDestination).
type Destination struct {
	// Service is the destination's service.
	Service ipvs.ServiceKey
	ipvs.Destination
}

var _ Object = (*Destination)(nil)

// Kind is KindDestination.
func (d *Destination) Kind() Kind { return KindDestination }

// String names the destination by its service and address.
func (d *Destination) String() string {
	return ServiceName(d.Service) + " -> " + d.AddrPort().String()
}

func (d *Destination) service() ipvs.ServiceKey { return d.Service }

// Attrs shows the forwarding method, weight, thresholds and tunnel.
func (d *Destination) Attrs() string {
	s := fmt.Sprintf("%s weight=%d", d.Forward, d.Weight)
	if d.UpperThreshold != 0 || d.LowerThreshold != 0 {
		s += fmt.Sprintf(" thresholds=%d/%d", d.LowerThreshold, d.UpperThreshold)
	}
	if d.Forward == ipvs.Tunnel {
		s += " tun=" + d.TunType.String()
		if d.TunType == ipvs.TunGUE {
			s += fmt.Sprintf(":%d", d.TunPort)
		}
		switch {
		case d.TunFlags&ipvs.TunFlagRemCsum != 0:
			s += " remcsum"
		case d.TunFlags&ipvs.TunFlagCsum != 0:
			s += " csum"
		}
	}
	return s
}

// Changes lists the fields of destFields that differ from before's, then
// before's connections, if it has any: why a leaving destination is
// still there.
func (d *Destination) Changes(before Object) []string {
	a := &before.(*Destination).Destination
	c := changes(destFields, a, &d.Destination)
	if a.ActiveConns != 0 || a.InactiveConns != 0 {
		c = append(c, fmt.Sprintf("(%d active, %d inactive connections)", a.ActiveConns, a.InactiveConns))
	}
	return c
}

// JSON is hoststate's documented JSON form of a destination.
func (d *Destination) JSON() any { return hoststate.Destination(d.Destination) }

// keepUndone: destinations are owned with their service.
func (d *Destination) keepUndone(Op, *undone) {}

// isTunnel reports whether d forwards through a tunnel.
func isTunnel(d *ipvs.Destination) bool { return d.Forward == ipvs.Tunnel }

// kernelForward is f as lvsgen means it: kernels before 2.6.37 report a
// local address as Local, which is the same as Route for lvsgen.
func kernelForward(d *ipvs.Destination) ipvs.Forward {
	if d.Forward == ipvs.Local {
		return ipvs.Route
	}
	return d.Forward
}

// destFields is the field table of ipvs.Destination: what
// UpdateDestination can change, in the order a plan shows the changes.
var destFields = []field[ipvs.Destination]{
	{
		name:   "Forward",
		equal:  by(func(d *ipvs.Destination) ipvs.Forward { return d.Forward }),
		kernel: by(kernelForward),
		show:   showAs("forward", func(d *ipvs.Destination) ipvs.Forward { return d.Forward }),
	},
	{
		name:  "Weight",
		equal: by(func(d *ipvs.Destination) int32 { return d.Weight }),
		show:  showAs("weight", func(d *ipvs.Destination) int32 { return d.Weight }),
	},
	{
		name:  "UpperThreshold",
		equal: by(func(d *ipvs.Destination) uint32 { return d.UpperThreshold }),
		show:  showAs("upper", func(d *ipvs.Destination) uint32 { return d.UpperThreshold }),
	},
	{
		name:  "LowerThreshold",
		equal: by(func(d *ipvs.Destination) uint32 { return d.LowerThreshold }),
		show:  showAs("lower", func(d *ipvs.Destination) uint32 { return d.LowerThreshold }),
	},
	{
		name:  "TunType",
		equal: by(func(d *ipvs.Destination) ipvs.TunType { return d.TunType }),
		// The kernel ignores tunnel settings but for tunnel
		// destinations.
		matters: isTunnel,
		show:    showAs("tun", func(d *ipvs.Destination) ipvs.TunType { return d.TunType }),
	},
	{
		name:    "TunPort",
		equal:   by(func(d *ipvs.Destination) uint16 { return d.TunPort }),
		matters: isTunnel,
		show:    showAs("tunport", func(d *ipvs.Destination) uint16 { return d.TunPort }),
	},
	{
		name:    "TunFlags",
		equal:   by(func(d *ipvs.Destination) uint16 { return d.TunFlags }),
		matters: isTunnel,
		show:    showAs("tunflags", func(d *ipvs.Destination) uint16 { return d.TunFlags }),
	},
}

// destNotCompared are the fields of ipvs.Destination not in destFields,
// and why.
var destNotCompared = map[string]string{
	"Addr":          "identifies the destination: another address is another destination",
	"Port":          "identifies the destination with Addr",
	"ActiveConns":   "a counter the kernel keeps: read back, never written (a leaving destination's plan shows it)",
	"InactiveConns": "a counter the kernel keeps: read back, never written",
}

// sameDest reports whether the kernel's destination have needs no update
// to be want.
func sameDest(have, want *ipvs.Destination) bool { return same(destFields, have, want) }
