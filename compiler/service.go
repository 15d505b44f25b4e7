package compiler

import (
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cuelang.org/go/cue"

	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/model"
)

type rawIssue struct {
	Path     string       `json:"path"`
	Message  string       `json:"message"`
	Hint     string       `json:"hint"`
	Severity string       `json:"severity"`
	Related  []rawRelated `json:"related"`
}

// rawRelated is a rule's #Related.
type rawRelated struct {
	At      []string `json:"at"`
	Value   string   `json:"value"`
	Message string   `json:"message"`
}

// realRef is a real server as far as it could be resolved before
// validation: the address it is reached at and its host, if declared.
type realRef struct {
	addr netip.Addr
	host *model.Host
	ok   bool
}

var realIndex = regexp.MustCompile(`^reals\[(\d+)\]`)

// compileService validates one service on its own — its shape against
// #Service and the LVS rules in #ServiceCheck, with the facts about its
// directors and real servers that the rules need — and returns its model,
// or nil when it has errors.
func (c *compilation) compileService(name string, user cue.Value, cfg *model.Config) *model.Service {
	base := cue.MakePath(cue.Str("services"), cue.Str(name))
	before := len(c.diags)

	var names serviceNames
	var err error
	names.vip, err = user.LookupPath(cue.ParsePath("vip")).String()
	names.hasVIP = err == nil
	names.family, _ = user.LookupPath(cue.ParsePath("family")).String()
	names.cluster, err = user.LookupPath(cue.ParsePath("cluster")).String()
	names.hasCluster = err == nil
	names.reals = realSpecs(user)
	if sv := user.LookupPath(cue.ParsePath("sorry")); sv.Exists() {
		sp := realSpecOf(sv)
		names.sorry = &sp
	}
	res := c.resolveService(base, names, cfg)

	shape := c.ev.serviceDef.Unify(user)
	shapeErr := shape.Validate(cue.Concrete(true))
	var dropped []string
	if shapeErr != nil {
		for _, p := range c.addCUEErrors(shapeErr, c.user, base, nil) {
			dropped = append(dropped, strings.Join(p, "."))
		}
		// The rules still run, on the service without its wrong
		// fields, so that one run reports every independent problem:
		// a CUE value with an error anywhere inside reads as an error
		// everywhere.
		user = c.without(user, "", dropped)
	}
	var data map[string]any
	if err := user.Decode(&data); err != nil && shapeErr == nil {
		c.errorf("internal", base, "", "", "decoding service: %v", err)
		return nil
	}
	_, vipErr := user.LookupPath(cue.ParsePath("vip")).String()
	c.runRules(ruleInput{
		resolved: res,
		base:     base,
		data:     data,
		hasVIP:   vipErr == nil && !slices.Contains(dropped, "vip"),
		shapeOK:  shapeErr == nil,
		dropped:  dropped,
	})
	if diag.List(c.diags[before:]).HasErrors() {
		return nil
	}
	// Decoded as the plain-data path decodes its data: one decoder.
	var m map[string]any
	if err := shape.Decode(&m); err != nil {
		c.errorf("schema", base, "", "", "decoding service: %v", err)
		return nil
	}
	return c.buildDecoded(base, name, res, m)
}

// serviceNames is what a service names, read leniently before validation:
// a wrong field is the schema's to report, not this lookup's.
type serviceNames struct {
	vip, family, cluster string
	hasVIP, hasCluster   bool
	reals                []realSpec
	// sorry is the sorry server's, when the service has one.
	sorry *realSpec
}

// resolved is what a service's names resolve to: what the rules and the
// model need around the service.
type resolved struct {
	family  ipvs.Family
	cluster *model.Cluster
	// clusterFacts is clusterFacts(cluster, its directors).
	clusterFacts factsOf
	refs         []realRef
	// sorry is the sorry server, when the service has one.
	sorry *realRef
}

// resolveService resolves a service's family, cluster, directors and real
// servers, reporting names that are not declared.
func (c *compilation) resolveService(base cue.Path, n serviceNames, cfg *model.Config) resolved {
	res := resolved{family: ipvs.IPv4}
	if n.hasVIP {
		if a, err := netip.ParseAddr(n.vip); err == nil {
			res.family = ipvs.FamilyOf(a)
		}
	} else if n.family == "ipv6" {
		res.family = ipvs.IPv6
	}
	if n.hasCluster {
		res.cluster = cfg.Clusters[n.cluster]
		if res.cluster == nil && !c.declared["clusters"][n.cluster] {
			c.errorf("unknown-cluster", base, "cluster", "declare the cluster under clusters: or fix the name", "cluster %q is not declared", n.cluster)
		}
	}
	var directors []*model.Host
	if res.cluster != nil {
		for _, d := range res.cluster.Directors {
			if h := cfg.Hosts[d]; h != nil {
				directors = append(directors, h)
			}
		}
	}
	res.clusterFacts = c.clusterFactsOf(res.cluster, directors)
	res.refs = make([]realRef, 0, len(n.reals))
	for i, sp := range n.reals {
		res.refs = append(res.refs, c.resolveReal(base, fmt.Sprintf("reals[%d]", i), sp, res.family, directors, cfg))
	}
	if n.sorry != nil {
		// A sorry server is found as a real server is: the same
		// host reference, the same address choice.
		ref := c.resolveReal(base, "sorry", *n.sorry, res.family, directors, cfg)
		res.sorry = &ref
	}
	return res
}

