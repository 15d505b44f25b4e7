package applier

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
)

// Action is what an operation does to its object.
type Action string

// Actions, with their stable lowercase names (the JSON form uses them).
const (
	Create Action = "create"
	Update Action = "update"
	Delete Action = "delete"
	// Drain sets a leaving destination's weight to 0; a later run deletes
	// it once it has no active connections or the drain timeout passed.
	Drain Action = "drain"
	// Wait is no kernel write: a destination still draining, shown so
	// the operator sees why it is still there.
	Wait Action = "wait"
)

// Kind is the kind of kernel object an operation changes.
type Kind string

// Kinds of objects.
const (
	KindService     Kind = "service"
	KindDestination Kind = "destination"
	KindTimeouts    Kind = "timeouts"
	KindLink        Kind = "link"
	KindAddress     Kind = "address"
	KindRoute       Kind = "route"
	KindFOU         Kind = "fou"
	KindSysctl      Kind = "sysctl"
)

// Op is one step of a plan. Before and After hold the object as it is and
// as it will be, by Kind:
//
//	service      *ipvs.Service (without destinations)
//	destination  *ipvs.Destination (Service names its service)
//	timeouts     *kernel.Timeouts
//	link         *kernel.Link
//	address      *kernel.Address
//	route        *kernel.Route
//	fou          *kernel.FOU
//	sysctl       *string (the value)
//
// Create has only After, Delete only Before; Update, Drain and Wait both.
type Op struct {
	Action Action
	Kind   Kind
	// Service is the service of a service or destination operation.
	Service ipvs.ServiceKey
	Before  any
	After   any
	// Reason says why: the lvsgen service or cluster that needs the
	// object, "not in the config", "drift", ...
	Reason string
	// key identifies the object for sysctls (the sysctl name) and links.
	Key string
}

// Object names the operation's object for people.
func (o Op) Object() string {
	v := o.After
	if v == nil {
		v = o.Before
	}
	switch x := v.(type) {
	case *ipvs.Service:
		return svcName(x.ServiceKey)
	case *ipvs.Destination:
		return svcName(o.Service) + " -> " + destName(o.Service, x)
	case *kernel.Timeouts:
		return "ipvs"
	case *kernel.Link:
		return x.Name
	case *kernel.Address:
		return x.String()
	case *kernel.Route:
		return x.Dst.String()
	case *kernel.FOU:
		return x.String()
	case *string:
		return o.Key
	}
	return string(o.Kind)
}

func svcName(k ipvs.ServiceKey) string {
	if k.FWMark != 0 {
		if k.Family == ipvs.IPv6 {
			return fmt.Sprintf("fwmark %d (ipv6)", k.FWMark)
		}
		return fmt.Sprintf("fwmark %d", k.FWMark)
	}
	return k.String()
}

func destName(k ipvs.ServiceKey, d *ipvs.Destination) string {
	return d.AddrPort().String()
}

// Plan is the ordered list of operations that makes a host's kernel match
// its desired state, plus what lvsgen saw and left alone. A plan is data:
// Apply executes exactly its operations, in order, and decides nothing.
type Plan struct {
	Host string
	Ops  []Op
	// Unmanaged are IPVS services in the kernel that lvsgen did not
	// create and that the config does not name; --prune deletes them.
	Unmanaged []ipvs.Service
	// Problems are reasons the plan cannot work on this host (a device
	// the config names that the host does not have). A plan with
	// problems must not be applied.
	Problems []string
	// State is the ownership state as it will be once every operation
	// has succeeded; StateAfter gives it for a partial apply.
	State *State
	// prev is the state the plan was made from.
	prev *State
}

