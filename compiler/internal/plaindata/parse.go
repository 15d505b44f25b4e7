package plaindata

import (
	"bytes"
	"slices"
	"unicode/utf8"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
)

// ParseServices reads a file that declares services, written as plain
// data — the files that make a large config large, and the file an import
// writes — straight into a tree, without CUE's parser: CUE's parser builds
// a syntax tree of every token, which cost a third of a cold compile of
// 10,000 services (docs/PERFORMANCE.md), and Read then copies what it
// needs out of it.
//
// It accepts a strict subset of CUE: a package clause and comments, then
// top-level fields, services among them, whose values are structs,
// lists, double-quoted strings without escapes, decimal integers
// (signed), true, false and null, with labels that are plain identifiers
// or such strings, separated by commas or newlines as CUE's scanner
// inserts them. Anything else — and anything it is unsure of: attributes,
// escapes, floats, multi-line strings, references, keywords — makes it
// decline (ok false), and the caller parses the file with CUE's parser as
// before, which also reports any syntax error. A file without services
// it declines too: the hosts and clusters files are small.
//
// What it promises, and TestParseServices and FuzzParseServices hold it
// to: when it accepts a file, CUE's parser accepts it too, and the tree
// is the one Read gives for CUE's parse, every name, literal and position
// the same. rest is the file without its services, as Without gives it:
// CUE's parse of the file with the services fields blanked out, which
// also gives CUE's own token.File for the file; every position of the
// tree is moved to that file once read.
//
// The file is untrusted input: values nested deeper than maxDepth
// (structs, lists and the labels of a: b: c: 1 alike) make it decline
// rather than recurse further. CUE's parser refuses expressions nested
// deeper than 10,000.
func ParseServices(name string, src []byte) (tree *Node, rest *ast.File, ok bool) {
	// A file that never says services has none (the reader takes no
	// escapes in labels): it is declined before it is read.
	if !bytes.Contains(src, []byte("services")) {
		return nil, nil, false
	}
	p := &fastParser{src: src}
	start, ok := p.header()
	if !ok {
		return nil, nil, false
	}
	// Read first, with positions in a file of the same size; they are
	// moved to CUE's own file for it once CUE has read what is left.
	p.file = token.NewFile(name, -1, len(src))
	p.i = start
	p.text = string(src)
	root := p.node()
	root.kind = Struct
	if !p.body(root, 0) || len(p.services) == 0 {
		// A file without services is small, or not what this reader
		// is for: CUE's parser and Read read it.
		return nil, nil, false
	}
	blank := slices.Clone(src)
	for _, sp := range p.services {
		for i := sp[0]; i < sp[1]; i++ {
			if blank[i] != '\n' {
				blank[i] = ' '
			}
		}
	}
	rest, err := parser.ParseFile(name, blank)
	if err != nil || len(rest.Decls) == 0 {
		// No declaration to take the file's positions from: a file
		// with no package clause and no comment is rare; CUE reads it.
		return nil, nil, false
	}
	file := rest.Decls[0].Pos().File()
	if file == nil {
		return nil, nil, false
	}
	p.relocate(file)
	return root, rest, true
}

// fastParser is ParseServices' reader: i is the offset of the next byte
// of src.
type fastParser struct {
	src   []byte
	i     int
	depth int // of values being read
	file  *token.File
	// text is src as a string: labels and literals are slices of it, not
	// a string each.
	text string
	// nodes, fields and lits are allocated in blocks: a file of 100
	// services is 10,000 of them, and one allocation each was most of
	// the reader's time.
	nodes  blocks[Node]
	fields blocks[Field]
	lits   blocks[ast.BasicLit]
	signs  []*ast.UnaryExpr
	// services are the spans of the top-level services fields, each
	// with what separates it from the next: what CUE's parser is not
	// given.
	services [][2]int
}

// slab is how many nodes, fields or literals are allocated at once.
const slab = 256

// blocks allocates Ts slab at a time and remembers every block, so that
// their positions can be moved to another file (relocate).
type blocks[T any] struct {
	cur  []T
	full [][]T
}