// build turns a validated service into its model.
func (res resolved) build(name string, r rawService) *model.Service {
	s := buildService(name, r, res.family, res.refs)
	if r.Sorry != nil && res.sorry != nil {
		s.Sorry = &model.Sorry{Host: r.Sorry.Host, Address: res.sorry.addr, Port: s.Port}
		if r.Sorry.Port != nil {
			s.Sorry.Port = uint16(*r.Sorry.Port)
		}
	}
	if s.DrainTimeout == nil && res.cluster != nil {
		s.DrainTimeout = res.cluster.DrainTimeout
	}
	return s
}

// without rebuilds v leaving out the fields at the dropped paths (dotted,
// list indices as numbers). A dropped list element becomes {} so that
// indices stay aligned with the context's reals.
func (c *compilation) without(v cue.Value, at string, dropped []string) cue.Value {
	join := func(p string) string {
		if at == "" {
			return p
		}
		return at + "." + p
	}
	switch v.IncompleteKind() {
	case cue.StructKind:
		out := c.ctx.CompileString("{}")
		forEachField(v, func(name string, f cue.Value) {
			p := join(name)
			if !slices.Contains(dropped, p) {
				out = out.FillPath(cue.MakePath(cue.Str(name)), c.without(f, p, dropped))
			}
		})
		return out
	case cue.ListKind:
		var elems []cue.Value
		it, _ := v.List()
		for i := 0; it.Next(); i++ {
			p := join(strconv.Itoa(i))
			if slices.Contains(dropped, p) {
				elems = append(elems, c.ctx.CompileString("{}"))
				continue
			}
			elems = append(elems, c.without(it.Value(), p, dropped))
		}
		return c.ctx.NewList(elems...)
	}
	return v
}

// related reports whether a rule's issue path ("reals[1].port") touches a
// dropped path: the same field, one inside it, or one containing it, or
// both are the service's own fields. A service-level issue (empty path) is
// related to everything dropped.
func related(issuePath string, dropped []string) bool {
	if len(dropped) == 0 {
		return false
	}
	if issuePath == "" {
		return true
	}
	p := strings.NewReplacer("[", ".", "]", "").Replace(issuePath)
	for _, d := range dropped {
		// Without one of its own fields (vip, fwmark, port, ...) a
		// service may look like another kind of service to the rules
		// about its own fields; those wait until the field is fixed.
		if !strings.Contains(d, ".") && !strings.Contains(p, ".") {
			return true
		}
		if d == p || strings.HasPrefix(d, p+".") || strings.HasPrefix(p, d+".") {
			return true
		}
	}
	return false
}

// resolveReal finds the address of a real server (at path, "reals[1]"
// or "sorry"). A declared host without an explicit address is reached at
// its address of the service's family that lies on a subnet of the first
// director (the one DR and NAT need), else at its first address of that
// family, else (tun only may cross families) at its first address.
func (c *compilation) resolveReal(base cue.Path, path string, sp realSpec, family ipvs.Family, directors []*model.Host, cfg *model.Config) realRef {
	var ref realRef
	if sp.hasAddr {
		ref.addr, _ = netip.ParseAddr(sp.addr)
	}
	if sp.hasHost {
		ref.host = cfg.Hosts[sp.host]
		if ref.host == nil {
			if !c.declared["hosts"][sp.host] {
				c.errorf("unknown-host", base, path+".host", "declare the host under hosts:, fix the name, or give its address: instead", "host %q is not declared", sp.host)
			}
		} else if !ref.addr.IsValid() && !sp.hasAddr {
			ref.addr = pickAddress(ref.host, family, directors)
			if !ref.addr.IsValid() {
				c.errorf("real-address", base, path+".host", "declare an address on one of the host's interfaces", "host %q has no address", sp.host)
			}
		}
	}
	ref.ok = ref.addr.IsValid() && (!sp.hasHost || ref.host != nil)
	return ref
}

// realSpec is what a real server names, read leniently: host and address
// when they are strings.
type realSpec struct {
	host, addr       string
	hasHost, hasAddr bool
}

