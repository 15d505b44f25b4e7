package compiler

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"

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
//
// What CUE said is kept on a tree of shapes, one per schema position, so
// that a service that repeats what others said costs map lookups. Shapes
// belong to one evaluator and are used by one goroutine at a time; the Go
// values of literals are shared by all.
type shapes struct {
	ctx    *cue.Context
	values *valueMemo
	// leaves counts the verdicts kept on the shapes.
	leaves int
}

// valueMemo keeps the Go value of each literal, for every evaluator.
type valueMemo struct {
	mu sync.RWMutex
	m  map[litKey]any
}

func (m *valueMemo) size() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.m)
}

// shape is one position of the schema (#Service, one of its fields, a
// list's elements) with what checking data against it has learned.
type shape struct {
	v    cue.Value
	kind cue.Kind

	// fields maps a field name to its shape; nil for a name the schema
	// does not allow.
	fields   map[string]*shape
	elem     *shape
	required []requiredField
	leaves   map[litKey]leafVerdict
	// elemDone and requiredDone: elem and required are known.
	elemDone, requiredDone bool
}

// litKey identifies a literal as written: its token, sign and text.
type litKey struct {
	tok token.Token
	neg bool
	val string
}

func keyOf(x ast.Expr) litKey {
	switch x := x.(type) {
	case *ast.BasicLit:
		return litKey{tok: x.Kind, val: x.Value}
	case *ast.UnaryExpr:
		k := keyOf(x.X)
		k.neg = !k.neg
		return k
	}
	return litKey{}
}

// leafVerdict is CUE's verdict on a literal: the message of its error,
// if any.
type leafVerdict struct {
	bad bool
	msg string
}

type requiredField struct {
	name string
	// msg is the field's own error when it is missing (no default); ""
	// when missing is fine.
	msg string
	// def is its default, when it has a concrete one.
	def    any
	hasDef bool
}

func newShapes(ctx *cue.Context, values *valueMemo) *shapes {
	return &shapes{ctx: ctx, values: values}
}

func newShape(v cue.Value) *shape {
	return &shape{v: v, kind: v.IncompleteKind(), fields: map[string]*shape{}, leaves: map[litKey]leafVerdict{}}
}

// field returns the shape of field name of sh, or false when the schema
// does not allow it.
func (s *shapes) field(sh *shape, name string) (*shape, bool) {
	f, ok := sh.fields[name]
	if ok {
		return f, f != nil
	}
	if sh.v.Allows(cue.Str(name)) {
		v := sh.v.LookupPath(cue.MakePath(cue.Str(name)))
		if !v.Exists() {
			v = sh.v.LookupPath(cue.MakePath(cue.Str(name).Optional()))
		}
		if !v.Exists() {
			v = sh.v.LookupPath(cue.MakePath(cue.AnyString))
		}
		f = newShape(v)
	}
	sh.fields[name] = f
	return f, f != nil
}

// elemOf returns the shape of sh's list elements, or nil when the schema
// says nothing of them.
func (s *shapes) elemOf(sh *shape) *shape {
	if !sh.elemDone {
		if v := sh.v.LookupPath(cue.MakePath(cue.AnyIndex)); v.Exists() {
			sh.elem = newShape(v)
		}
		sh.elemDone = true
	}
	return sh.elem
}

// requiredOf lists sh's regular fields: the error each gives when
// missing, or its default.
func (s *shapes) requiredOf(sh *shape) []requiredField {
	if sh.requiredDone {
		return sh.required
	}
	r := []requiredField{}
	if it, err := sh.v.Fields(); err == nil {
		for it.Next() {
			f := requiredField{name: it.Selector().Unquoted()}
			v := it.Value()
			if d, ok := v.Default(); ok && d.Validate(cue.Concrete(true)) == nil && d.IncompleteKind()&(cue.StructKind|cue.ListKind) == 0 {
				f.hasDef = d.Decode(&f.def) == nil
			} else if v.IncompleteKind()&(cue.StructKind|cue.ListKind) == 0 {
				if err := v.Validate(cue.Concrete(true)); err != nil {
					f.msg, _ = bestMessage(errors.Errors(err))
				}
			}
			r = append(r, f)
		}
	}
	sh.required, sh.requiredDone = r, true
	return r
}

