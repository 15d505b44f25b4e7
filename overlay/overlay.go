package overlay

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/lvsgen/lvsgen/health"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
)

// Overlay lays health over desired states. Its zero value is ready; its
// methods may be called from any goroutine. It remembers whether each
// service's quorum is lost, so a long-lived Overlay (watch's) follows the
// hysteresis; a new one (a one-shot plan) decides from the weights alone,
// which is the same decision outside the hysteresis band.
type Overlay struct {
	mu   sync.Mutex
	lost map[string]bool // by service name; absent: not decided yet
}

// New returns an Overlay with no quorum decided yet.
func New() *Overlay { return &Overlay{} }

// Apply returns want with the health in status laid over it (see the
// package doc for the rules). It never modifies want: the result is a
// copy that shares the parts it leaves unchanged (a service with no
// checks and no sorry server keeps its destinations slice), so callers
// must not modify it either. A nil status is no health at all: every
// checked real server is as its check's initial says.
func (o *Overlay) Apply(want *hoststate.Host, status map[health.Key]health.Status) *hoststate.Host {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := *want
	out.Services = slices.Clone(want.Services)
	seen := make(map[string]bool, len(out.Services))
	for i := range out.Services {
		s := &out.Services[i]
		seen[s.Name] = true
		if len(s.Checks) == 0 && s.Sorry == nil {
			continue
		}
		o.service(s, status)
	}
	out.Addresses, out.Withdrawn = withdraw(out.Addresses, out.Services)
	// Forget the services gone from the config: one that comes back
	// decides afresh.
	for name := range o.lost {
		if !seen[name] {
			delete(o.lost, name)
		}
	}
	return &out
}

// service overlays health on s, a copy whose Destinations are still
// want's: it replaces them, never writes into them.
func (o *Overlay) service(s *hoststate.Service, status map[health.Key]health.Status) {
	checks := make(map[netip.AddrPort]hoststate.Check, len(s.Checks))
	for _, c := range s.Checks {
		checks[c.Destination] = c
	}
	reasons := map[netip.AddrPort]string{}
	down := make([]bool, len(s.Destinations))
	up, upWeight := 0, 0
	for j, d := range s.Destinations {
		c, ok := checks[d.AddrPort()]
		if !ok {
			up++
			upWeight += int(d.Weight)
			continue
		}
		st, known := status[key(s, c)]
		isUp := c.InitialUp
		if known {
			isUp = st.Up
		}
		if isUp {
			up++
			upWeight += int(d.Weight)
			continue
		}
		down[j] = true
		reasons[d.AddrPort()] = downReason(c, st, known)
	}

	lost := o.quorum(s, upWeight)
	sorryIn := s.Sorry != nil && (up == 0 || lost)
	dests := make([]ipvs.Destination, 0, len(s.Destinations)+1)
	for j, d := range s.Destinations {
		switch {
		case down[j] && checks[d.AddrPort()].OnFailure == "remove":
			continue
		case down[j]:
			if d.Weight == 0 {
				delete(reasons, d.AddrPort()) // as the config says
			}
			d.Weight = 0
		case sorryIn && d.Weight != 0:
			d.Weight = 0
			reasons[d.AddrPort()] = fmt.Sprintf("health: quorum lost (weight up %d, quorum %d): only the sorry server takes new connections", upWeight, s.Quorum)
		}
		dests = append(dests, d)
	}
	if s.Sorry != nil {
		a := s.Sorry.AddrPort()
		switch {
		case sorryIn && slices.ContainsFunc(dests, func(d ipvs.Destination) bool { return d.AddrPort() == a }):
			// Also a real server of the service: the schema forbids it;
			// never two destinations at one address.
		case sorryIn && up == 0:
			dests = append(dests, *s.Sorry)
			reasons[a] = "health: no real server up: sorry server"
		case sorryIn:
			dests = append(dests, *s.Sorry)
			reasons[a] = fmt.Sprintf("health: quorum lost (weight up %d, quorum %d): sorry server", upWeight, s.Quorum)
		default:
			// Only used if the kernel still has it: it drains (plan's
			// differ), so that the requests it answers finish.
			reasons[a] = "health: real servers up: sorry server out"
		}
	}
	ipvs.SortDestinations(dests)
	s.Destinations = dests
	s.Health = reasons
}

