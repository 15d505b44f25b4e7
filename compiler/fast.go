package compiler

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/errors"

	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/model"
)

// shapes checks plain-data services against #Service value by value.
//
// Unifying a whole service with #Service costs CUE about half a
// millisecond however ordinary the service; the schema's constraints on
// each field, though, depend on that field alone (cross-field rules live in
// the rule checks). So each literal is unified with its field's constraint
// — by CUE, with CUE's messages — once per distinct (field, literal): a
// weight of 1 or a port of 80 is checked once per compile, not once per
// service. Closedness (a misspelt field) is the schema's Allows, required
// fields its own incompleteness, defaults its defaults.
type shapes struct {
	ctx *cue.Context

	mu       sync.Mutex
	subs     map[string]cue.Value // schema key → constraint
	leaves   map[string][]errors.Error
	values   map[string]any
	required map[string][]requiredField
}

type requiredField struct {
	name string
	// errs is the field's own error when it is missing (no default).
	errs []errors.Error
	// def is its default, when it has a concrete one.
	def    any
	hasDef bool
}

func newShapes(ctx *cue.Context) *shapes {
	return &shapes{ctx: ctx, subs: map[string]cue.Value{}, leaves: map[string][]errors.Error{}, values: map[string]any{}, required: map[string][]requiredField{}}
}

// sub is the constraint of field name in schema (key names schema).
func (s *shapes) sub(schema cue.Value, key, name string) (cue.Value, string) {
	k := key + "." + name
	s.mu.Lock()
	v, ok := s.subs[k]
	s.mu.Unlock()
	if ok {
		return v, k
	}
	v = schema.LookupPath(cue.MakePath(cue.Str(name)))
	if !v.Exists() {
		v = schema.LookupPath(cue.MakePath(cue.Str(name).Optional()))
	}
	if !v.Exists() {
		v = schema.LookupPath(cue.MakePath(cue.AnyString))
	}
	s.mu.Lock()
	s.subs[k] = v
	s.mu.Unlock()
	return v, k
}

func (s *shapes) elem(schema cue.Value, key string) (cue.Value, string) {
	k := key + ".*"
	s.mu.Lock()
	v, ok := s.subs[k]
	s.mu.Unlock()
	if ok {
		return v, k
	}
	v = schema.LookupPath(cue.MakePath(cue.AnyIndex))
	s.mu.Lock()
	s.subs[k] = v
	s.mu.Unlock()
	return v, k
}

// requiredOf lists schema's regular fields: the error each gives when
// missing, or its default.
func (s *shapes) requiredOf(schema cue.Value, key string) []requiredField {
	s.mu.Lock()
	r, ok := s.required[key]
	s.mu.Unlock()
	if ok {
		return r
	}
	r = []requiredField{}
	if it, err := schema.Fields(); err == nil {
		for it.Next() {
			f := requiredField{name: it.Selector().Unquoted()}
			v := it.Value()
			if d, ok := v.Default(); ok && d.Validate(cue.Concrete(true)) == nil && d.IncompleteKind()&(cue.StructKind|cue.ListKind) == 0 {
				f.hasDef = d.Decode(&f.def) == nil
			} else if v.IncompleteKind()&(cue.StructKind|cue.ListKind) == 0 {
				if err := v.Validate(cue.Concrete(true)); err != nil {
					f.errs = errors.Errors(err)
				}
			}
			r = append(r, f)
		}
	}
	s.mu.Lock()
	s.required[key] = r
	s.mu.Unlock()
	return r
}

// leaf unifies a literal with its constraint, once per (constraint,
// literal).
func (s *shapes) leaf(schema cue.Value, key string, n *node) []errors.Error {
	k := key + "\x00" + litText(n.expr)
	s.mu.Lock()
	errs, ok := s.leaves[k]
	s.mu.Unlock()
	if ok {
		return errs
	}
	errs = s.unify(schema, n)
	s.mu.Lock()
	s.leaves[k] = errs
	s.mu.Unlock()
	return errs
}

func (s *shapes) unify(schema cue.Value, n *node) []errors.Error {
	v := schema.Unify(s.ctx.BuildExpr(n.expr))
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return errors.Errors(err)
	}
	return nil
}

// value is a literal's Go value as CUE decodes it.
func (s *shapes) value(n *node) any {
	k := litText(n.expr)
	s.mu.Lock()
	v, ok := s.values[k]
	s.mu.Unlock()
	if ok {
		return v
	}
	_ = s.ctx.BuildExpr(n.expr).Decode(&v)
	s.mu.Lock()
	s.values[k] = v
	s.mu.Unlock()
	return v
}

// shapeIssue is a schema error at a path of the service.
type shapeIssue struct {
	path []string
	node *node // where to report
	errs []errors.Error
	msg  string // instead of errs
}

