package compiler

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue"

	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/model"
)

// check is one of the schema's rule checks (#ServiceCheck, #RealCheck,
// #RealsCheck, #WeightsCheck, #CheckIssues) with the verdicts it has
// given so far.
//
// A check's verdict depends on its input alone, so each distinct input is
// evaluated once: in a large config the same real server sits behind many
// services and many services share port, scheduler and forwarding, and
// CUE's evaluation (about a millisecond per input) is what a compile
// spends its time on. Verdicts are kept by the input's JSON encoding.
type check struct {
	def cue.Value
	ids []string
	*verdicts
}

// verdicts are a check's verdicts by input, shared by the evaluators
// that run the check.
type verdicts struct {
	mu sync.Mutex
	m  map[string]verdict
}

func (vs *verdicts) len() int {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return len(vs.m)
}

// verdict is what a check said about one input: the issues of each rule,
// and the rules that could not be evaluated.
type verdict struct {
	issues []ruleIssue
	failed []ruleFailure
	// subject is the real server's address the input named, when the
	// verdict is kept for a class of addresses (addrclass.go).
	subject string
}

type ruleIssue struct {
	rule string
	rawIssue
}

type ruleFailure struct {
	rule string
	err  string
}

func newCheck(schema cue.Value, name string, vs *verdicts) (*check, error) {
	def := schema.LookupPath(cue.ParsePath(name))
	if !def.Exists() {
		return nil, fmt.Errorf("schema has no %s", name)
	}
	ids, err := ruleIDs(def)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if vs.m == nil {
		vs.m = map[string]verdict{}
	}
	return &check{def: def, ids: ids, verdicts: vs}, nil
}

// ruleIDs lists the rule ids of a check's rules.
func ruleIDs(def cue.Value) ([]string, error) {
	it, err := def.LookupPath(cue.ParsePath("rules")).Fields()
	if err != nil {
		return nil, fmt.Errorf("listing schema rules: %w", err)
	}
	var ids []string
	for it.Next() {
		ids = append(ids, it.Selector().Unquoted())
	}
	return ids, nil
}

// eval returns the verdict on input, a JSON-like value with the check's
// fields (service/ctx, real/fact/svc/cluster, shared/sorry,
// unset/set/quorum, check/portless).
func (k *check) eval(input map[string]any) verdict {
	return k.evalKey(appendKey(nil, input), func() map[string]any { return input })
}

// evalKey is eval for a caller that has the input's key: the same
// encoding of the same input, or, in parts, of what identifies them.
func (k *check) evalKey(key []byte, input func() map[string]any) verdict {
	return k.evalKeyAs(key, "", "", input)
}

// evalKeyAs is evalKey for a key that stands for a class of real servers'
// addresses, of which subject is the one input names: a verdict kept for
// another address of the class is given with subject in its place. With
// host, the class is of real servers given as declared hosts, whose input
// names its host hostSentinel (hostclass.go): the verdict is given with
// host in the sentinel's place.
func (k *check) evalKeyAs(key []byte, subject, host string, input func() map[string]any) verdict {
	k.mu.Lock()
	v, ok := k.m[string(key)]
	k.mu.Unlock()
	if !ok {
		v = k.evaluate(input())
		v.subject = subject
		k.mu.Lock()
		k.m[string(key)] = v
		k.mu.Unlock()
	}
	v = v.renamed(v.subject, subject)
	if host != "" {
		v = v.withHost(host)
	}
	return v
}

func (k *check) evaluate(input map[string]any) verdict {
	// The whole input in one unification (the empty path: the check
	// itself): a FillPath per field of the input evaluated the check
	// again for each.
	filled := k.def.FillPath(cue.Path{}, input)
	rules := filled.LookupPath(cue.ParsePath("rules"))
	var v verdict
	// All rules in one decode; only when one of them cannot evaluate are
	// they read one by one, to find it and keep the others' issues.
	var all map[string][]rawIssue
	if err := rules.Decode(&all); err == nil {
		for _, id := range k.ids {
			for _, is := range all[id] {
				v.issues = append(v.issues, ruleIssue{id, is})
			}
		}
		return v
	}
	for _, id := range k.ids {
		var issues []rawIssue
		if err := rules.LookupPath(cue.MakePath(cue.Str(id))).Decode(&issues); err != nil {
			v.failed = append(v.failed, ruleFailure{id, err.Error()})
			continue
		}
		for _, is := range issues {
			v.issues = append(v.issues, ruleIssue{id, is})
		}
	}
	return v
}