// StateAfter is the ownership state after an apply of p that stopped
// early: p.State, except that objects whose removal may not have been done
// (failed, unanswered or not sent) are still owned. Creations not done may
// stay claimed: the next plan sees them missing and creates them, or, if
// the config no longer wants them, forgets them.
func (p *Plan) StateAfter(res *Result) *State {
	undone := res.Undone()
	if len(undone) == 0 {
		return p.State
	}
	s := p.State.clone()
	var prevOwned, owned map[ipvs.ServiceKey]bool
	for _, op := range undone {
		switch {
		case op.Kind == KindService && op.Action == Delete:
			if prevOwned == nil {
				// Sets, not searches: a plan may delete thousands.
				prevOwned, owned = keySet(p.prev.Services), keySet(s.Services)
			}
			k := op.Service
			if prevOwned[k.Canonical()] && !owned[k.Canonical()] {
				owned[k.Canonical()] = true
				s.Services = append(s.Services, k)
			}
		case op.Kind == KindAddress && op.Action == Delete:
			a := *op.Before.(*kernel.Address)
			if hasAddr(p.prev.Addresses, a) && !hasAddr(s.Addresses, a) {
				s.Addresses = append(s.Addresses, a)
			}
		case op.Kind == KindLink && op.Action == Delete:
			if slices.Contains(p.prev.Links, op.Key) && !slices.Contains(s.Links, op.Key) {
				s.Links = append(s.Links, op.Key)
			}
		case op.Kind == KindFOU && op.Action == Delete:
			f := *op.Before.(*kernel.FOU)
			if slices.Contains(p.prev.FOUs, f) && !slices.Contains(s.FOUs, f) {
				s.FOUs = append(s.FOUs, f)
			}
		case op.Kind == KindRoute:
			dst := op.Before
			if dst == nil {
				continue
			}
			r := dst.(*kernel.Route)
			for _, old := range p.prev.Routes {
				if old.Dst == r.Dst && !slices.ContainsFunc(s.Routes, func(x OwnedRoute) bool { return x.Dst == r.Dst }) {
					s.Routes = append(s.Routes, old)
				}
			}
		case op.Kind == KindSysctl:
			if prev, ok := p.prev.Sysctls[op.Key]; ok {
				if _, still := s.Sysctls[op.Key]; !still {
					s.Sysctls[op.Key] = prev
				}
			}
		}
	}
	s.sort()
	return s
}

// keySet is the set of keys' canonical forms.
func keySet(keys []ipvs.ServiceKey) map[ipvs.ServiceKey]bool {
	m := make(map[ipvs.ServiceKey]bool, len(keys))
	for _, k := range keys {
		m[k.Canonical()] = true
	}
	return m
}

// Changes counts the operations that write to the kernel.
func (p *Plan) Changes() int {
	n := 0
	for _, o := range p.Ops {
		if o.Action != Wait {
			n++
		}
	}
	return n
}

// Deletes counts services and destinations the plan deletes or drains:
// what the --max-deletes guard limits.
func (p *Plan) Deletes() int {
	n := 0
	for _, o := range p.Ops {
		if (o.Kind == KindService || o.Kind == KindDestination) && (o.Action == Delete || o.Action == Drain) {
			n++
		}
	}
	return n
}

// symbols of the human rendering, like terraform's.
var symbols = map[Action]string{Create: "+", Update: "~", Delete: "-", Drain: "=", Wait: "="}

// ANSI colours per action, used only on a terminal.
var colours = map[Action]string{Create: "\x1b[32m", Update: "\x1b[33m", Delete: "\x1b[31m", Drain: "\x1b[36m", Wait: "\x1b[36m"}

// WriteText prints the plan for people: one line per operation with its
// symbol, object, change and reason, then a summary.
func (p *Plan) WriteText(w io.Writer, colour bool) error {
	fmt.Fprintf(w, "Plan for host %s:\n", p.Host)
	if len(p.Ops) == 0 {
		fmt.Fprintln(w, "  no changes: the kernel matches the config")
	}
	for _, o := range p.Ops {
		line := fmt.Sprintf("  %s %-9s %s", symbols[o.Action], o.Kind, o.Object())
		if d := describe(o); d != "" {
			line += "  " + d
		}
		if colour {
			line = colours[o.Action] + line + "\x1b[0m"
		}
		fmt.Fprintf(w, "%s\n      # %s\n", line, o.Reason)
	}
	for _, s := range p.Unmanaged {
		fmt.Fprintf(w, "  ? service   %s  unmanaged: not created by lvsgen and not in the config (--prune deletes it)\n", svcName(s.ServiceKey))
	}
	for _, pr := range p.Problems {
		fmt.Fprintf(w, "  ! %s\n", pr)
	}
	counts := map[Action]int{}
	for _, o := range p.Ops {
		counts[o.Action]++
	}
	_, err := fmt.Fprintf(w, "%d to create, %d to change, %d to delete, %d to drain, %d draining, %d unmanaged.\n",
		counts[Create], counts[Update], counts[Delete], counts[Drain], counts[Wait], len(p.Unmanaged))
	return err
}

// describe shows what an operation changes.
func describe(o Op) string {
	switch o.Action {
	case Create:
		return newValue(o.After)
	case Update, Drain, Wait:
		return changes(o.Before, o.After)
	}
	return ""
}

func newValue(v any) string {
	switch x := v.(type) {
	case *ipvs.Service:
		return serviceAttrs(x)
	case *ipvs.Destination:
		return destAttrs(x)
	case *kernel.Timeouts:
		return fmt.Sprintf("tcp %d tcpfin %d udp %d", x.TCP, x.TCPFin, x.UDP)
	case *kernel.Route:
		return "via " + x.Gateway.String()
	case *kernel.Link:
		return "(" + x.Kind + ")"
	case *string:
		return "= " + *x
	}
	return ""
}

