package plaindata

import (
	"encoding/binary"
	"io"
	"maps"
	"slices"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// A Node is one value of a tree: a configuration written as plain data — structs, lists and
// literals, as most large configs are, generated or not — read straight
// from the parsed files without CUE's evaluator. Unifying 10,000 services
// as one CUE value costs seconds; a tree of them costs milliseconds, and
// every value keeps the position it was written at. Anything beyond plain
// data (references, comprehensions, definitions, disjunctions,
// interpolation, imports, conflicting duplicates) makes Read decline, and
// the compiler evaluates the config with CUE as a whole instead.
//
// A Node is not changed once read: Merge copies what it merges into, so
// a file's tree can be kept and merged again while the file is unchanged.
type Node struct {
	// expr is a leaf's literal; a struct or list keeps only where it
	// starts (at), not its syntax, which would keep the file's.
	expr   ast.Expr
	at     token.Pos
	label  token.Pos // the label of the field whose value this is
	fields []*Field  // a struct's, in order
	// byName indexes fields once there are many: most structs (a real
	// server, a persistence) have a few, and a map would cost more than
	// the rest of the node.
	byName map[string]*Field
	elems  []*Node // a list's
	kind   Kind
}

// Kind is what a Node is: a literal, a struct or a list.
type Kind int

// The kinds of Node.
const (
	Leaf Kind = iota
	Struct
	List
)

// A Field is a struct's field: its name and value.
type Field struct {
	Name  string
	label token.Pos
	Val   *Node
}

// Kind reports what n is.
func (n *Node) Kind() Kind { return n.kind }

// Fields are a struct's fields, in the order written (a field written in
// several places is one, where first written).
func (n *Node) Fields() []*Field { return n.fields }

// Elems are a list's elements.
func (n *Node) Elems() []*Node { return n.elems }

// Read reads files as one tree, or reports that they are not plain data.
func Read(files []*ast.File) (*Node, bool) {
	root := &Node{kind: Struct}
	for _, f := range files {
		if !root.addDecls(f.Decls) {
			return nil, false
		}
	}
	return root, true
}

// addDecls adds the fields decls declares to n, passing over comments and
// a file's package clause (the parser puts none inside a struct); any
// other declaration is not plain data.
func (n *Node) addDecls(decls []ast.Decl) bool {
	for _, d := range decls {
		switch d := d.(type) {
		case *ast.Package, *ast.CommentGroup:
		case *ast.Field:
			if !n.addField(d) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Get returns the field called name, or nil.
func (n *Node) Get(name string) *Field {
	if n.byName != nil {
		return n.byName[name]
	}
	for _, f := range n.fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// add appends field f, indexing the fields once there are many.
func (n *Node) add(f *Field) {
	n.fields = append(n.fields, f)
	switch {
	case n.byName != nil:
		n.byName[f.Name] = f
	case len(n.fields) > 8:
		n.byName = make(map[string]*Field, 2*len(n.fields))
		for _, f := range n.fields {
			n.byName[f.Name] = f
		}
	}
}

func (n *Node) addField(f *ast.Field) bool {
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
	if old := n.Get(name); old != nil {
		return old.Val.merge(v)
	}
	n.add(&Field{Name: name, label: f.Label.Pos(), Val: v})
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

func plainValue(x ast.Expr) (*Node, bool) {
	switch x := x.(type) {
	case *ast.BasicLit:
		switch x.Kind {
		case token.STRING, token.INT, token.FLOAT, token.TRUE, token.FALSE, token.NULL:
			return &Node{expr: x, kind: Leaf}, true
		}
	case *ast.UnaryExpr:
		if b, ok := x.X.(*ast.BasicLit); ok && x.Op == token.SUB && (b.Kind == token.INT || b.Kind == token.FLOAT) {
			return &Node{expr: x, kind: Leaf}, true
		}
	case *ast.StructLit:
		n := &Node{at: x.Pos(), kind: Struct}
		if !n.addDecls(x.Elts) {
			return nil, false
		}
		return n, true
	case *ast.ListLit:
		n := &Node{at: x.Pos(), kind: List}
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
func (n *Node) merge(o *Node) bool {
	return (&merger{}).merge(n, o)
}

// Merge merges the trees of several files into a new tree, as CUE would
// unify plain data, without changing them: a file's tree is kept for the
// next compile while the file is unchanged. A nil tree (a file that is
// not plain data) or a conflict CUE must report makes it decline.
func Merge(trees []*Node) (*Node, bool) {
	m := &merger{owned: map[*Node]bool{}}
	root := &Node{kind: Struct}
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
	owned map[*Node]bool
}

func (m *merger) merge(n, o *Node) bool {
	switch {
	case n.kind == Struct && o.kind == Struct:
		for _, f := range o.fields {
			old := n.Get(f.Name)
			if old == nil {
				n.add(f)
				continue
			}
			if old.Val.kind == Leaf && f.Val.kind == Leaf {
				if keyOf(old.Val.expr) != keyOf(f.Val.expr) {
					return false
				}
				continue
			}
			into := old.Val
			if m.owned != nil && !m.owned[into] {
				into = m.copyOf(into)
				n.replace(&Field{Name: old.Name, label: old.label, Val: into})
			}
			if !m.merge(into, f.Val) {
				return false
			}
		}
		return true
	case n.kind == Leaf && o.kind == Leaf:
		return keyOf(n.expr) == keyOf(o.expr)
	}
	return false
}

// copyOf is a copy of n that m may change: its own list of fields, the
// fields' values shared.
func (m *merger) copyOf(n *Node) *Node {
	c := *n
	c.fields = slices.Clone(n.fields)
	if n.byName != nil {
		c.byName = maps.Clone(n.byName)
	}
	m.owned[&c] = true
	return &c
}

// replace puts f in place of the field of the same name.
func (n *Node) replace(f *Field) {
	for i, old := range n.fields {
		if old.Name == f.Name {
			n.fields[i] = f
		}
	}
	if n.byName != nil {
		n.byName[f.Name] = f
	}
}

// Pos is where a value is reported: the value itself, or its label when
// the value has no position of its own (the struct of `a: b: 1`).
func (n *Node) Pos() token.Pos {
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
func (n *Node) toExpr() ast.Expr {
	switch n.kind {
	case Struct:
		st := &ast.StructLit{}
		for _, f := range n.fields {
			st.Elts = append(st.Elts, &ast.Field{Label: ast.NewString(f.Name), Value: f.Val.toExpr()})
		}
		return st
	case List:
		l := &ast.ListLit{}
		for _, e := range n.elems {
			l.Elts = append(l.Elts, e.toExpr())
		}
		return l
	}
	return n.expr
}

// Lookup walks sels from n and returns the deepest node that exists.
func (n *Node) Lookup(sels []cue.Selector) *Node {
	cur := n
	for _, s := range sels {
		var next *Node
		switch {
		case cur.kind == Struct && s.Type() == cue.StringLabel:
			if f := cur.Get(s.Unquoted()); f != nil {
				next = f.Val
			}
		case cur.kind == List && s.Type() == cue.IndexLabel:
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

// Without returns a copy of f without its top-level fields called name:
// with plain data, the rest of the config (hosts, clusters) is evaluated by
// CUE as before and the services are read from the tree.
func Without(f *ast.File, name string) *ast.File {
	cp := *f
	cp.Decls = nil
	for _, d := range f.Decls {
		if fl, ok := d.(*ast.Field); ok {
			if n, _ := plainLabel(fl.Label); n == name {
				continue
			}
		}
		cp.Decls = append(cp.Decls, d)
	}
	return &cp
}

// WriteKey writes to w an encoding of n's content — kinds, field names
// in order, list elements, and each literal's token, sign and text —
// without positions: two trees get the same encoding exactly when they
// were written alike, wherever they were written. Every part is
// length-prefixed, so no two trees run together into one stream. It is
// what a service's result is kept by across processes (the compile
// cache): a literal written differently ("1" and "01") is another key,
// which costs a compile, never a wrong result.
func (n *Node) WriteKey(w io.Writer) {
	var buf []byte
	buf = n.appendKey(buf)
	_, _ = w.Write(buf)
}

func (n *Node) appendKey(b []byte) []byte {
	b = append(b, byte(n.kind))
	switch n.kind {
	case Leaf:
		k := keyOf(n.expr)
		b = binary.AppendUvarint(b, uint64(k.tok))
		if k.neg {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = appendString(b, k.val)
	case Struct:
		b = binary.AppendUvarint(b, uint64(len(n.fields)))
		for _, f := range n.fields {
			b = appendString(b, f.Name)
			b = f.Val.appendKey(b)
		}
	case List:
		b = binary.AppendUvarint(b, uint64(len(n.elems)))
		for _, e := range n.elems {
			b = e.appendKey(b)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