// checks are the rule checks of the schema.
type checks struct {
	service, real, reals, weights, health *check
}

// checkVerdicts are the verdicts of the five checks, shared by the
// evaluators of a compilation.
type checkVerdicts struct {
	service, real, reals, weights, health verdicts
}

// size is the number of verdicts kept.
func (vs *checkVerdicts) size() int {
	return vs.service.len() + vs.real.len() + vs.reals.len() + vs.weights.len() + vs.health.len()
}

func newChecks(schema cue.Value, vs *checkVerdicts) (*checks, error) {
	var cs checks
	var err error
	if cs.service, err = newCheck(schema, "#ServiceCheck", &vs.service); err != nil {
		return nil, err
	}
	if cs.real, err = newCheck(schema, "#RealCheck", &vs.real); err != nil {
		return nil, err
	}
	if cs.reals, err = newCheck(schema, "#RealsCheck", &vs.reals); err != nil {
		return nil, err
	}
	if cs.weights, err = newCheck(schema, "#WeightsCheck", &vs.weights); err != nil {
		return nil, err
	}
	if cs.health, err = newCheck(schema, "#CheckIssues", &vs.health); err != nil {
		return nil, err
	}
	return &cs, nil
}

// ids lists every rule id of the checks.
func (cs *checks) ids() []string {
	var ids []string
	for _, k := range []*check{cs.service, cs.real, cs.reals, cs.weights, cs.health} {
		ids = append(ids, k.ids...)
	}
	return ids
}

// clusterFacts is what #RealCheck needs of a cluster, with its encoding
// computed once per compile.
func clusterFacts(cl *model.Cluster, directors []*model.Host) map[string]any {
	f := map[string]any{
		"directors":      hostFactsList(directors),
		"clientNetworks": []string{},
	}
	if cl == nil {
		return f
	}
	f["name"] = cl.Name
	if cl.NATGateway.IsValid() {
		f["natGateway"] = cl.NATGateway.String()
	}
	if cl.NATGateway6.IsValid() {
		f["natGateway6"] = cl.NATGateway6.String()
	}
	var nets []string
	for _, p := range cl.ClientNetworks {
		nets = append(nets, p.String())
	}
	if nets != nil {
		f["clientNetworks"] = nets
	}
	return f
}

// ruleInput is what compileService knows about a service when it runs the
// rules: the user's service without the fields the schema rejected, as
// JSON-like data, and what was resolved around it.
type ruleInput struct {
	resolved
	base cue.Path
	data map[string]any
	// hasVIP: the service has a vip the schema accepted.
	hasVIP bool
	// shapeOK: the schema found nothing wrong with the service, so a
	// rule that cannot evaluate is a bug in the rule.
	shapeOK bool
	dropped []string
}