func serviceAttrs(s *ipvs.Service) string {
	var b strings.Builder
	fmt.Fprintf(&b, "scheduler=%s", s.Scheduler)
	if s.Flags&ipvs.FlagPersistent != 0 {
		fmt.Fprintf(&b, " persistent=%ds/%d", s.Timeout, s.NetmaskBits)
	}
	if s.PE != "" {
		fmt.Fprintf(&b, " pe=%s", s.PE)
	}
	if s.Flags&ipvs.FlagOnePacket != 0 {
		b.WriteString(" one-packet")
	}
	if names := hoststate.SchedFlagNames(s.Scheduler, s.Flags); len(names) > 0 {
		fmt.Fprintf(&b, " flags=%s", strings.Join(names, ","))
	}
	return b.String()
}

func destAttrs(d *ipvs.Destination) string {
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

// changes lists old → new for each attribute that differs.
func changes(before, after any) string {
	var parts []string
	diff := func(name string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			parts = append(parts, fmt.Sprintf("%s: %v → %v", name, a, b))
		}
	}
	switch a := before.(type) {
	case *ipvs.Service:
		b := after.(*ipvs.Service)
		diff("scheduler", a.Scheduler, b.Scheduler)
		diff("persistent", a.Flags&ipvs.FlagPersistent != 0, b.Flags&ipvs.FlagPersistent != 0)
		diff("one-packet", a.Flags&ipvs.FlagOnePacket != 0, b.Flags&ipvs.FlagOnePacket != 0)
		diff("flags", hoststate.SchedFlagNames(a.Scheduler, a.Flags), hoststate.SchedFlagNames(b.Scheduler, b.Flags))
		diff("timeout", a.Timeout, b.Timeout)
		diff("netmask", a.NetmaskBits, b.NetmaskBits)
		diff("pe", a.PE, b.PE)
	case *ipvs.Destination:
		b := after.(*ipvs.Destination)
		diff("forward", a.Forward, b.Forward)
		diff("weight", a.Weight, b.Weight)
		diff("upper", a.UpperThreshold, b.UpperThreshold)
		diff("lower", a.LowerThreshold, b.LowerThreshold)
		diff("tun", a.TunType, b.TunType)
		diff("tunport", a.TunPort, b.TunPort)
		diff("tunflags", a.TunFlags, b.TunFlags)
		if a.ActiveConns != 0 || a.InactiveConns != 0 {
			parts = append(parts, fmt.Sprintf("(%d active, %d inactive connections)", a.ActiveConns, a.InactiveConns))
		}
	case *kernel.Timeouts:
		b := after.(*kernel.Timeouts)
		diff("tcp", a.TCP, b.TCP)
		diff("tcpfin", a.TCPFin, b.TCPFin)
		diff("udp", a.UDP, b.UDP)
	case *kernel.Link:
		b := after.(*kernel.Link)
		diff("up", a.Up, b.Up)
		diff("mode", a.Mode, b.Mode)
	case *kernel.Route:
		b := after.(*kernel.Route)
		diff("via", a.Gateway, b.Gateway)
	case *kernel.Address:
		b := after.(*kernel.Address)
		diff("nodad", a.NoDAD, b.NoDAD)
		diff("deprecated", a.Deprecated, b.Deprecated)
	case *string:
		diff("value", *a, *after.(*string))
	}
	return strings.Join(parts, ", ")
}

// PlanFormatVersion is the version of the JSON form of a plan.
const PlanFormatVersion = 1

type jsonOp struct {
	Action Action `json:"action"`
	Kind   Kind   `json:"kind"`
	Object string `json:"object"`
	Before any    `json:"before,omitempty"`
	After  any    `json:"after,omitempty"`
	Reason string `json:"reason"`
}

// jsonObject gives IPVS objects the documented JSON form of hoststate;
// the kernel objects carry their own JSON tags.
func jsonObject(v any) any {
	switch x := v.(type) {
	case *ipvs.Service:
		return hoststate.Service{Service: *x}
	case *ipvs.Destination:
		return hoststate.Destination(*x)
	case *string:
		return map[string]string{"value": *x}
	case nil:
		return nil
	}
	return v
}

// WriteJSON prints the plan as a versioned JSON document.
func (p *Plan) WriteJSON(w io.Writer) error {
	ops := []jsonOp{}
	for _, o := range p.Ops {
		ops = append(ops, jsonOp{o.Action, o.Kind, o.Object(), jsonObject(o.Before), jsonObject(o.After), o.Reason})
	}
	unmanaged := []string{}
	for _, s := range p.Unmanaged {
		unmanaged = append(unmanaged, svcName(s.ServiceKey))
	}
	doc := struct {
		Version   int      `json:"version"`
		Host      string   `json:"host"`
		Changes   int      `json:"changes"`
		Ops       []jsonOp `json:"ops"`
		Unmanaged []string `json:"unmanaged"`
	}{PlanFormatVersion, p.Host, p.Changes(), ops, unmanaged}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}
