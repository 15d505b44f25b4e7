package plaindata

import (
	"slices"
	"strconv"

	"cuelang.org/go/cue"
)

// Shapes checks plain-data services against #Service value by value.
//
// Unifying a whole service with #Service costs CUE about half a
// millisecond however ordinary the service; the schema's constraints on
// each field, though, depend on that field alone: cross-field rules live
// in the rule checks (the rule is written above #Service in the schema,
// and TestNoSiblingReads holds the schema to it). So each literal is
// unified with its field's constraint — by CUE, with CUE's messages — once
// per distinct (field, literal): a weight of 1 or a port of 80 is checked
// once per compile, not once per service. Closedness (a misspelt field) is the schema's Allows, required
// fields its own incompleteness, defaults its defaults.
//
// What CUE said is kept on a tree of shapes, one per schema position, so
// that a service that repeats what others said costs map lookups. Shapes
// belong to one evaluator (one CUE context) and are used by one goroutine
// at a time; the Go values of literals are shared by all.
type Shapes struct {
	ctx    *cue.Context
	values *Values
	// message is how a CUE error is said to the user.
	message func(error) string
	// leaves counts the verdicts kept on the shapes.
	leaves int
}

// A Shape is one position of the schema (#Service, one of its fields, a
// list's elements) with what checking data against it has learned.
type Shape struct {
	v    cue.Value
	kind cue.Kind

	// fields maps a field name to its shape; nil for a name the schema
	// does not allow.
	fields   map[string]*Shape
	elem     *Shape
	required []requiredField
	leaves   map[litKey]leafVerdict
	// addrs are the verdicts of a shape that is exactly #IP, by class
	// of address (addrclass.go); nil for other shapes.
	addrs map[addrClass]leafVerdict
	// elemDone and requiredDone: elem and required are known.
	elemDone, requiredDone bool
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

// NewShapes returns the shapes of an evaluator whose context is ctx,
// sharing the literals' values with the other evaluators. message says a
// CUE error to the user, as the whole-CUE path does.
func NewShapes(ctx *cue.Context, values *Values, message func(error) string) *Shapes {
	return &Shapes{ctx: ctx, values: values, message: message}
}

// NewShape returns the shape of the schema's value v (#Service), built in
// the context of the Shapes it is used with.
func NewShape(v cue.Value) *Shape {
	sh := &Shape{v: v, kind: v.IncompleteKind(), fields: map[string]*Shape{}, leaves: map[litKey]leafVerdict{}}
	if _, p := v.ReferencePath(); p.String() == addrDef {
		sh.addrs = map[addrClass]leafVerdict{}
	}
	return sh
}

// Leaves counts the verdicts kept on the shapes: what they cost.
func (s *Shapes) Leaves() int { return s.leaves }

// field returns the shape of field name of sh, or false when the schema
// does not allow it.
func (s *Shapes) field(sh *Shape, name string) (*Shape, bool) {
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
		f = NewShape(v)
	}
	sh.fields[name] = f
	return f, f != nil
}

// elemOf returns the shape of sh's list elements, or nil when the schema
// says nothing of them.
func (s *Shapes) elemOf(sh *Shape) *Shape {
	if !sh.elemDone {
		if v := sh.v.LookupPath(cue.MakePath(cue.AnyIndex)); v.Exists() {
			sh.elem = NewShape(v)
		}
		sh.elemDone = true
	}
	return sh.elem
}

// requiredOf lists sh's regular fields: the error each gives when
// missing, or its default.
func (s *Shapes) requiredOf(sh *Shape) []requiredField {
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
					f.msg = s.message(err)
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
func (s *Shapes) leaf(sh *Shape, n *Node) leafVerdict {
	k := keyOf(n.expr)
	v, ok := sh.leaves[k]
	if ok {
		return v
	}
	c, classed := addrClassOf(sh, k)
	if v, ok := sh.addrs[c]; classed && ok {
		return v
	}
	v = s.unify(sh, n)
	sh.leaves[k] = v
	s.leaves++
	if classed && !v.bad {
		sh.addrs[c] = v
	}
	return v
}

func (s *Shapes) unify(sh *Shape, n *Node) leafVerdict {
	v := sh.v.Unify(s.ctx.BuildExpr(n.toExpr()))
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return leafVerdict{bad: true, msg: s.message(err)}
	}
	return leafVerdict{}
}

// An Issue is a schema error at a path of the service.
type Issue struct {
	// Path is the field's path in the service, list indices as numbers.
	Path []string
	// Node is where to report it.
	Node *Node
	Msg  string
}

// Check walks n against sh, appending every problem to out; path is n's
// path (empty for a service).
func (s *Shapes) Check(sh *Shape, n *Node, path []string, out *[]Issue) {
	switch {
	case n.kind == Struct && sh.kind == cue.StructKind:
		for _, f := range n.fields {
			fs, ok := s.field(sh, f.Name)
			if !ok {
				p := append(path[:len(path):len(path)], f.Name)
				*out = append(*out, Issue{Path: p, Node: &Node{label: f.label}, Msg: "field not allowed"})
				continue
			}
			s.Check(fs, f.Val, append(path, f.Name), out)
		}
		for _, r := range s.requiredOf(sh) {
			if r.msg != "" && n.Get(r.name) == nil {
				*out = append(*out, Issue{Path: append(path[:len(path):len(path)], r.name), Node: n, Msg: r.msg})
			}
		}
	case n.kind == List && sh.kind == cue.ListKind:
		el := s.elemOf(sh)
		if el == nil {
			if v := s.unify(sh, n); v.bad {
				*out = append(*out, Issue{Path: slices.Clone(path), Node: n, Msg: v.msg})
			}
			return
		}
		for i, e := range n.elems {
			s.Check(el, e, append(path, strconv.Itoa(i)), out)
		}
	case n.kind == Leaf:
		if v := s.leaf(sh, n); v.bad {
			*out = append(*out, Issue{Path: slices.Clone(path), Node: n, Msg: v.msg})
		}
	default:
		if v := s.unify(sh, n); v.bad {
			*out = append(*out, Issue{Path: slices.Clone(path), Node: n, Msg: v.msg})
		}
	}
}

// Data is n as JSON-like Go data, as CUE would decode it, without the
// dropped paths (dotted, list indices as numbers); a dropped list element
// becomes an empty struct so that indices stay aligned.
func (s *Shapes) Data(n *Node, dropped []string) any {
	return s.data(n, "", dropped)
}

func (s *Shapes) data(n *Node, at string, dropped []string) any {
	join := func(p string) string {
		if at == "" {
			return p
		}
		return at + "." + p
	}
	switch n.kind {
	case Struct:
		m := make(map[string]any, len(n.fields))
		for _, f := range n.fields {
			if len(dropped) == 0 {
				m[f.Name] = s.data(f.Val, "", nil)
				continue
			}
			p := join(f.Name)
			if !slices.Contains(dropped, p) {
				m[f.Name] = s.data(f.Val, p, dropped)
			}
		}
		return m
	case List:
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
	return s.Value(n)
}

// WithDefaults fills the schema's defaults into data (from Data), as
// unifying with the schema would: missing fields that have one, in nested
// structs and in list elements.
func (s *Shapes) WithDefaults(sh *Shape, data any) {
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
				s.WithDefaults(fs, v)
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
			s.WithDefaults(el, v)
		}
	}
}