// quorum decides whether s's quorum is lost given the weight of its up
// real servers, with keepalived's hysteresis: lost below
// Quorum-Hysteresis, regained at Quorum+Hysteresis, unchanged in between;
// a first decision has no history and compares with Quorum itself.
func (o *Overlay) quorum(s *hoststate.Service, upWeight int) bool {
	if s.Quorum <= 0 {
		delete(o.lost, s.Name)
		return false
	}
	if o.lost == nil {
		o.lost = map[string]bool{}
	}
	lost, known := o.lost[s.Name]
	switch {
	case !known:
		lost = upWeight < s.Quorum
	case lost:
		lost = upWeight < s.Quorum+s.Hysteresis
	default:
		lost = upWeight < s.Quorum-s.Hysteresis
	}
	o.lost[s.Name] = lost
	return lost
}

// sinceFormat is how a reason gives the time of a transition, in UTC:
// short, as logs and plans are read on the day, and the same whether the
// status comes from the checker (local times) or from the saved file
// (UTC), so that watch's log and a manual plan say the same.
const sinceFormat = "15:04:05"

// since formats t for a reason.
func since(t time.Time) string { return t.UTC().Format(sinceFormat) }

// downReason says why c's real server counts as down.
func downReason(c hoststate.Check, st health.Status, known bool) string {
	switch {
	case !known:
		return fmt.Sprintf("health: %s not checked yet, initial down", c.Real)
	case st.Restored:
		r := fmt.Sprintf("health: %s down since %s (saved health state", c.Real, since(st.Since))
		if st.Last.Detail != "" {
			r += ": " + st.Last.Detail
		}
		return r + ")"
	case st.Checks == 0:
		return fmt.Sprintf("health: %s down since %s, initial down, no check finished yet", c.Real, since(st.Since))
	case st.Fails > 0:
		r := fmt.Sprintf("health: %s down since %s, %d failed %s %s", c.Real, since(st.Since), st.Fails, c.Type, plural(st.Fails, "check"))
		if st.Last.Detail != "" {
			r += ": " + st.Last.Detail
		}
		return r
	default:
		return fmt.Sprintf("health: %s down since %s, %d of %d passed %s checks to come back", c.Real, since(st.Since), st.Passes, c.Rise, c.Type)
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// withdraw leaves out the announced VIPs (those of active-active
// clusters) whose services are all health-checked and have no
// destination of positive weight left (no real server up, no sorry
// server): unbound, BIRD withdraws them, and the routers send their flows
// to the directors that can serve them. A fwmark service serves the
// addresses it declares. A VIP with a service without checks stays: a
// weight of 0 there is the config's, not the health's. With a fwmark
// service that declares no addresses nothing is withdrawn: which VIPs its
// marked packets go to is unknown, and one it shares must stay. addrs is
// not modified. It returns, with the addresses left, why each VIP left
// out is.
func withdraw(addrs []hoststate.Address, svcs []hoststate.Service) ([]hoststate.Address, map[netip.Prefix]string) {
	if !slices.ContainsFunc(addrs, func(a hoststate.Address) bool { return a.Announced }) ||
		slices.ContainsFunc(svcs, func(s hoststate.Service) bool { return s.FWMark != 0 && len(s.Addresses) == 0 }) {
		return addrs, nil
	}
	out := make([]hoststate.Address, 0, len(addrs))
	var why map[netip.Prefix]string
	for _, a := range addrs {
		if a.Announced && !serves(a.Prefix.Addr(), svcs) {
			if why == nil {
				why = map[netip.Prefix]string{}
			}
			why[a.Prefix] = fmt.Sprintf("health: no real server of %s up: unbound, so that BGP withdraws it", a.Prefix.Addr())
			continue
		}
		out = append(out, a)
	}
	return out, why
}

// serves reports whether vip has a service without checks, or one with
// a destination of positive weight; a VIP with no service at all stays
// too. A VIP's services are those with it as their address and the
// fwmark services that declare it.
func serves(vip netip.Addr, svcs []hoststate.Service) bool {
	found := false
	for _, s := range svcs {
		if s.FWMark == 0 && s.Addr != vip || s.FWMark != 0 && !slices.Contains(s.Addresses, vip) {
			continue
		}
		found = true
		if len(s.Checks) == 0 {
			return true
		}
		for _, d := range s.Destinations {
			if d.Weight > 0 {
				return true
			}
		}
	}
	return !found
}