// runRules evaluates the checks on one service and records their
// issues as diagnostics.
func (c *compilation) runRules(in ruleInput) {
	in.data = withoutBrokenChecks(in.data, in.dropped)
	c.checkServiceAddresses(in)
	report := func(v verdict, prefix string, keep func(ruleIssue) bool) {
		for _, f := range v.failed {
			// A rule that cannot evaluate reads a field the schema has
			// already reported as wrong; its verdict would be noise.
			// On a well-formed service it is a bug in the rule.
			if in.shapeOK {
				c.errorf("internal", in.base, "", "this is a bug in lvsgen's schema; please report it with the config", "rule %s could not be evaluated: %v", f.rule, f.err)
			}
		}
		for _, is := range v.issues {
			if keep != nil && !keep(is) {
				continue
			}
			path := joinPath(prefix, is.Path)
			if related(path, in.dropped) {
				continue
			}
			sev := diag.Error
			if is.Severity == "warning" {
				sev = diag.Warning
			}
			var related []diag.Related
			for _, r := range is.Related {
				related = append(related, c.relatedValue(cue.MakePath(strSels(r.At)...), r.Value, "%s", r.Message))
			}
			if is.rule == "tunnel-mtu" {
				related = append(related, c.mtuRelated(in)...)
			}
			c.addIssue(sev, is.rule, in.base, path, is.Message, is.Hint, related...)
		}
	}

	// The service's own fields; the rules need the VIP's family, not the
	// VIP, and nothing of cluster, reals, waivers or drain timeouts.
	svc := map[string]any{}
	for k, v := range in.data {
		switch k {
		case "vip", "cluster", "reals", "waive", "drainTimeout":
			continue
		}
		svc[k] = v
	}
	ctx := map[string]any{"managedReals": false, "ipv6Reals": false, "realMTUs": []int{}}
	if in.hasVIP {
		ctx["vip"] = map[string]any{"family": in.family.String()}
	}
	if in.cluster != nil && in.cluster.PathMTU > 0 {
		ctx["pathMTU"] = in.cluster.PathMTU
	}
	mtus := []int{}
	for _, r := range in.refs {
		if !r.ok {
			continue
		}
		if r.addr.Is6() {
			ctx["ipv6Reals"] = true
		}
		if r.host != nil {
			if r.host.Managed {
				ctx["managedReals"] = true
			}
			if m := hostMTU(r.host); m > 0 {
				mtus = append(mtus, m)
			}
		}
	}
	ctx["realMTUs"] = mtus
	if at, ok := checkedAt(in.data); ok {
		ctx["checkedAt"] = at
	}
	// fullnat-snat needs the directors, and only it: other services'
	// inputs stay free of them, so that they share verdicts across
	// clusters.
	if _, ok := in.data["snat"]; ok && in.data["forwarding"] == "fullnat" && in.clusterFacts.facts != nil {
		ctx["directors"] = in.clusterFacts.facts["directors"]
	}
	report(c.ev.checks.service.eval(map[string]any{"service": svc, "ctx": ctx}), "", nil)

	// Each real server on its own.
	reals, _ := in.data["reals"].([]any)
	fwd, _ := in.data["forwarding"].(string)
	if fwd == "" {
		fwd = c.defaultForwarding
	}
	port := 0
	if p, ok := in.data["port"]; ok {
		port = toInt(p)
	}
	// #RealCheck's svc has the port only for a real server with its own.
	svcFacts := map[string]any{"forwarding": fwd, "family": in.family.String()}
	svcPortFacts := map[string]any{"forwarding": fwd, "family": in.family.String(), "port": port}
	// Each health check on its own: the service's, and each real
	// server's that replaces it. A check needs a port of its own where
	// the real servers have none: behind a fwmark or a port-0 service.
	_, fwmark := in.data["fwmark"]
	portless := fwmark || port == 0
	if sc, ok := in.data["check"].(map[string]any); ok {
		report(c.ev.checks.health.eval(map[string]any{"check": sc, "portless": portless}), "check", nil)
	}
	svcKey, svcPortKey := appendKey(nil, svcFacts), appendKey(nil, svcPortFacts)
	keys := make([]string, 0, len(in.refs))
	var weights weightSums
	var key, hostKey []byte
	var classes *addrClasses
	for i, ref := range in.refs {
		real, _ := reals[i].(map[string]any)
		weight, hasWeight := real["weight"]
		fact := c.realFacts(ref, in.family)
		// The weight is #WeightsCheck's business: left out here, a real
		// server behind many services is one input whatever its weights.
		// The key is the input's encoding, with numbers standing for the
		// host's and the cluster's facts.
		key = appendKeyWithout(key[:0], real, "weight")
		key = append(key, '|')
		svc, sk := svcFacts, svcKey
		if _, ok := real["port"]; ok {
			svc, sk = svcPortFacts, svcPortKey
		}
		key = append(key, sk...)
		key = append(key, '|')
		// A real server by bare address: its class of address stands
		// for it (addrclass.go), and its address is left out. One given
		// as a declared host: its address's class and its host's facts
		// without its identity (hostclass.go).
		subject, hostName := "", ""
		if ref.ok && classes == nil {
			classes = c.classes.cluster(in.clusterFacts)
		}
		if addr, _ := real["address"].(string); ref.ok && ref.host == nil && real["host"] == nil && addr == ref.addr.String() {
			if cl, ok := classes.class(ref.addr); ok {
				subject = addr
				key = appendKeyWithout(key[:0], real, "weight", "address")
				key = append(key, '|')
				key = append(key, sk...)
				key = append(key, "|a"...)
				key = append(key, cl...)
			}
		} else if ref.ok && ref.host != nil {
			var ok bool
			if hostKey, ok = c.classes.appendHostKey(hostKey[:0], classes, in.clusterFacts.id, real, ref, fact, sk); ok {
				key = append(key[:0], hostKey...)
				subject, hostName = ref.addr.String(), ref.host.Name
			}
		}
		if subject == "" {
			key = strconv.AppendInt(key, int64(fact.id), 10)
		}
		key = append(key, ',')
		key = strconv.AppendInt(key, int64(in.clusterFacts.id), 10)
		v := c.ev.checks.real.evalKeyAs(key, subject, hostName, func() map[string]any {
			if hostName != "" {
				return hostClassInput(real, fact.facts, svc, in.clusterFacts.facts)
			}
			return realCheckInput(real, fact.facts, svc, in.clusterFacts.facts)
		})
		// Issues about a real server that could not be resolved are
		// dropped, but for its own (its error is reported already).
		if len(v.issues) > 0 || len(v.failed) > 0 {
			report(v, fmt.Sprintf("reals[%d]", i), func(is ruleIssue) bool { return ref.ok || is.rule == "real-ref" })
		}
		if rc, ok := real["check"].(map[string]any); ok {
			ownPort := toInt(real["port"]) != 0
			report(c.ev.checks.health.eval(map[string]any{"check": rc, "portless": portless && !ownPort}), fmt.Sprintf("reals[%d].check", i), nil)
		}

		p := port
		if rp, ok := real["port"]; ok {
			p = toInt(rp)
		}
		keys = append(keys, netip.AddrPortFrom(realFactsAddr(ref, in.family), uint16(p)).String())
		weights.add(weight, hasWeight)
	}
	// The sorry server is checked as a real server is, under the same
	// rules, and must not be one of them.
	var sorryKey string
	if sorry, ok := in.data["sorry"].(map[string]any); ok && in.sorry != nil {
		ref := *in.sorry
		fact := c.realFacts(ref, in.family)
		svc := svcFacts
		if _, ok := sorry["port"]; ok {
			svc = svcPortFacts
		}
		v := c.ev.checks.real.eval(map[string]any{"real": sorry, "fact": fact.facts, "svc": svc, "cluster": in.clusterFacts.facts})
		report(v, "sorry", func(is ruleIssue) bool { return ref.ok || is.rule == "real-ref" })
		if ref.ok {
			p := port
			if sp, ok := sorry["port"]; ok {
				p = toInt(sp)
			}
			sorryKey = netip.AddrPortFrom(ref.addr, uint16(p)).String()
		}
	}
	notUnresolved := func(is ruleIssue) bool {
		if m := realIndex.FindStringSubmatch(is.Path); m != nil {
			if i, _ := strconv.Atoi(m[1]); i < len(in.refs) && !in.refs[i].ok {
				return false
			}
		}
		return true
	}
	realsInput := map[string]any{"shared": sharedKeys(keys, sorryKey)}
	if sorryKey != "" {
		realsInput["sorry"] = sorryKey
	}
	report(c.ev.checks.reals.eval(realsInput), "", notUnresolved)
	quorum, hasQuorum := in.data["quorum"]
	report(c.ev.checks.weights.eval(weights.input(quorum, hasQuorum)), "", notUnresolved)
}

