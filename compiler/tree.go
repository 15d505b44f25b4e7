package compiler

import (
	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// A tree is a configuration written as plain data — structs, lists and
// literals, as most large configs are, generated or not — read straight
// from the parsed files without CUE's evaluator. Unifying 10,000 services
// as one CUE value costs seconds; a tree of them costs milliseconds, and
// every value keeps the position it was written at. Anything beyond plain
// data (references, comprehensions, definitions, disjunctions,
// interpolation, imports, conflicting duplicates) makes plainTree decline,
// and the compiler evaluates the config with CUE as a whole instead.
type node struct {
	expr   ast.Expr
	label  token.Pos // the label of the field whose value this is
	fields []*field  // a struct's, in order
	// byName indexes fields once there are many: most structs (a real
	// server, a persistence) have a few, and a map would cost more than
	// the rest of the node.
	byName map[string]*field
	elems  []*node // a list's
	kind   nodeKind
}

type nodeKind int

const (
	leafNode nodeKind = iota
	structNode
	listNode
)

type field struct {
	name  string
	label token.Pos
	val   *node
}

// plainTree reads files as one tree, or reports that they are not plain
// data.
func plainTree(files []*ast.File) (*node, bool) {
	root := &node{kind: structNode}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.Package, *ast.CommentGroup:
			case *ast.Field:
				if !root.addField(d) {
					return nil, false
				}
			default:
				return nil, false
			}
		}
	}
	return root, true
}

// get returns the field called name, or nil.
func (n *node) get(name string) *field {
	if n.byName != nil {
		return n.byName[name]
	}
	for _, f := range n.fields {
		if f.name == name {
			return f
		}
	}
	return nil
}

// add appends field f, indexing the fields once there are many.
func (n *node) add(f *field) {
	n.fields = append(n.fields, f)
	switch {
	case n.byName != nil:
		n.byName[f.name] = f
	case len(n.fields) > 8:
		n.byName = make(map[string]*field, 2*len(n.fields))
		for _, f := range n.fields {
			n.byName[f.name] = f
		}
	}
}

func (n *node) addField(f *ast.Field) bool {
	if f.Constraint != token.ILLEGAL || len(f.Attrs) > 0 {
		return false
	}
	name, ok := plainLabel(f.Label)
	if !ok {
		return false
	}
	v, ok := plainValue(f.Value)
	if !ok {
		return false
	}
	v.label = f.Label.Pos()
	if old := n.get(name); old != nil {
		return old.val.merge(v)
	}
	n.add(&field{name: name, label: f.Label.Pos(), val: v})
	return true
}

func plainLabel(l ast.Label) (string, bool) {
	switch l := l.(type) {
	case *ast.Ident:
		// Hidden fields (_x) and definitions (#X) are CUE, not data.
		if l.Name == "" || l.Name[0] == '_' || l.Name[0] == '#' {
			return "", false
		}
		return l.Name, true
	case *ast.BasicLit:
		if l.Kind != token.STRING {
			return "", false
		}
		s, err := literal.Unquote(l.Value)
		return s, err == nil
	}
	return "", false
}

func plainValue(x ast.Expr) (*node, bool) {
	switch x := x.(type) {
	case *ast.BasicLit:
		switch x.Kind {
		case token.STRING, token.INT, token.FLOAT, token.TRUE, token.FALSE, token.NULL:
			return &node{expr: x, kind: leafNode}, true
		}
	case *ast.UnaryExpr:
		if b, ok := x.X.(*ast.BasicLit); ok && x.Op == token.SUB && (b.Kind == token.INT || b.Kind == token.FLOAT) {
			return &node{expr: x, kind: leafNode}, true
		}
	case *ast.StructLit:
		n := &node{expr: x, kind: structNode}
		for _, d := range x.Elts {
			switch d := d.(type) {
			case *ast.CommentGroup:
			case *ast.Field:
				if !n.addField(d) {
					return nil, false
				}
			default:
				return nil, false
			}
		}
		return n, true
	case *ast.ListLit:
		n := &node{expr: x, kind: listNode}
		for _, e := range x.Elts {
			v, ok := plainValue(e)
			if !ok {
				return nil, false
			}
			v.label = e.Pos()
			n.elems = append(n.elems, v)
		}
		return n, true
	}
	return nil, false
}

// merge unifies o into n as CUE would plain data: structs field by field,
// equal literals are one value. Anything else (two lists, two different
// literals) is left to CUE, which reports a conflict precisely.
func (n *node) merge(o *node) bool {
	switch {
	case n.kind == structNode && o.kind == structNode:
		for _, f := range o.fields {
			if old := n.get(f.name); old != nil {
				if !old.val.merge(f.val) {
					return false
				}
				continue
			}
			n.add(f)
		}
		return true
	case n.kind == leafNode && o.kind == leafNode:
		return keyOf(n.expr) == keyOf(o.expr)
	}
	return false
}

// pos is where a value is reported: the value itself, or its label when
// the value has no position of its own (the struct of `a: b: 1`).
func (n *node) pos() token.Pos {
	if n.expr != nil {
		if p := n.expr.Pos(); p.IsValid() {
			return p
		}
	}
	if n.label.IsValid() {
		return n.label
	}
	for _, f := range n.fields {
		return f.label
	}
	return token.NoPos
}

// lookup walks sels from n and returns the deepest node that exists.
func (n *node) lookup(sels []cue.Selector) *node {
	cur := n
	for _, s := range sels {
		var next *node
		switch {
		case cur.kind == structNode && s.Type() == cue.StringLabel:
			if f := cur.get(s.Unquoted()); f != nil {
				next = f.val
			}
		case cur.kind == listNode && s.Type() == cue.IndexLabel:
			if i := s.Index(); i >= 0 && i < len(cur.elems) {
				next = cur.elems[i]
			}
		}
		if next == nil {
			return cur
		}
		cur = next
	}
	return cur
}

// withoutServices returns copies of files without their top-level
// services field: with plain data, the rest of the config is evaluated by
// CUE as before and the services are read from the tree.
func withoutServices(files []*ast.File) []*ast.File {
	out := make([]*ast.File, 0, len(files))
	for _, f := range files {
		cp := *f
		cp.Decls = nil
		for _, d := range f.Decls {
			if fl, ok := d.(*ast.Field); ok {
				if name, _ := plainLabel(fl.Label); name == "services" {
					continue
				}
			}
			cp.Decls = append(cp.Decls, d)
		}
		out = append(out, &cp)
	}
	return out
}