// leaf unifies a literal with its constraint, once per (constraint,
// literal).
func (s *shapes) leaf(sh *shape, n *node) leafVerdict {
	k := keyOf(n.expr)
	v, ok := sh.leaves[k]
	if !ok {
		v = s.unify(sh, n)
		sh.leaves[k] = v
		s.leaves++
	}
	return v
}

func (s *shapes) unify(sh *shape, n *node) leafVerdict {
	v := sh.v.Unify(s.ctx.BuildExpr(n.toExpr()))
	if err := v.Validate(cue.Concrete(true)); err != nil {
		msg, _ := bestMessage(errors.Errors(err))
		return leafVerdict{bad: true, msg: msg}
	}
	return leafVerdict{}
}

// value is a literal's Go value as CUE decodes it.
func (s *shapes) value(n *node) any {
	if v, ok := plainLiteral(n.expr); ok {
		return v
	}
	k := keyOf(n.expr)
	s.values.mu.RLock()
	v, ok := s.values.m[k]
	s.values.mu.RUnlock()
	if ok {
		return v
	}
	_ = s.ctx.BuildExpr(n.expr).Decode(&v)
	s.values.mu.Lock()
	s.values.m[k] = v
	s.values.mu.Unlock()
	return v
}

// plainLiteral decodes the common literals as CUE does — strings with
// CUE's own unquoting, integers that fit an int64 with its own number
// parser, booleans and null — without a trip through the evaluator, which
// costs more than the rest of a service when every VIP is a new literal.
// Anything else (bytes, floats, huge numbers) is left to CUE.
func plainLiteral(x ast.Expr) (any, bool) {
	neg := false
	if u, ok := x.(*ast.UnaryExpr); ok {
		neg, x = true, u.X
	}
	l, ok := x.(*ast.BasicLit)
	if !ok {
		return nil, false
	}
	switch l.Kind {
	case token.STRING:
		q, start, _, err := literal.ParseQuotes(l.Value, l.Value)
		if err != nil || !q.IsDouble() || neg {
			return nil, false
		}
		v, err := q.Unquote(l.Value[start:])
		return v, err == nil
	case token.INT:
		var num literal.NumInfo
		if literal.ParseNum(l.Value, &num) != nil || !num.IsInt() {
			return nil, false
		}
		i, err := strconv.ParseInt(num.String(), 10, 64)
		if err != nil {
			return nil, false
		}
		if neg {
			i = -i
		}
		return i, true
	case token.TRUE, token.FALSE:
		return l.Kind == token.TRUE && !neg, !neg
	case token.NULL:
		return nil, !neg
	}
	return nil, false
}

// shapeIssue is a schema error at a path of the service.
type shapeIssue struct {
	path []string
	node *node // where to report
	msg  string
}