// realSpecs reads the real servers of a service value.
func realSpecs(user cue.Value) []realSpec {
	list, err := user.LookupPath(cue.ParsePath("reals")).List()
	if err != nil {
		return nil
	}
	var specs []realSpec
	for list.Next() {
		specs = append(specs, realSpecOf(list.Value()))
	}
	return specs
}

// realSpecOf reads what a real server (or a sorry server) value names.
func realSpecOf(v cue.Value) realSpec {
	var sp realSpec
	var err error
	sp.host, err = v.LookupPath(cue.ParsePath("host")).String()
	sp.hasHost = err == nil
	sp.addr, err = v.LookupPath(cue.ParsePath("address")).String()
	sp.hasAddr = err == nil
	return sp
}

func pickAddress(h *model.Host, family ipvs.Family, directors []*model.Host) netip.Addr {
	if len(directors) > 0 {
		for _, ifc := range h.Interfaces {
			for _, p := range ifc.Addresses {
				if ipvs.FamilyOf(p.Addr()) != family {
					continue
				}
				if _, _, ok := directors[0].InterfaceFor(p.Addr()); ok {
					return p.Addr()
				}
			}
		}
	}
	var any netip.Addr
	for _, ifc := range h.Interfaces {
		for _, p := range ifc.Addresses {
			if ipvs.FamilyOf(p.Addr()) == family {
				return p.Addr()
			}
			if !any.IsValid() {
				any = p.Addr()
			}
		}
	}
	return any
}

func hostFacts(h *model.Host) map[string]any {
	prefixes := []string{}
	ifnames := []string{}
	mtu := 0
	for _, ifc := range h.Interfaces {
		ifnames = append(ifnames, ifc.Name)
		for _, p := range ifc.Addresses {
			prefixes = append(prefixes, p.String())
		}
		if ifc.MTU > 0 && (mtu == 0 || ifc.MTU < mtu) {
			mtu = ifc.MTU
		}
	}
	f := map[string]any{"name": h.Name, "managed": h.Managed, "prefixes": prefixes, "interfaces": ifnames}
	if h.Gateway.IsValid() {
		f["gateway"] = h.Gateway.String()
	}
	if h.Gateway6.IsValid() {
		f["gateway6"] = h.Gateway6.String()
	}
	if mtu > 0 {
		f["mtu"] = mtu
	}
	return f
}

func hostFactsList(hs []*model.Host) []any {
	out := []any{}
	for _, h := range hs {
		out = append(out, hostFacts(h))
	}
	return out
}