// realCheckInput is #RealCheck's input for a real server: its entry
// without its weight (#WeightsCheck's business), its facts, and what the
// rules need of its service and cluster.
func realCheckInput(real, fact, svc, cluster map[string]any) map[string]any {
	own := make(map[string]any, len(real))
	for k, v := range real {
		if k != "weight" {
			own[k] = v
		}
	}
	return map[string]any{"real": own, "fact": fact, "svc": svc, "cluster": cluster}
}

// weightSums is #WeightsCheck's input: how many real servers set no
// weight, and how many set one, the largest and their sum.
type weightSums struct {
	unset, set int
	max, sum   int64
	// odd is a weight that is not an integer, which the schema would
	// have refused: given to the check as set's max, it makes the rules
	// fail to evaluate (a bug, reported) rather than count as a number.
	odd any
}

// add counts a real server's weight; set is false for one that sets none.
func (ws *weightSums) add(weight any, set bool) {
	if !set {
		ws.unset++
		return
	}
	w, ok := intValue(weight)
	if !ok {
		ws.odd = weight
		return
	}
	if ws.set == 0 || w > ws.max {
		ws.max = w
	}
	ws.set++
	ws.sum += w
}

// input is the check's input, with the service's quorum if it has one.
func (ws *weightSums) input(quorum any, hasQuorum bool) map[string]any {
	var top any = ws.max
	if ws.odd != nil {
		top = ws.odd
	}
	in := map[string]any{"unset": ws.unset, "set": map[string]any{"count": ws.set, "max": top, "sum": ws.sum}}
	if hasQuorum {
		in["quorum"] = quorum
	}
	return in
}

