package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
)

// KindService is the kind of an IPVS service.
const KindService Kind = "service"

// Service is an IPVS service without its destinations (KindService):
// service operations carry it, the destinations are objects of their own.
type Service struct {
	ipvs.Service
}

// bareService is s as service operations carry it: without its
// destinations, and without the flag the kernel sets by itself.
func bareService(s ipvs.Service) *Service {
	s.Destinations = nil
	s.Flags &^= ipvs.FlagHashed
	return &Service{s}
}

var _ Object = (*Service)(nil)

// Kind is KindService.
func (s *Service) Kind() Kind { return KindService }

// String is ServiceName of the service.
func (s *Service) String() string { return ServiceName(s.ServiceKey) }

func (s *Service) service() ipvs.ServiceKey { return s.ServiceKey }

// ServiceName names an IPVS service for people: its key, or its firewall
// mark.
func ServiceName(k ipvs.ServiceKey) string {
	if k.FWMark != 0 {
		if k.Family == ipvs.IPv6 {
			return fmt.Sprintf("fwmark %d (ipv6)", k.FWMark)
		}
		return fmt.Sprintf("fwmark %d", k.FWMark)
	}
	return k.String()
}

// Attrs shows the scheduler and the persistence and flags set.
func (s *Service) Attrs() string {
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

// Changes lists the fields of serviceFields that differ from before's.
func (s *Service) Changes(before Object) []string {
	return changes(serviceFields, &before.(*Service).Service, &s.Service)
}

// JSON is hoststate's documented JSON form of a service.
func (s *Service) JSON() any { return hoststate.Service{Service: s.Service} }

// keepUndone keeps a service whose deletion may not have been done
// owned, if it was.
func (s *Service) keepUndone(op Op, u *undone) {
	if op.Action != Delete {
		return
	}
	if u.prevOwned == nil {
		u.prevOwned, u.owned = keySet(u.prev.Services), keySet(u.s.Services)
	}
	k := s.ServiceKey.Canonical()
	if u.prevOwned[k] && !u.owned[k] {
		u.owned[k] = true
		u.s.Services = append(u.s.Services, s.ServiceKey)
	}
}

// isPersistent reports whether s is a persistent service.
func isPersistent(s *ipvs.Service) bool { return s.Flags&ipvs.FlagPersistent != 0 }

// serviceFields is the field table of ipvs.Service: what UpdateService
// can change, in the order a plan shows the changes.
var serviceFields = []field[ipvs.Service]{
	{
		name:  "Scheduler",
		equal: by(func(s *ipvs.Service) string { return s.Scheduler }),
		show:  showAs("scheduler", func(s *ipvs.Service) string { return s.Scheduler }),
	},
	{
		name:  "Flags",
		equal: by(func(s *ipvs.Service) uint32 { return s.Flags }),
		// The kernel sets the hashed flag on every service it has.
		kernel: by(func(s *ipvs.Service) uint32 { return s.Flags &^ ipvs.FlagHashed }),
		show: func(c *changeList, a, b *ipvs.Service) {
			c.add("persistent", isPersistent(a), isPersistent(b))
			c.add("one-packet", a.Flags&ipvs.FlagOnePacket != 0, b.Flags&ipvs.FlagOnePacket != 0)
			c.add("flags", hoststate.SchedFlagNames(a.Scheduler, a.Flags), hoststate.SchedFlagNames(b.Scheduler, b.Flags))
		},
	},
	{
		name:  "Timeout",
		equal: by(func(s *ipvs.Service) uint32 { return s.Timeout }),
		// The kernel keeps but never uses the timeout and netmask of a
		// service that is not persistent.
		matters: isPersistent,
		show:    showAs("timeout", func(s *ipvs.Service) uint32 { return s.Timeout }),
	},
	{
		name:    "NetmaskBits",
		equal:   by(func(s *ipvs.Service) int { return s.NetmaskBits }),
		matters: isPersistent,
		show:    showAs("netmask", func(s *ipvs.Service) int { return s.NetmaskBits }),
	},
	{
		name:  "PE",
		equal: by(func(s *ipvs.Service) string { return s.PE }),
		show:  showAs("pe", func(s *ipvs.Service) string { return s.PE }),
	},
}

// serviceNotCompared are the fields of ipvs.Service not in serviceFields,
// and why.
var serviceNotCompared = map[string]string{
	"ServiceKey":   "identifies the service: another key is another service, created and deleted, never updated",
	"Destinations": "objects of their own (Destination), diffed one by one",
}

// sameService reports whether the kernel's service have needs no update
// to be want.
func sameService(have, want *ipvs.Service) bool { return same(serviceFields, have, want) }

// EqualServices reports whether a and b ask the same of the kernel: the
// same key, every field of serviceFields equal, the same destinations.
func EqualServices(a, b *ipvs.Service) bool {
	return a.ServiceKey == b.ServiceKey && equal(serviceFields, a, b) && slices.Equal(a.Destinations, b.Destinations)
}