// realFactsAddr is the address the rules see for a real server: a
// placeholder of the service's family keeps one that could not be resolved
// in its place (issues about it are dropped; its own error is reported).
func realFactsAddr(r realRef, family ipvs.Family) netip.Addr {
	if r.ok {
		return r.addr
	}
	if family == ipvs.IPv6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// factsOf is what #RealCheck knows of one real server or cluster, with
// a number that stands for its encoding.
type factsOf struct {
	facts map[string]any
	id    int
}

// realFacts returns the facts about a real server, encoded once per
// compile for each (host, address).
func (c *compilation) realFacts(r realRef, family ipvs.Family) factsOf {
	addr := realFactsAddr(r, family)
	k := addr.String()
	if r.ok && r.host != nil {
		k = r.host.Name + "|" + k
	}
	return c.realFactsCache.get(k, func() map[string]any {
		f := map[string]any{"address": addr.String(), "family": ipvs.FamilyOf(addr).String()}
		if r.ok && r.host != nil {
			f["host"] = hostFacts(r.host)
		}
		return f
	})
}

// buildService turns a validated service into its model, with defaults the
// schema leaves to the compiler (protocol, netmask, real ports) filled in.
func buildService(name string, r rawService, family ipvs.Family, refs []realRef) *model.Service {
	s := &model.Service{
		Name:       name,
		Cluster:    r.Cluster,
		VIP:        mustAddr(r.VIP),
		Protocol:   r.Protocol,
		FWMark:     r.FWMark,
		Family:     family,
		FamilyName: family.String(),
		Forwarding: r.Forwarding,
		Scheduler:  r.Scheduler,
		Flags:      r.Flags,
		OnePacket:  r.OnePacket,
		Waive:      r.Waive,
	}
	s.DrainTimeout = seconds(r.DrainTimeout)
	if s.Flags == nil {
		s.Flags = []string{}
	}
	for _, a := range r.Addresses {
		s.Addresses = append(s.Addresses, mustAddr(a))
	}
	if r.Port != nil {
		s.Port = uint16(*r.Port)
	}
	if s.FWMark == 0 && s.Protocol == "" {
		s.Protocol = "tcp"
	}
	if r.SNAT != "" {
		s.SNAT = mustAddr(r.SNAT)
	}
	if s.Forwarding == "tun" {
		s.Tunnel = &model.Tunnel{Type: "ipip", Checksum: "none"}
		if r.Tunnel != nil {
			s.Tunnel = &model.Tunnel{Type: r.Tunnel.Type, Port: r.Tunnel.Port, Checksum: r.Tunnel.Checksum}
		}
	}
	if r.Persistence != nil {
		p := &model.Persistence{Timeout: r.Persistence.Timeout, Engine: r.Persistence.Engine, Netmask: 32}
		if family == ipvs.IPv6 {
			p.Netmask = 128
		}
		if r.Persistence.Netmask != nil {
			p.Netmask = *r.Persistence.Netmask
		}
		s.Persistence = p
	}
	for i, rr := range r.Reals {
		real := model.Real{
			Host:           rr.Host,
			Address:        refs[i].addr,
			Port:           s.Port,
			Weight:         rr.Weight,
			UpperThreshold: rr.UpperThreshold,
			LowerThreshold: rr.LowerThreshold,
		}
		if rr.Port != nil {
			real.Port = uint16(*rr.Port)
		}
		// A real server's own check replaces the service's wholesale.
		rc := r.Check
		if rr.Check != nil {
			rc = rr.Check
		}
		real.Check = buildCheck(rc, real.Port)
		s.Reals = append(s.Reals, real)
	}
	s.Check = buildCheck(r.Check, 0)
	s.Quorum = r.Quorum
	s.Hysteresis = r.Hysteresis
	if s.Reals == nil {
		s.Reals = []model.Real{}
	}
	return s
}

// checkUnique reports two services that would be the same IPVS service on
// one director: the kernel keys services by (protocol, address, port) or
// (fwmark, family), whatever lvsgen calls them.
func (c *compilation) checkUnique(cfg *model.Config) {
	type key struct {
		director string
		svc      ipvs.ServiceKey
	}
	// Sized at once: it holds every service of a one-director config,
	// and is built on every compile, one from the memo too.
	seen := make(map[key]string, len(cfg.Services))
	for _, s := range cfg.Services {
		cl := cfg.Clusters[s.Cluster]
		if cl == nil {
			continue
		}
		k := ipvs.ServiceKey{Family: s.Family, FWMark: s.FWMark}
		if s.FWMark == 0 {
			proto, _ := ipvs.ParseProtocol(s.Protocol)
			k = ipvs.ServiceKey{Family: s.Family, Protocol: proto, Addr: s.VIP, Port: s.Port}
		}
		for _, d := range cl.Directors {
			other, ok := seen[key{d, k}]
			if !ok {
				seen[key{d, k}] = s.Name
				continue
			}
			desc := fmt.Sprintf("%s:%s", s.Protocol, netip.AddrPortFrom(s.VIP, s.Port))
			field := "vip"
			if s.FWMark != 0 {
				desc = fmt.Sprintf("fwmark %d (%s)", s.FWMark, s.Family)
				field = "fwmark"
			}
			c.errorf("duplicate-service", cue.MakePath(cue.Str("services"), cue.Str(s.Name)), field,
				"give one of them another address, port or mark, or merge their real servers",
				"service %s is %s on director %s, like service %s", s.Name, desc, d, other)
			break
		}
	}
}

// buildCheck turns a validated check into its model with the defaults the
// schema leaves to the compiler, checking port when the check has none of
// its own (0: the real server's, for a service's check). It is nil for no
// check or type "none".
func buildCheck(r *rawCheck, port uint16) *model.Check {
	if r == nil || r.Type == "none" {
		return nil
	}
	c := &model.Check{
		Type:         r.Type,
		Port:         port,
		IntervalText: r.Interval,
		TimeoutText:  r.Timeout,
		Rise:         r.Rise,
		Fall:         r.Fall,
		InitialUp:    r.Initial != "down",
		OnFailure:    r.OnFailure,
	}
	// The rules have checked both durations.
	c.Interval, _ = time.ParseDuration(r.Interval)
	c.Timeout, _ = time.ParseDuration(r.Timeout)
	if r.Port != nil {
		c.Port = uint16(*r.Port)
	}
	switch r.Type {
	case "http", "https":
		c.Path, c.Host, c.Body = cmp.Or(r.Path, "/"), r.Host, r.Body
		c.Expect = slices.Clone(r.Expect)
		if len(c.Expect) == 0 {
			c.Expect = []int{200}
		}
		if r.Type == "https" {
			c.ServerName = r.ServerName
			c.Verify = r.Verify != nil && *r.Verify
		}
	case "udp":
		c.Send, c.Receive = r.Send, r.Receive
	case "dns":
		c.Query, c.QueryType, c.Answer = r.Query, cmp.Or(r.QueryType, "A"), r.Answer
	case "exec":
		c.Command, c.User = slices.Clone(r.Command), r.User
	}
	return c
}
