package compiler

import (
	"crypto/sha256"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"cuelang.org/go/cue"

	"github.com/lvsgen/lvsgen/compiler/internal/plaindata"
	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/model"
)

// compileServiceTree is compileService for a service read from a tree.
func (c *compilation) compileServiceTree(name string, n *plaindata.Node, cfg *model.Config) *model.Service {
	base := cue.MakePath(cue.Str("services"), cue.Str(name))
	before := len(c.diags)

	str := func(n *plaindata.Node, field string) (string, bool) {
		f := n.Get(field)
		if f == nil || f.Val.Kind() != plaindata.Leaf {
			return "", false
		}
		v, ok := c.ev.shapes.Value(f.Val).(string)
		return v, ok
	}
	var names serviceNames
	names.vip, names.hasVIP = str(n, "vip")
	names.family, _ = str(n, "family")
	names.cluster, names.hasCluster = str(n, "cluster")
	if rf := n.Get("reals"); rf != nil && rf.Val.Kind() == plaindata.List {
		for _, e := range rf.Val.Elems() {
			var sp realSpec
			if e.Kind() == plaindata.Struct {
				sp.host, sp.hasHost = str(e, "host")
				sp.addr, sp.hasAddr = str(e, "address")
			}
			names.reals = append(names.reals, sp)
		}
	}
	if sf := n.Get("sorry"); sf != nil {
		var sp realSpec
		if sf.Val.Kind() == plaindata.Struct {
			sp.host, sp.hasHost = str(sf.Val, "host")
			sp.addr, sp.hasAddr = str(sf.Val, "address")
		}
		names.sorry = &sp
	}
	res := c.resolveService(base, names, cfg)

	var issues []plaindata.Issue
	c.ev.shapes.Check(c.ev.serviceShape, n, make([]string, 0, 4), &issues)
	var dropped []string
	for _, is := range issues {
		dropped = append(dropped, strings.Join(is.Path, "."))
		sels := base.Selectors()
		for _, p := range is.Path {
			if i, err := strconv.Atoi(p); err == nil {
				sels = append(sels, cue.Index(i))
			} else {
				sels = append(sels, cue.Str(p))
			}
		}
		path := cue.MakePath(sels...)
		hint := c.hintFor(path, is.Msg)
		c.diags = append(c.diags, diag.Diagnostic{
			Rule:    "schema",
			Pos:     toPos(is.Node.Pos()),
			Path:    path.String(),
			Message: is.Msg,
			Hint:    hint,
		})
	}
	data, _ := c.ev.shapes.Data(n, dropped).(map[string]any)
	c.runRules(ruleInput{
		resolved: res,
		base:     base,
		data:     data,
		hasVIP:   names.hasVIP && !slices.Contains(dropped, "vip"),
		shapeOK:  len(issues) == 0,
		dropped:  dropped,
	})
	if diag.List(c.diags[before:]).HasErrors() {
		return nil
	}
	c.ev.shapes.WithDefaults(c.ev.serviceShape, data)
	return c.buildDecoded(base, name, res, data)
}

// plainServices reports whether the tree's services can be checked one by
// one: services is a struct of services with valid names. A config where
// it is not is evaluated by CUE as a whole, which reports the mistake.
func (c *compilation) plainServices(t *plaindata.Node) bool {
	f := t.Get("services")
	if f == nil {
		return true
	}
	if f.Val.Kind() != plaindata.Struct {
		return false
	}
	// All new names in one evaluation: 10,000 small ones cost more. A
	// name found valid stays valid.
	var names []string
	for _, sf := range f.Val.Fields() {
		if !c.cc.validNames[sf.Name] {
			names = append(names, sf.Name)
		}
	}
	if len(names) == 0 {
		return true
	}
	if re := namePattern(c.ev.schema); re != nil {
		// #Name is one regular expression, which CUE matches with Go's
		// regexp: the same match here, without 10,000 CUE values.
		for _, n := range names {
			if !re.MatchString(n) {
				return false
			}
		}
	} else if !c.namesValid(names) {
		return false
	}
	if c.cc.validNames == nil {
		c.cc.validNames = map[string]bool{}
	}
	for _, n := range names {
		c.cc.validNames[n] = true
	}
	return true
}