// intValue reads an integer from decoded JSON-like data.
func intValue(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true
		}
	}
	return 0, false
}

// strSels makes a path's selectors of its labels.
func strSels(labels []string) []cue.Selector {
	sels := make([]cue.Selector, len(labels))
	for i, l := range labels {
		sels[i] = cue.Str(l)
	}
	return sels
}

// mtuRelated is where the smallest MTU between a tunnel service's
// directors and real servers was declared: the cluster's pathMTU or a
// real server's interface.
func (c *compilation) mtuRelated(in ruleInput) []diag.Related {
	mtu, at := 0, cue.Path{}
	if in.cluster != nil && in.cluster.PathMTU > 0 {
		mtu, at = in.cluster.PathMTU, cue.MakePath(cue.Str("clusters"), cue.Str(in.cluster.Name), cue.Str("pathMTU"))
	}
	for _, r := range in.refs {
		if !r.ok || r.host == nil {
			continue
		}
		for _, ifc := range r.host.Interfaces {
			if ifc.MTU > 0 && (mtu == 0 || ifc.MTU < mtu) {
				mtu, at = ifc.MTU, cue.MakePath(cue.Str("hosts"), cue.Str(r.host.Name), cue.Str("interfaces"), cue.Str(ifc.Name), cue.Str("mtu"))
			}
		}
	}
	if mtu == 0 {
		return nil
	}
	return []diag.Related{c.relatedAt(at, "MTU %d declared here (%s), the smallest on the tunnel's path", mtu, at)}
}

// checkedAt returns the path of the first health check a real server of
// the service runs (its own, or the service's it inherits) and whether
// there is one. A check of type "none" runs none.
func checkedAt(data map[string]any) (string, bool) {
	runs := func(c any) bool {
		m, ok := c.(map[string]any)
		if !ok {
			return false
		}
		t, _ := m["type"].(string)
		return t != "" && t != "none"
	}
	svcCheck, hasSvcCheck := data["check"]
	reals, _ := data["reals"].([]any)
	for i, r := range reals {
		real, _ := r.(map[string]any)
		if own, ok := real["check"]; ok {
			if runs(own) {
				return fmt.Sprintf("reals[%d].check", i), true
			}
			continue
		}
		if hasSvcCheck && runs(svcCheck) {
			return "check", true
		}
	}
	return "", false
}

// withoutBrokenChecks returns data without the health checks the schema
// found a problem inside. A list element the schema rejected stands as {}
// in data (see without), which no constraint accepts: a check's expect
// list with one would fail every rule of the service. The check's own
// rules wait until it is fixed; data is not changed.
func withoutBrokenChecks(data map[string]any, dropped []string) map[string]any {
	broken := func(prefix string) bool {
		for _, d := range dropped {
			if strings.HasPrefix(d, prefix) {
				return true
			}
		}
		return false
	}
	if !broken("check.") && !broken("reals.") {
		return data
	}
	out := maps.Clone(data)
	if broken("check.") {
		delete(out, "check")
	}
	if reals, ok := data["reals"].([]any); ok {
		reals = slices.Clone(reals)
		for i, r := range reals {
			if m, ok := r.(map[string]any); ok && broken("reals."+strconv.Itoa(i)+".check.") {
				m = maps.Clone(m)
				delete(m, "check")
				reals[i] = m
			}
		}
		out["reals"] = reals
	}
	return out
}