// alloc returns a new zero T.
func (b *blocks[T]) alloc() *T {
	if len(b.cur) == cap(b.cur) {
		if b.cur != nil {
			b.full = append(b.full, b.cur)
		}
		b.cur = make([]T, 0, slab)
	}
	b.cur = b.cur[:len(b.cur)+1]
	return &b.cur[len(b.cur)-1]
}

// each calls f with every T allocated.
func (b *blocks[T]) each(f func(*T)) {
	for _, blk := range b.full {
		for i := range blk {
			f(&blk[i])
		}
	}
	for i := range b.cur {
		f(&b.cur[i])
	}
}

func (p *fastParser) node() *Node { return p.nodes.alloc() }

// relocate moves every position read to file: CUE's own token.File for
// the file, which has the same size and lines.
func (p *fastParser) relocate(file *token.File) {
	move := func(pos *token.Pos) {
		if pos.IsValid() {
			*pos = file.Pos(pos.Offset(), token.NoRelPos)
		}
	}
	p.nodes.each(func(n *Node) { move(&n.at); move(&n.label) })
	p.fields.each(func(f *Field) { move(&f.label) })
	p.lits.each(func(l *ast.BasicLit) { move(&l.ValuePos) })
	for _, u := range p.signs {
		move(&u.OpPos)
	}
}

func (p *fastParser) lit(start int, tok token.Token, text string) *ast.BasicLit {
	l := p.lits.alloc()
	l.ValuePos, l.Kind, l.Value = p.pos(start), tok, text
	return l
}

// container returns a new struct or list node starting at start.
func (p *fastParser) container(kind Kind, start int) *Node {
	n := p.node()
	n.kind, n.at = kind, p.pos(start)
	return n
}

// maxDepth is the deepest nesting of values ParseServices reads; deeper
// files are CUE's to read or refuse. A services file nests a few levels.
const maxDepth = 1000

func (p *fastParser) pos(off int) token.Pos { return p.file.Pos(off, token.NoRelPos) }

func (p *fastParser) eof() bool { return p.i >= len(p.src) }

func (p *fastParser) peek() byte {
	if p.i >= len(p.src) {
		return 0
	}
	return p.src[p.i]
}

// header passes a file's comments and package clause and returns the
// offset of its first field. A byte-order mark or an attribute (@if, @extern,
// an experiment) is CUE's to read.
func (p *fastParser) header() (int, bool) {
	if !p.skipSpace() {
		return 0, false
	}
	if p.peek() == '@' || p.peek() == 0xEF {
		return 0, false
	}
	if word, _ := p.ident(); word == "package" {
		p.i += len(word)
		if p.skipBlanks() == 0 {
			return 0, false
		}
		name, _ := p.ident()
		if name == "" || keyword(name) {
			return 0, false
		}
		p.i += len(name)
		p.skipBlanks()
		if c := p.peek(); !p.eof() && c != '\n' && !p.comment() {
			return 0, false
		}
		if !p.skipSpace() || p.peek() == '@' {
			return 0, false
		}
	}
	return p.i, true
}

// skipBlanks passes spaces, tabs and carriage returns: what separates
// tokens on a line. It returns how many it passed.
func (p *fastParser) skipBlanks() int {
	from := p.i
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case ' ', '\t', '\r':
			p.i++
		default:
			return p.i - from
		}
	}
	return p.i - from
}

// comment reports whether a comment starts at i.
func (p *fastParser) comment() bool {
	return p.i+1 < len(p.src) && p.src[p.i] == '/' && p.src[p.i+1] == '/'
}

// skipSpace passes blanks, newlines and comments. A lone slash (CUE has
// no block comments) is not for this reader.
func (p *fastParser) skipSpace() bool {
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		case '/':
			if !p.comment() || !p.skipComment() {
				return false
			}
		default:
			return true
		}
	}
	return true
}

// skipComment passes a comment up to its newline. CUE's scanner refuses
// a NUL, a byte that is not UTF-8 and a byte-order mark anywhere in a
// file, comments included.
func (p *fastParser) skipComment() bool {
	for p.i < len(p.src) && p.src[p.i] != '\n' {
		switch c := p.src[p.i]; {
		case c == 0:
			return false
		case c >= utf8.RuneSelf:
			r, w := utf8.DecodeRune(p.src[p.i:])
			if r == utf8.RuneError && w == 1 || r == 0xFEFF {
				return false
			}
			p.i += w
		default:
			p.i++
		}
	}
	return true
}