// check walks n against schema, appending every problem to out.
func (s *shapes) check(schema cue.Value, key string, n *node, path []string, out *[]shapeIssue) {
	kind := schema.IncompleteKind()
	switch {
	case n.kind == structNode && kind == cue.StructKind:
		for _, f := range n.fields {
			p := append(path[:len(path):len(path)], f.name)
			if !schema.Allows(cue.Str(f.name)) {
				at := &node{label: f.label}
				*out = append(*out, shapeIssue{path: p, node: at, msg: "field not allowed"})
				continue
			}
			sub, k := s.sub(schema, key, f.name)
			s.check(sub, k, f.val, p, out)
		}
		for _, r := range s.requiredOf(schema, key) {
			if r.errs != nil && n.byName[r.name] == nil {
				*out = append(*out, shapeIssue{path: append(path[:len(path):len(path)], r.name), node: n, errs: r.errs})
			}
		}
	case n.kind == listNode && kind == cue.ListKind:
		el, k := s.elem(schema, key)
		if !el.Exists() {
			if errs := s.unify(schema, n); errs != nil {
				*out = append(*out, shapeIssue{path: path, node: n, errs: errs})
			}
			return
		}
		for i, e := range n.elems {
			s.check(el, k, e, append(path[:len(path):len(path)], strconv.Itoa(i)), out)
		}
	case n.kind == leafNode:
		if errs := s.leaf(schema, key, n); errs != nil {
			*out = append(*out, shapeIssue{path: path, node: n, errs: errs})
		}
	default:
		if errs := s.unify(schema, n); errs != nil {
			*out = append(*out, shapeIssue{path: path, node: n, errs: errs})
		}
	}
}

// data is n as JSON-like Go data, without the dropped paths (dotted, list
// indices as numbers); a dropped list element becomes an empty struct so
// that indices stay aligned.
func (s *shapes) data(n *node, at string, dropped []string) any {
	join := func(p string) string {
		if at == "" {
			return p
		}
		return at + "." + p
	}
	switch n.kind {
	case structNode:
		m := make(map[string]any, len(n.fields))
		for _, f := range n.fields {
			p := join(f.name)
			if !slices.Contains(dropped, p) {
				m[f.name] = s.data(f.val, p, dropped)
			}
		}
		return m
	case listNode:
		l := make([]any, 0, len(n.elems))
		for i, e := range n.elems {
			p := join(strconv.Itoa(i))
			if slices.Contains(dropped, p) {
				l = append(l, map[string]any{})
				continue
			}
			l = append(l, s.data(e, p, dropped))
		}
		return l
	}
	return s.value(n)
}

// withDefaults fills the schema's defaults into data, as unifying with
// the schema would: missing fields that have one, in nested structs and
// in list elements.
func (s *shapes) withDefaults(schema cue.Value, key string, data any) {
	switch d := data.(type) {
	case map[string]any:
		if schema.IncompleteKind() != cue.StructKind {
			return
		}
		for _, r := range s.requiredOf(schema, key) {
			if _, ok := d[r.name]; !ok && r.hasDef {
				d[r.name] = r.def
			}
		}
		for name, v := range d {
			sub, k := s.sub(schema, key, name)
			if sub.Exists() {
				s.withDefaults(sub, k, v)
			}
		}
	case []any:
		if schema.IncompleteKind() != cue.ListKind {
			return
		}
		el, k := s.elem(schema, key)
		if !el.Exists() {
			return
		}
		for _, v := range d {
			s.withDefaults(el, k, v)
		}
	}
}

// compileServiceTree is compileService for a service read from a tree.
func (c *compilation) compileServiceTree(name string, n *node, cfg *model.Config) *model.Service {
	base := cue.MakePath(cue.Str("services"), cue.Str(name))
	before := len(c.diags)

	str := func(n *node, field string) (string, bool) {
		f := n.byName[field]
		if f == nil || f.val.kind != leafNode {
			return "", false
		}
		v, ok := c.shapes.value(f.val).(string)
		return v, ok
	}
	if n.kind != structNode {
		n = &node{expr: n.expr, label: n.label, kind: n.kind, byName: map[string]*field{}}
	}
	var names serviceNames
	names.vip, names.hasVIP = str(n, "vip")
	names.family, _ = str(n, "family")
	names.cluster, names.hasCluster = str(n, "cluster")
	if rf := n.byName["reals"]; rf != nil && rf.val.kind == listNode {
		for _, e := range rf.val.elems {
			var sp realSpec
			if e.kind == structNode {
				sp.host, sp.hasHost = str(e, "host")
				sp.addr, sp.hasAddr = str(e, "address")
			}
			names.reals = append(names.reals, sp)
		}
	}
	res := c.resolveService(base, names, cfg)

	var issues []shapeIssue
	c.shapes.check(c.serviceDef, "#Service", n, nil, &issues)
	var dropped []string
	for _, is := range issues {
		dropped = append(dropped, strings.Join(is.path, "."))
		sels := base.Selectors()
		for _, p := range is.path {
			if i, err := strconv.Atoi(p); err == nil {
				sels = append(sels, cue.Index(i))
			} else {
				sels = append(sels, cue.Str(p))
			}
		}
		path := cue.MakePath(sels...)
		msg := is.msg
		pos := is.node.pos()
		if is.errs != nil {
			msg, _ = bestMessage(is.errs)
		}
		c.diags = append(c.diags, diag.Diagnostic{
			Rule:    "schema",
			Pos:     toPos(pos),
			Path:    path.String(),
			Message: msg,
			Hint:    c.hintFor(path, msg),
		})
	}
	data, _ := c.shapes.data(n, "", dropped).(map[string]any)
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
	c.shapes.withDefaults(c.serviceDef, "#Service", data)
	b, err := json.Marshal(data)
	var r rawService
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil {
		c.errorf("schema", base, "", "", "decoding service: %v", err)
		return nil
	}
	return res.build(name, r)
}
