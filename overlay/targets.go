package overlay

import (
	"github.com/lvsgen/lvsgen/health"
	"github.com/lvsgen/lvsgen/hoststate"
)

// Targets returns the health engine's targets for a director's desired
// state: one per check of each service, keyed by the service's name and
// the check's real server, in the services' and checks' order.
func Targets(want *hoststate.Host) []health.Target {
	var out []health.Target
	for i := range want.Services {
		s := &want.Services[i]
		for _, c := range s.Checks {
			out = append(out, health.Target{Key: key(s, c), Spec: Spec(c)})
		}
	}
	return out
}

func key(s *hoststate.Service, c hoststate.Check) health.Key {
	return health.Key{Service: s.Name, Real: c.Real}
}

// Spec converts a resolved check to the engine's Spec. The schema applied
// every default but one: the TLS server name defaults to the Host header,
// as a browser would send it, and is left empty (the IP address) only when
// both are.
func Spec(c hoststate.Check) health.Spec {
	m := c.Check
	s := health.Spec{
		Type:     health.Type(m.Type),
		Addr:     c.Addr,
		Interval: m.Interval, Timeout: m.Timeout,
		Rise: m.Rise, Fall: m.Fall,
		InitialUp:  m.InitialUp,
		Path:       m.Path,
		Host:       m.Host,
		Expect:     m.Expect,
		Body:       m.Body,
		ServerName: m.ServerName,
		Verify:     m.Verify,
		Query:      m.Query, QueryType: m.QueryType, Answer: m.Answer,
		Command: m.Command,
		User:    m.User,
	}
	if s.ServerName == "" {
		s.ServerName = m.Host
	}
	if m.Send != "" {
		s.Send = []byte(m.Send)
	}
	if m.Receive != "" {
		s.Receive = []byte(m.Receive)
	}
	return s
}