// ident returns the identifier at i without passing it, or "" when none
// starts there. Only ASCII letters, digits and underscores, starting with
// a letter: CUE's other identifiers (hidden _x, definitions #X, $x,
// Unicode letters) are left to CUE, so an identifier followed by any of
// those bytes is none.
func (p *fastParser) ident() (string, bool) {
	j := p.i
	if j >= len(p.src) || !isLetter(p.src[j]) {
		return "", false
	}
	for j < len(p.src) && (isLetter(p.src[j]) || isDigit(p.src[j]) || p.src[j] == '_') {
		j++
	}
	if j < len(p.src) && (p.src[j] == '$' || p.src[j] == '#' || p.src[j] >= 0x80) {
		return "", false
	}
	return p.textOf(p.i, j), true
}

// textOf is src[i:j] as a string: a slice of text once ParseServices
// has made it (the header is read before).
func (p *fastParser) textOf(i, j int) string {
	if p.text == "" {
		return string(p.src[i:j])
	}
	return p.text[i:j]
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// keyword reports the identifiers CUE gives a meaning of its own: as a
// label or a value they are CUE's to read. Its scanner's keywords are
// more than for, if and let: try as a label starts a comprehension (try:
// 1 is a syntax error), and else, fallback and otherwise are keywords of
// the try experiment. TestKeywords holds the list to token's.
func keyword(s string) bool {
	switch s {
	case "package", "import", "div", "mod", "quo", "rem",
		"if", "else", "for", "in", "let", "try", "fallback", "otherwise", "func",
		"true", "false", "null":
		return true
	}
	return false
}

// str returns the double-quoted string at i (its text as written, quotes
// included) without passing it, or "" for anything else: escapes,
// interpolations, control or non-ASCII bytes and multi-line strings are
// CUE's to read.
func (p *fastParser) str() string {
	j := p.i
	if j >= len(p.src) || p.src[j] != '"' {
		return ""
	}
	if j+2 < len(p.src) && p.src[j+1] == '"' && p.src[j+2] == '"' {
		return ""
	}
	for j++; j < len(p.src); j++ {
		switch c := p.src[j]; {
		case c == '"':
			return p.textOf(p.i, j+1)
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return ""
		}
	}
	return ""
}

// label reads a field's label: a plain identifier that is no keyword, or
// a string.
func (p *fastParser) label() (string, bool) {
	if s := p.str(); s != "" {
		p.i += len(s)
		return s[1 : len(s)-1], true
	}
	name, _ := p.ident()
	if name == "" || keyword(name) {
		return "", false
	}
	p.i += len(name)
	return name, true
}

// body reads a struct's fields into n up to close ('}', or 0 for the end
// of the file, where only services fields are read).
func (p *fastParser) body(n *Node, close byte) bool {
	if !p.skipSpace() {
		return false
	}
	for {
		if close == 0 && p.eof() || close != 0 && p.peek() == close {
			p.i++
			return true
		}
		at := p.i
		name, ok := p.field(n)
		if !ok || !p.next() {
			return false
		}
		if close == 0 && name == "services" {
			p.services = append(p.services, [2]int{at, p.i})
		}
	}
}

// next passes what ends a field or a list element: a comma, or a newline
// or comment that CUE's scanner turns into one, and then any space. What
// closes the struct or list is read by the caller.
func (p *fastParser) next() bool {
	p.skipBlanks()
	switch c := p.peek(); {
	case p.eof() || c == '}' || c == ']':
		return true
	case c == ',':
		p.i++
	case c == '\n' || p.comment():
	default:
		return false
	}
	if !p.skipSpace() {
		return false
	}
	// A second comma (one written after one inserted, or two written)
	// is a syntax error.
	return p.peek() != ','
}

// field reads one field into n; at the top level it must be services.
func (p *fastParser) field(n *Node) (string, bool) {
	at := p.i
	name, ok := p.label()
	if !ok {
		return "", false
	}
	p.skipBlanks()
	if p.peek() != ':' {
		return "", false
	}
	p.i++
	if p.peek() == ':' || !p.skipSpace() {
		return "", false
	}
	v, ok := p.value(false)
	if !ok {
		return "", false
	}
	v.label = p.pos(at)
	if old := n.Get(name); old != nil {
		return name, old.Val.merge(v)
	}
	f := p.fields.alloc()
	f.Name, f.label, f.Val = name, v.label, v
	n.add(f)
	return name, true
}

// value reads a value. A label followed by a colon is a field whose
// struct holds only it (a: b: 1), outside lists.
func (p *fastParser) value(inList bool) (*Node, bool) {
	if p.depth++; p.depth > maxDepth {
		return nil, false
	}
	n, ok := p.value1(inList)
	p.depth--
	return n, ok
}

func (p *fastParser) value1(inList bool) (*Node, bool) {
	start := p.i
	switch c := p.peek(); {
	case c == '{':
		p.i++
		n := p.container(Struct, start)
		return n, p.body(n, '}')
	case c == '[':
		p.i++
		n := p.container(List, start)
		if !p.skipSpace() {
			return nil, false
		}
		for p.peek() != ']' {
			at := p.i
			e, ok := p.value(true)
			if !ok {
				return nil, false
			}
			e.label = p.pos(at)
			n.elems = append(n.elems, e)
			if !p.next() || p.eof() || p.peek() == '}' {
				return nil, false
			}
		}
		p.i++
		return n, true
	case c == '"':
		s := p.str()
		if s == "" {
			return nil, false
		}
		if !inList && p.labelNext(len(s)) {
			return p.shorthand()
		}
		p.i += len(s)
		return p.leaf(p.lit(start, token.STRING, s))
	case c == '-':
		p.i++
		lit, ok := p.number()
		if !ok {
			return nil, false
		}
		u := &ast.UnaryExpr{OpPos: p.pos(start), Op: token.SUB, X: lit}
		p.signs = append(p.signs, u)
		return p.leaf(u)
	case isDigit(c):
		lit, ok := p.number()
		if !ok {
			return nil, false
		}
		return p.leaf(lit)
	}
	word, _ := p.ident()
	switch word {
	case "":
		return nil, false
	case "true":
		return p.word(start, token.TRUE, word)
	case "false":
		return p.word(start, token.FALSE, word)
	case "null":
		return p.word(start, token.NULL, word)
	}
	if inList || keyword(word) || !p.labelNext(len(word)) {
		// A reference, or a keyword's construct.
		return nil, false
	}
	return p.shorthand()
}

// labelNext reports whether the n bytes at i are followed, on the same
// line, by a colon: they are a label then.
func (p *fastParser) labelNext(n int) bool {
	j := p.i + n
	for j < len(p.src) && (p.src[j] == ' ' || p.src[j] == '\t' || p.src[j] == '\r') {
		j++
	}
	return j < len(p.src) && p.src[j] == ':'
}

// shorthand reads `b: 1` in `a: b: 1`: a struct with that field, which
// CUE places where its field's label is.
func (p *fastParser) shorthand() (*Node, bool) {
	n := p.container(Struct, p.i)
	_, ok := p.field(n)
	return n, ok
}

// number reads a decimal integer: 0, or digits not starting with 0. CUE's
// other numbers (floats, exponents, multipliers, underscores, hex, octal,
// binary) are its to read, so digits followed by a letter, digit, dot or
// underscore are none.
func (p *fastParser) number() (*ast.BasicLit, bool) {
	j := p.i
	for j < len(p.src) && isDigit(p.src[j]) {
		j++
	}
	if j == p.i || p.src[p.i] == '0' && j-p.i > 1 {
		return nil, false
	}
	if j < len(p.src) {
		if c := p.src[j]; isLetter(c) || c == '_' || c == '.' || c >= 0x80 {
			return nil, false
		}
	}
	lit := p.lit(p.i, token.INT, p.textOf(p.i, j))
	p.i = j
	return lit, true
}

func (p *fastParser) leaf(x ast.Expr) (*Node, bool) {
	n := p.node()
	n.expr, n.kind = x, Leaf
	return n, true
}

// word reads true, false or null at start.
func (p *fastParser) word(start int, tok token.Token, w string) (*Node, bool) {
	p.i += len(w)
	return p.leaf(p.lit(start, tok, w))
}
