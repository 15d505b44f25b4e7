package compiler

import (
	"maps"
	"slices"

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
	// expr is a leaf's literal; a struct or list keeps only where it
	// starts (at), not its syntax, which would keep the file's.
	expr   ast.Expr
	at     token.Pos
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
		n := &node{at: x.Pos(), kind: structNode}
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
		n := &node{at: x.Pos(), kind: listNode}
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
// literals) is left to CUE, which reports a conflict precisely. It
// changes n: it is for trees being built.
func (n *node) merge(o *node) bool {
	return (&merger{}).merge(n, o)
}

// mergeTrees merges the trees of several files into a new tree, as merge
// does, without changing them: a file's tree is kept for the next
// compile while the file is unchanged. A nil tree (a file that is not
// plain data) makes it decline.
func mergeTrees(trees []*node) (*node, bool) {
	m := &merger{owned: map[*node]bool{}}
	root := &node{kind: structNode}
	m.owned[root] = true
	for _, t := range trees {
		if t == nil || !m.merge(root, t) {
			return nil, false
		}
	}
	return root, true
}

// merger merges trees. With owned set, it changes only the nodes it made
// and copies any other node before merging into it; without, it changes
// nodes in place.
type merger struct {
	owned map[*node]bool
}

func (m *merger) merge(n, o *node) bool {
	switch {
	case n.kind == structNode && o.kind == structNode:
		for _, f := range o.fields {
			old := n.get(f.name)
			if old == nil {
				n.add(f)
				continue
			}
			if old.val.kind == leafNode && f.val.kind == leafNode {
				if keyOf(old.val.expr) != keyOf(f.val.expr) {
					return false
				}
				continue
			}
			into := old.val
			if m.owned != nil && !m.owned[into] {
				into = m.copyOf(into)
				n.replace(&field{name: old.name, label: old.label, val: into})
			}
			if !m.merge(into, f.val) {
				return false
			}
		}
		return true
	case n.kind == leafNode && o.kind == leafNode:
		return keyOf(n.expr) == keyOf(o.expr)
	}
	return false
}

// copyOf is a copy of n that m may change: its own list of fields, the
// fields' values shared.
func (m *merger) copyOf(n *node) *node {
	c := *n
	c.fields = slices.Clone(n.fields)
	if n.byName != nil {
		c.byName = maps.Clone(n.byName)
	}
	m.owned[&c] = true
	return &c
}

// replace puts f in place of the field of the same name.
func (n *node) replace(f *field) {
	for i, old := range n.fields {
		if old.name == f.name {
			n.fields[i] = f
		}
	}
	if n.byName != nil {
		n.byName[f.name] = f
	}
}

// pos is where a value is reported: the value itself, or its label when
// the value has no position of its own (the struct of `a: b: 1`).
func (n *node) pos() token.Pos {
	if n.expr != nil {
		if p := n.expr.Pos(); p.IsValid() {
			return p
		}
	}
	if n.at.IsValid() {
		return n.at
	}
	if n.label.IsValid() {
		return n.label
	}
	for _, f := range n.fields {
		return f.label
	}
	return token.NoPos
}

// toExpr is n as CUE syntax: the literal of a leaf, a struct or list
// of the same (without positions) otherwise.
func (n *node) toExpr() ast.Expr {
	switch n.kind {
	case structNode:
		st := &ast.StructLit{}
		for _, f := range n.fields {
			st.Elts = append(st.Elts, &ast.Field{Label: ast.NewString(f.name), Value: f.val.toExpr()})
		}
		return st
	case listNode:
		l := &ast.ListLit{}
		for _, e := range n.elems {
			l.Elts = append(l.Elts, e.toExpr())
		}
		return l
	}
	return n.expr
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

// withoutServices returns a copy of f without its top-level services
// fields: with plain data, the rest of the config is evaluated by CUE as
// before and the services are read from the tree.
func withoutServices(f *ast.File) *ast.File {
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
	return &cp
}