// compileServices compiles the services of a tree, and those of the
// files the memo gave (c.memoFiles), which have no tree. Services are
// independent: each is compiled on its own, on every core, into its own
// diagnostics, which are then taken in the order the services were
// written. A service whose tree and world (hosts, clusters) are those of
// the previous compile keeps its result; with a memo (ServiceMemo), one
// whose key it holds is taken from it.
func (c *compilation) compileServices(fields []*plaindata.Field, cfg *model.Config) (compiled int) {
	cc := c.cc
	memo := c.opts.Memo
	// The services of files the memo gave: by name and digest. A name
	// also written elsewhere would be unified with it by CUE, which the
	// memo does not know: the compile is done again, reading every file
	// (memoMiss).
	fromTree := len(fields)
	var digests [][sha256.Size]byte
	if len(c.memoFiles) > 0 {
		seen := make(map[string]bool, len(fields))
		for _, f := range fields {
			seen[f.Name] = true
		}
		digests = make([][sha256.Size]byte, len(fields))
		for _, fs := range c.memoFiles {
			for i, name := range fs.Names {
				if seen[name] {
					c.memoMiss = true
					return 0
				}
				seen[name] = true
				fields = append(fields, &plaindata.Field{Name: name})
				digests = append(digests, fs.Digests[i])
			}
		}
	}
	out := make([]serviceResult, len(fields))
	kept := make([]bool, len(fields))
	for i, f := range fields[:fromTree] {
		out[i], kept[i] = cc.services[serviceKey{f.Name, f.Val}]
	}
	// With a memo, every service gets its key, and one the memo holds
	// is taken from it; the others are compiled.
	var keys []ServiceKey
	var hit []bool
	if memo != nil {
		keys, hit = make([]ServiceKey, len(fields)), make([]bool, len(fields))
		if digests == nil {
			digests = make([][sha256.Size]byte, len(fields))
		}
		parallel(len(fields), func(_, i int) {
			if i < fromTree {
				digests[i] = digestOf(fields[i].Val)
			}
			keys[i] = serviceKeyOf(c.worldSum, fields[i].Name, digests[i])
			if !kept[i] {
				if svc := memo.Service(keys[i]); svc != nil {
					out[i], hit[i] = serviceResult{svc: svc}, true
				}
			}
		})
		c.digests = make(map[*plaindata.Node][sha256.Size]byte, fromTree)
		for i, f := range fields[:fromTree] {
			c.digests[f.Val] = digests[i]
		}
		for i := fromTree; i < len(fields); i++ {
			if !hit[i] {
				// A file the memo gave whose service it does not
				// hold (another world): every file is read.
				c.memoMiss = true
				return 0
			}
		}
	}
	var todo []int
	for i := range fields {
		if !kept[i] && (hit == nil || !hit[i]) {
			todo = append(todo, i)
		}
	}
	evs, err := cc.evaluators(len(todo))
	if err != nil {
		c.errorf("internal", pathServices, "", "", "loading the schema: %v", err)
		return 0
	}
	parallelN(len(evs), len(todo), func(worker, j int) {
		i := todo[j]
		w := *c
		w.ev = evs[worker]
		w.diags = nil
		out[i].svc = w.compileServiceTree(fields[i].Name, fields[i].Val, cfg)
		out[i].diags = w.diags
	})
	if memo != nil {
		c.serviceKeys = make(map[string]ServiceKey, len(fields))
		c.fromMemo = make(map[*model.Service]bool, len(fields))
		for i, r := range out {
			if hit[i] {
				c.memoHits++
				c.fromMemo[r.svc] = true
			}
			if r.svc != nil && len(r.diags) == 0 {
				c.serviceKeys[fields[i].Name] = keys[i]
			}
		}
	}
	// A service compiled again to the same model (a file's other
	// services when one was edited) keeps its old *model.Service: host
	// states know their services by pointer.
	if len(todo) > 0 && cc.services != nil {
		prev := make(map[string]*model.Service, len(cc.services))
		for k, r := range cc.services {
			if r.svc != nil {
				prev[k.name] = r.svc
			}
		}
		for _, i := range todo {
			if old := prev[fields[i].Name]; old != nil && out[i].svc != nil && reflect.DeepEqual(old, out[i].svc) {
				out[i].svc = old
			}
		}
	}
	cc.services = make(map[serviceKey]serviceResult, len(fields))
	for i, r := range out {
		// A diagnostic with a related position points into the hosts
		// and clusters, whose lines may move while the world they
		// describe stays the same: such a result is not kept. Nor is
		// a service without a tree (from a file the memo gave).
		if i < fromTree && !slices.ContainsFunc(r.diags, func(d diag.Diagnostic) bool { return len(d.Related) > 0 }) {
			cc.services[serviceKey{fields[i].Name, fields[i].Val}] = r
		}
		c.diags = append(c.diags, r.diags...)
		if r.svc != nil {
			cfg.Services = append(cfg.Services, r.svc)
		}
	}
	return len(todo)
}

// serviceKey identifies a service's text: a file's parse is kept while
// the file is unchanged, and with it the service's tree.
type serviceKey struct {
	name string
	n    *plaindata.Node
}

// serviceResult is what compiling one service gave: its model when it is
// valid, and its diagnostics.
type serviceResult struct {
	svc   *model.Service
	diags diag.List
}

// namesValid reports whether CUE finds every name a #Name: all in one
// evaluation on each evaluator, a part each (10,000 small ones cost more).
func (c *compilation) namesValid(names []string) bool {
	evs, err := c.cc.evaluators(len(names))
	if err != nil {
		return false
	}
	var bad atomic.Bool
	per := (len(names) + len(evs) - 1) / len(evs)
	parallelN(len(evs), len(evs), func(_, i int) {
		part := names[min(i*per, len(names)):min((i+1)*per, len(names))]
		ev := evs[i]
		list := ev.ctx.CompileString("[...#Name]", cue.Scope(ev.schema))
		if list.Unify(ev.ctx.Encode(part)).Validate() != nil {
			bad.Store(true)
		}
	})
	return !bad.Load()
}

// namePattern returns #Name's regular expression when #Name is exactly
// one (=~"..."), or nil when it is anything else and CUE must judge names.
func namePattern(schema cue.Value) *regexp.Regexp {
	op, args := schema.LookupPath(cue.ParsePath("#Name")).Expr()
	if op != cue.RegexMatchOp || len(args) != 1 {
		return nil
	}
	pat, err := args[0].String()
	if err != nil {
		return nil
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil
	}
	return re
}