// check walks n against sh, appending every problem to out.
func (s *shapes) check(sh *shape, n *node, path []string, out *[]shapeIssue) {
	switch {
	case n.kind == structNode && sh.kind == cue.StructKind:
		for _, f := range n.fields {
			fs, ok := s.field(sh, f.name)
			if !ok {
				p := append(path[:len(path):len(path)], f.name)
				*out = append(*out, shapeIssue{path: p, node: &node{label: f.label}, msg: "field not allowed"})
				continue
			}
			s.check(fs, f.val, append(path, f.name), out)
		}
		for _, r := range s.requiredOf(sh) {
			if r.msg != "" && n.get(r.name) == nil {
				*out = append(*out, shapeIssue{path: append(path[:len(path):len(path)], r.name), node: n, msg: r.msg})
			}
		}
	case n.kind == listNode && sh.kind == cue.ListKind:
		el := s.elemOf(sh)
		if el == nil {
			if v := s.unify(sh, n); v.bad {
				*out = append(*out, shapeIssue{path: slices.Clone(path), node: n, msg: v.msg})
			}
			return
		}
		for i, e := range n.elems {
			s.check(el, e, append(path, strconv.Itoa(i)), out)
		}
	case n.kind == leafNode:
		if v := s.leaf(sh, n); v.bad {
			*out = append(*out, shapeIssue{path: slices.Clone(path), node: n, msg: v.msg})
		}
	default:
		if v := s.unify(sh, n); v.bad {
			*out = append(*out, shapeIssue{path: slices.Clone(path), node: n, msg: v.msg})
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
			if len(dropped) == 0 {
				m[f.name] = s.data(f.val, "", nil)
				continue
			}
			p := join(f.name)
			if !slices.Contains(dropped, p) {
				m[f.name] = s.data(f.val, p, dropped)
			}
		}
		return m
	case listNode:
		l := make([]any, 0, len(n.elems))
		for i, e := range n.elems {
			if len(dropped) == 0 {
				l = append(l, s.data(e, "", nil))
				continue
			}
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
func (s *shapes) withDefaults(sh *shape, data any) {
	switch d := data.(type) {
	case map[string]any:
		if sh.kind != cue.StructKind {
			return
		}
		for _, r := range s.requiredOf(sh) {
			if _, ok := d[r.name]; !ok && r.hasDef {
				d[r.name] = r.def
			}
		}
		for name, v := range d {
			if fs, ok := s.field(sh, name); ok && fs.v.Exists() {
				s.withDefaults(fs, v)
			}
		}
	case []any:
		if sh.kind != cue.ListKind {
			return
		}
		el := s.elemOf(sh)
		if el == nil {
			return
		}
		for _, v := range d {
			s.withDefaults(el, v)
		}
	}
}

// compileServiceTree is compileService for a service read from a tree.
func (c *compilation) compileServiceTree(name string, n *node, cfg *model.Config) *model.Service {
	base := cue.MakePath(cue.Str("services"), cue.Str(name))
	before := len(c.diags)

	str := func(n *node, field string) (string, bool) {
		f := n.get(field)
		if f == nil || f.val.kind != leafNode {
			return "", false
		}
		v, ok := c.ev.shapes.value(f.val).(string)
		return v, ok
	}
	var names serviceNames
	names.vip, names.hasVIP = str(n, "vip")
	names.family, _ = str(n, "family")
	names.cluster, names.hasCluster = str(n, "cluster")
	if rf := n.get("reals"); rf != nil && rf.val.kind == listNode {
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
	c.ev.shapes.check(c.ev.serviceShape, n, make([]string, 0, 4), &issues)
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
		hint := c.hintFor(path, is.msg)
		c.diags = append(c.diags, diag.Diagnostic{
			Rule:    "schema",
			Pos:     toPos(is.node.pos()),
			Path:    path.String(),
			Message: is.msg,
			Hint:    hint,
		})
	}
	data, _ := c.ev.shapes.data(n, "", dropped).(map[string]any)
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
	c.ev.shapes.withDefaults(c.ev.serviceShape, data)
	r, err := decodeRaw(data)
	if err != nil {
		c.errorf("schema", base, "", "", "decoding service: %v", err)
		return nil
	}
	return res.build(name, r)
}

// decodeRaw reads a validated service's data (with defaults) into a
// rawService, as decoding its JSON would, without encoding it first.
func decodeRaw(data map[string]any) (rawService, error) {
	var d rawDecoder
	var r rawService
	r.Cluster = d.str(data, "cluster")
	r.VIP = d.str(data, "vip")
	r.Protocol = d.str(data, "protocol")
	r.Port = d.optInt(data, "port")
	r.FWMark = uint32(d.int(data, "fwmark", 0, math.MaxUint32))
	r.Addresses = d.strs(data, "addresses")
	r.Family = d.str(data, "family")
	r.Forwarding = d.str(data, "forwarding")
	if t := d.obj(data, "tunnel"); t != nil {
		r.Tunnel = &rawTunnel{Type: d.str(t, "type"), Port: uint16(d.int(t, "port", 0, math.MaxUint16)), Checksum: d.str(t, "checksum")}
	}
	r.Scheduler = d.str(data, "scheduler")
	r.Flags = d.strs(data, "flags")
	if p := d.obj(data, "persistence"); p != nil {
		r.Persistence = &rawPersistence{Timeout: uint32(d.int(p, "timeout", 0, math.MaxUint32)), Netmask: d.optInt(p, "netmask"), Engine: d.str(p, "engine")}
	}
	r.OnePacket = d.bool(data, "onePacket")
	r.DrainTimeout = d.str(data, "drainTimeout")
	if w := d.obj(data, "waive"); w != nil {
		r.Waive = make(map[string]string, len(w))
		for k := range w {
			r.Waive[k] = d.str(w, k)
		}
	}
	if list, ok := data["reals"]; ok && list != nil {
		l, ok := list.([]any)
		if !ok {
			d.fail("reals", list)
		}
		r.Reals = make([]rawReal, 0, len(l))
		for _, x := range l {
			m, ok := x.(map[string]any)
			if !ok {
				d.fail("reals", x)
				continue
			}
			r.Reals = append(r.Reals, rawReal{
				Host:           d.str(m, "host"),
				Address:        d.str(m, "address"),
				Port:           d.optInt(m, "port"),
				Weight:         int32(d.int(m, "weight", math.MinInt32, math.MaxInt32)),
				UpperThreshold: uint32(d.int(m, "upperThreshold", 0, math.MaxUint32)),
				LowerThreshold: uint32(d.int(m, "lowerThreshold", 0, math.MaxUint32)),
			})
		}
	}
	return r, d.err
}

// rawDecoder reads fields of decoded data, keeping the first mismatch.
type rawDecoder struct{ err error }

func (d *rawDecoder) fail(field string, v any) {
	if d.err == nil {
		d.err = fmt.Errorf("field %s: unexpected %T", field, v)
	}
}

func (d *rawDecoder) str(m map[string]any, k string) string {
	v, ok := m[k]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.fail(k, v)
	}
	return s
}

func (d *rawDecoder) bool(m map[string]any, k string) bool {
	v, ok := m[k]
	if !ok || v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		d.fail(k, v)
	}
	return b
}

func (d *rawDecoder) int(m map[string]any, k string, lo, hi int64) int64 {
	v, ok := m[k]
	if !ok || v == nil {
		return 0
	}
	var i int64
	switch n := v.(type) {
	case int64:
		i = n
	case int:
		i = int64(n)
	case float64:
		if n != math.Trunc(n) {
			d.fail(k, v)
			return 0
		}
		i = int64(n)
	default:
		d.fail(k, v)
		return 0
	}
	if i < lo || i > hi {
		if d.err == nil {
			d.err = fmt.Errorf("field %s: %d out of range", k, i)
		}
		return 0
	}
	return i
}

func (d *rawDecoder) optInt(m map[string]any, k string) *int {
	if v, ok := m[k]; !ok || v == nil {
		return nil
	}
	i := int(d.int(m, k, math.MinInt, math.MaxInt))
	return &i
}

func (d *rawDecoder) strs(m map[string]any, k string) []string {
	v, ok := m[k]
	if !ok || v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		d.fail(k, v)
		return nil
	}
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, ok := x.(string)
		if !ok {
			d.fail(k, x)
		}
		out = append(out, s)
	}
	return out
}

func (d *rawDecoder) obj(m map[string]any, k string) map[string]any {
	v, ok := m[k]
	if !ok || v == nil {
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		d.fail(k, v)
	}
	return o
}