// joinPath joins a prefix ("reals[1]") and a relative path ("port").
func joinPath(prefix, rel string) string {
	switch {
	case prefix == "":
		return rel
	case rel == "":
		return prefix
	}
	return prefix + "." + rel
}

// toInt reads a number from decoded JSON-like data.
func toInt(v any) int {
	if f, ok := v.(float64); ok {
		return int(f) // truncated, where intValue refuses a fraction
	}
	i, _ := intValue(v)
	return int(i)
}

func hostMTU(h *model.Host) int {
	mtu := 0
	for _, ifc := range h.Interfaces {
		if ifc.MTU > 0 && (mtu == 0 || ifc.MTU < mtu) {
			mtu = ifc.MTU
		}
	}
	return mtu
}

// appendKeyWithout is appendKey of m without its fields skip.
func appendKeyWithout(b []byte, m map[string]any, skip ...string) []byte {
	return appendMap(b, m, skip)
}

// appendMap is appendKey of m, leaving out the fields skip. Keys are
// sorted in a buffer on the stack: a key is built for every real server
// of every service, and a slice of keys each was a tenth of a compile's
// allocations.
func appendMap(b []byte, m map[string]any, skip []string) []byte {
	var buf [16]string
	keys := buf[:0]
	for k := range m {
		if !slices.Contains(skip, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
		b = appendKey(b, m[k])
	}
	return append(b, '}')
}

// appendList is appendKey of a list: its elements, each appended by elem,
// in brackets and separated by commas.
func appendList[T any](b []byte, xs []T, elem func([]byte, T) []byte) []byte {
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = elem(b, x)
	}
	return append(b, ']')
}

// appendKey appends a canonical encoding of JSON-like data to b: map keys
// sorted, strings quoted. It stands for the data in the checks' verdict
// caches and is a fraction of encoding/json's cost.
func appendKey(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return strconv.AppendQuote(b, v)
	case bool:
		return strconv.AppendBool(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case map[string]any:
		return appendMap(b, v, nil)
	case []any:
		return appendList(b, v, appendKey)
	case []string:
		return appendList(b, v, strconv.AppendQuote)
	case []int:
		return appendList(b, v, func(b []byte, x int) []byte { return strconv.AppendInt(b, int64(x), 10) })
	}
	// Anything else (a type the decoders do not produce) in full.
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Appendf(b, "%#v", v)
	}
	return append(b, j...)
}

// sharedKeys is #RealsCheck's shared: the real servers whose key another
// real server or the sorry server (sorry, "" for none) has too, with the
// index of the key's first real server.
func sharedKeys(keys []string, sorry string) []any {
	if len(keys) <= smallReals {
		// Most services: comparing pairs costs less than two maps.
		shared := []any{}
		for i, k := range keys {
			first, dup := i, false
			for j, o := range keys {
				if j != i && o == k {
					dup, first = true, min(first, j)
				}
			}
			if dup || (sorry != "" && k == sorry) {
				shared = append(shared, map[string]any{"at": i, "key": k, "first": first})
			}
		}
		return shared
	}
	first := firstIndexes(keys)
	n := make(map[string]int, len(keys))
	for _, k := range keys {
		n[k]++
	}
	shared := []any{}
	for i, k := range keys {
		if n[k] > 1 || (sorry != "" && k == sorry) {
			shared = append(shared, map[string]any{"at": i, "key": k, "first": first[i]})
		}
	}
	return shared
}

// smallReals is how many real servers sharedKeys compares pair by pair.
const smallReals = 16

// firstIndexes returns, for each key, the index of its first occurrence:
// #RealsCheck's first, which the schema's duplicate rule reads.
func firstIndexes(keys []string) []any {
	seen := make(map[string]int, len(keys))
	first := make([]any, len(keys))
	for i, k := range keys {
		j, ok := seen[k]
		if !ok {
			seen[k], j = i, i
		}
		first[i] = j
	}
	return first
}
