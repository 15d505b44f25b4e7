package plaindata

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/lvsgen/lvsgen/internal/gen"
)

// parseCases are files ParseServices must read (accept true) or leave to
// CUE's parser. Every one is also a seed of FuzzParseServices, which
// holds an accepted file to CUE's reading of it.
var parseCases = []struct {
	src    string
	accept bool
}{
	{"package lvs\n", false}, // no services: CUE's to read
	{"package lvs\nservices: {}\n", true},
	{"// a comment\npackage lvs // and one here\n\n// before\nservices: web: {\n\tvip: \"192.0.2.1\" // the VIP\n\tport: 80,\n\treals: [\n\t\t{address: \"10.0.0.1\", weight: 2},\n\t\t{address: \"10.0.0.2\"}, // trailing\n\t]\n}\n", true},
	{"package lvs\nservices: a: b: c: -5\nservices: a: b: d: [true, false, null, 0, 1, \"x\"]\n", true},
	{"package lvs\nservices: \"web-1\": {\"port\": 80}\nservices: \"web-1\": {port: 80, vip: \"x\"}\n", true},
	{"package lvs\nservices: {a: {port: 80}, b: {port: 81},}", true},
	{"package lvs\nservices: [\n1\n2,\n3\n]\n", true},
	{"package lvs\nservices:\n\n  {a: 1}\n", true},
	{"package lvs\r\nservices: {a: 1}\r\n", true},
	{"services: {a: 1}\n", false}, // no declaration to take positions from
	{"// only a comment\nservices: {a: 1}\n", false},
	{"package lvs\nhosts: {}\n", false},
	{"package lvs\nservices: {}\nhosts: {}\n", true},
	{"package lvs\nhosts: {lb1: {interfaces: eth0: addresses: [\"10.0.0.2/24\"]}}\nclusters: c: {directors: [\"lb1\"], vip: bind: \"none\"}\nservices: web: {cluster: \"c\", vip: \"192.0.2.1\", port: 80, reals: [{address: \"10.0.0.11\"}]}\npolicies: [\"ha\"]\n", true},
	{"package lvs\nhosts: a: 1, services: b: 2, clusters: c: 3\n", true},
	{"package lvs\nservices: b: 2, hosts: a: 1\n", true},
	{"package lvs\nhosts: a: 1, services: b: 2\n", true},
	{"package lvs\nservices: b: 2 // c\nhosts: a: 1 // d\nservices: c: 3,\n", true},
	{"package lvs\nservices: {a: 1}\nhosts: x: y\n", false},              // a reference in hosts
	{"package lvs\nservices: {a: 1}\nhosts: {a: 1} & {b: 2}\n", false},   // CUE beyond plain data
	{"package lvs\nservices: {a: 1}\nhosts: a: 1\nhosts: a: 2\n", false}, // a conflict for CUE
	{"package lvs\nservices: {a: 1}\nhosts: a: 1\nhosts: b: 2\n", true},
	{"package lvs\nservices: {a: 1}\n#Def: 1\n", false},
	{"package lvs\nservices: {a: 1}\n_hidden: 1\n", false},
	{"@if(lvsgen)\npackage lvs\nservices: {}\n", false},
	{"package lvs\n@extern(embed)\nservices: {}\n", false},
	{"package lvs\nimport \"strings\"\nservices: {}\n", false},
	{"package lvs\nservices: a: 1.5\n", false},
	{"package lvs\nservices: a: 1e3\n", false},
	{"package lvs\nservices: a: 1K\n", false},
	{"package lvs\nservices: a: 1_000\n", false},
	{"package lvs\nservices: a: 0x10\n", false},
	{"package lvs\nservices: a: 010\n", false},
	{"package lvs\nservices: a: - 5\n", false},
	{"package lvs\nservices: a: +5\n", false},
	{"package lvs\nservices: a: \"\\n\"\n", false},
	{"package lvs\nservices: a: \"\\(x)\"\n", false},
	{"package lvs\nservices: a: \"\"\"\n\tx\n\t\"\"\"\n", false},
	{"package lvs\nservices: a: #\"x\"#\n", false},
	{"package lvs\nservices: a: 'x'\n", false},
	{"package lvs\nservices: a: \"caf\u00e9\"\n", false},
	{"package lvs\nservices: a: b\n", false},
	{"package lvs\nservices: a: b | c\n", false},
	{"package lvs\nservices: a: 1 | 2\n", false},
	{"package lvs\nservices: a: int & 1\n", false},
	{"package lvs\nservices: a?: 1\n", false},
	{"package lvs\nservices: a!: 1\n", false},
	{"package lvs\nservices: _a: 1\n", false},
	{"package lvs\nservices: #A: 1\n", false},
	{"package lvs\nservices: $a: 1\n", false},
	{"package lvs\nservices: a: 1 @tag()\n", false},
	{"package lvs\nservices: X=a: 1\n", false},
	{"package lvs\nservices: (\"a\"): 1\n", false},
	{"package lvs\nservices: [string]: {}\n", false},
	{"package lvs\nservices: {...}\n", false},
	{"package lvs\nservices: {for x in [] {}}\n", false},
	{"package lvs\nservices: {if true {}}\n", false},
	{"package lvs\nservices: {let x = 1}\n", false},
	{"package lvs\nservices: a: 1 b: 2\n", false},
	{"package lvs\nservices: {a: 1 b: 2}\n", false},
	{"package lvs\nservices: {a: 1,, b: 2}\n", false},
	{"package lvs\nservices: {a: 1\n, b: 2}\n", false},
	{"package lvs\nservices: [1 2]\n", false},
	{"package lvs\nservices: [1,,2]\n", false},
	{"package lvs\nservices: [1}\n", false},
	{"package lvs\nservices: {a: 1]\n", false},
	{"package lvs\nservices: {a: 1\n", false},
	{"package lvs\nservices: a:\n", false},
	{"package lvs\nservices: a :: 1\n", false},
	{"package lvs\nservices: {a: 1} /* c */\n", false},
	{"package lvs\nservices: {a: 1} / 2\n", false},
	{"package lvs\nservices: a: true: 1\n", false},
	{"package lvs\nservices: if: 1\n", false},
	{"package lvs\nservices: [a: 1]\n", false},
	{"package lvs\nservices: a: 1\nservices: a: 2\n", false}, // CUE reports the conflict
	{"package 1lvs\nservices: {}\n", false},
	{"package lvs services: {}\n", false},
	{"\ufeffpackage lvs\nservices: {}\n", false},
	// CUE's keywords beyond for, if and let: try as a label starts a
	// comprehension, so try: 1 is a syntax error; the others are read.
	{"package lvs\nservices: {try: 1}\n", false},
	{"package lvs\nservices: a: try: 1\n", false},
	{"package lvs\nservices: {else: 1, fallback: 2, otherwise: 3}\n", false},
	{"package lvs\nservices: a: else: 1\n", false},
	{"package try\nservices: {}\n", false},
	{"package else\nservices: {}\n", false},
	{"package lvs\nservices: {package: 1}\n", false},
	{"package lvs\nservices: {import: 1}\n", false},
	{"package lvs\nservices: a: null: 1\n", false},
	{"package lvs\nservices: a: truex\n", false},
	{"package lvs\nservices: a: true_: 1\nservices: {int: 2, string: 3, len: 4}\n", true},
	// Comments and newlines where CUE's scanner inserts commas, or
	// elides them before a comma or colon on the next line.
	{"package lvs\nservices: a: //c\n 1", true},
	{"package lvs\nservices: a://c\n1//c", true},
	{"package lvs\nservices: {//c\na: 1}", true},
	{"package lvs\nservices: [//c\n1, // d\n]", true},
	{"package lvs\nservices: [1//c\n,2]", false},
	{"package lvs\nservices: {}\n,", false},
	{"package lvs\nservices: a: b\n: 1\n", false},
	{"package lvs\nservices\n: {}\n", false},
	{"package lvs\nservices: a: b // c\n: 1\n", false},
	{"package lvs\nservices: a: b\r: 1\r\n", true},
	{"package lvs //c\r\n// d\r\nservices: {}", true},
	{"package lvs\rservices: {}", false},
	{"package lvs\n\fservices: {}", false},
	{"package lvs\n\vservices: {}", false},
	{"package lvs\nservices: a: 1;\n", false},
	{"package lvs\nservices: {a: 1}, services: {b: 2},", true},
	{"package lvs\nservices: {a: 1} services: {b: 2}", false},
	{"\r\n  package\tlvs\n  services: {}", true},
	{"package lvs\n/", false},
	{"package lvs\nservices: {}\n// end without newline", true},
	// Literals at their edges.
	{"package lvs\nservices: [-1, -0, 0, 9223372036854775808, -9223372036854775809]", true},
	{"package lvs\nservices: a: 1\"x\"", false},
	{"package lvs\nservices: a: -true", false},
	{"package lvs\nservices: a: 00", false},
	{"package lvs\nservices: a: 08", false},
	{"package lvs\nservices: a: -00", false},
	{"package lvs\nservices: a: 1__0", false},
	{"package lvs\nservices: a: 1#x", false},
	{"package lvs\nservices: a: 1$", false},
	{"package lvs\nservices: {\"\": \"\", \"a'`#b\": \"//\"}", true},
	{"package lvs\nservices: a: \"a\tb\"", false},
	{"package lvs\nservices: a: \"a\x7fb\"", false},
	{"package lvs\nservices: a: \"\"\"\"", false},
	{"package lvs\nservices: a: \"b\"\"c\": 1", false},
	{"package lvs\nservices: a: \"x\" : \"y\":1", true},
	{"package lvs\nservices: a: b$: 1", false},
	{"package lvs\nservices: a: _: 1", false},
	{"package lvs\nservices: a: __x: 1", false},
	{"package _\nservices: {}", false},
	{"package services\nservices: {}", true},
	// Duplicates: plain data merges as CUE unifies it; anything else
	// (lists, a literal and a struct, literals written differently) is
	// CUE's.
	{"package lvs\nservices: {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10, a: 1}", true},
	{"package lvs\nservices: {a: {x: 1}}\nservices: {a: {y: 1}}\nservices: {a: {x: 1}}", true},
	{"package lvs\nservices: a: {}\nservices: a: b: c: 1\nservices: a: b: d: 2", true},
	{"package lvs\nservices: 1\nservices: 1", true},
	{"package lvs\nservices: {\"a\": 1, a: 2}", false},
	{"package lvs\nservices: a: [1]\nservices: a: [1]\n", false},
	{"package lvs\nservices: a: 0\nservices: a: -0\n", false},
	{"package lvs\nservices: a: {}\nservices: a: 1\n", false},
	{"package lvs\nservices: {}\nservices: 1", false},
}

func TestParseServices(t *testing.T) {
	for i, c := range parseCases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, _, ok := ParseServices("x.cue", []byte(c.src))
			if ok != c.accept {
				t.Errorf("ParseServices(%q) accepted %v, want %v", c.src, ok, c.accept)
			}
			if msg := sameAsCUE("x.cue", []byte(c.src)); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// TestKeywords holds keyword to CUE's scanner: every keyword it knows
// is declined as a label, or a CUE upgrade could make a label a keyword
// unnoticed.
func TestKeywords(t *testing.T) {
	n := 0
	for tok := token.Token(0); tok < 1000; tok++ {
		if tok.IsKeyword() {
			n++
			if !keyword(tok.String()) {
				t.Errorf("CUE's keyword %s is not declined", tok)
			}
		}
	}
	if n == 0 {
		t.Error("no keywords found in CUE's tokens")
	}
}

// TestParseServicesDeep holds ParseServices to untrusted nesting: it
// reads maxDepth levels, declines one more, and declines a file nested
// 100,000 deep (CUE's parser refuses 10,000) at once, without exhausting
// its stack, for lists, structs and a: b: c: labels alike.
func TestParseServicesDeep(t *testing.T) {
	const deep = 100_000
	for _, c := range []struct {
		open, close string
		levels      int // of values each open adds
	}{
		{"[", "]", 1},
		{"{a: ", "}", 1},
		{"a: ", "", 1},
		{"[{a: ", "}]", 2},
	} {
		nest := func(n int, unclosed bool) []byte {
			src := "package lvs\nservices: " + strings.Repeat(c.open, n) + "1"
			if !unclosed {
				src += strings.Repeat(c.close, n)
			}
			return []byte(src)
		}
		fits := (maxDepth - 1) / c.levels // and the 1 innermost
		if _, _, ok := ParseServices("x.cue", nest(fits, false)); !ok {
			t.Errorf("%q nested %d deep: declined", c.open, fits)
		}
		if msg := sameAsCUE("x.cue", nest(fits, false)); msg != "" {
			t.Error(msg)
		}
		if _, _, ok := ParseServices("x.cue", nest(fits+1, false)); ok {
			t.Errorf("%q nested %d deep: accepted", c.open, fits+1)
		}
		for _, unclosed := range []bool{false, true} {
			start := time.Now()
			if _, _, ok := ParseServices("x.cue", nest(deep, unclosed)); ok {
				t.Errorf("%q nested %d deep: accepted", c.open, deep)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("%q nested %d deep: declined after %v", c.open, deep, d)
			}
		}
	}
}

// TestParseServicesFiles reads what large configs are made of — the
// generator's files and every .cue file of this repository — and holds
// each accepted one to CUE's reading; the generator's service files must
// be accepted, or the fast path is never taken.
func TestParseServicesFiles(t *testing.T) {
	dir := t.TempDir()
	if err := gen.Write(dir, 300, 10); err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, root := range []string{dir, "../../.."} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != root {
				return filepath.SkipDir
			}
			if strings.HasSuffix(path, ".cue") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	accepted := 0
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _, ok := ParseServices(name, b)
		if ok {
			accepted++
		}
		if strings.HasPrefix(name, dir) && strings.Contains(name, "services-") && !ok {
			t.Errorf("%s: generated services not accepted", name)
		}
		if msg := sameAsCUE(name, b); msg != "" {
			t.Error(msg)
		}
	}
	t.Logf("%d of %d files accepted", accepted, len(files))
}

func FuzzParseServices(f *testing.F) {
	for _, c := range parseCases {
		f.Add([]byte(c.src))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if msg := sameAsCUE("f.cue", src); msg != "" {
			t.Error(msg)
		}
	})
}

// sameAsCUE returns what differs between ParseServices' reading of src,
// when it accepts it, and CUE's parser's followed by Read; "" if nothing.
func sameAsCUE(name string, src []byte) string {
	tree, rest, ok := ParseServices(name, src)
	if !ok {
		return ""
	}
	f, err := parser.ParseFile(name, src)
	if err != nil {
		return fmt.Sprintf("accepted %q, which CUE refuses: %v", src, err)
	}
	want, ok := Read([]*ast.File{f})
	if !ok {
		return fmt.Sprintf("accepted %q, which is not plain data to Read", src)
	}
	if d := treeDiff("", tree, want); d != "" {
		return fmt.Sprintf("reading %q: %s", src, d)
	}
	if got, want := rest.PackageName(), f.PackageName(); got != want {
		return fmt.Sprintf("reading %q: package %q, CUE's %q", src, got, want)
	}
	if d := fileDiff(rest.Decls[0].Pos(), f.Pos()); d != "" {
		return fmt.Sprintf("reading %q: %s", src, d)
	}
	if d := declsDiff(rest, Without(f, "services")); d != "" {
		return fmt.Sprintf("reading %q: rest: %s", src, d)
	}
	return ""
}

// declsDiff compares two files' declarations other than comments.
func declsDiff(got, want *ast.File) string {
	strip := func(f *ast.File) (out []ast.Decl) {
		for _, d := range f.Decls {
			if _, ok := d.(*ast.CommentGroup); !ok {
				out = append(out, d)
			}
		}
		return out
	}
	g, w := strip(got), strip(want)
	if len(g) != len(w) {
		return fmt.Sprintf("%d declarations, CUE's %d", len(g), len(w))
	}
	for i := range g {
		if d := posDiff(g[i].Pos(), w[i].Pos()); d != "" {
			return fmt.Sprintf("declaration %d: %s", i, d)
		}
	}
	return ""
}

func posDiff(got, want token.Pos) string {
	if got.IsValid() != want.IsValid() || got.IsValid() && (got.Position() != want.Position() || got.Offset() != want.Offset()) {
		return fmt.Sprintf("at %v (offset %d), CUE's %v (offset %d)", got, got.Offset(), want, want.Offset())
	}
	return ""
}

// fileDiff compares the token.Files of two positions: every position
// ParseServices gives is in one file, which must be as CUE's parser
// makes it.
func fileDiff(got, want token.Pos) string {
	g, w := got.File(), want.File()
	if g == nil || w == nil || g.Name() != w.Name() || g.Size() != w.Size() || !slices.Equal(g.Lines(), w.Lines()) || got.Experiment() != want.Experiment() {
		return fmt.Sprintf("file %v, CUE's %v", g, w)
	}
	return ""
}

// treeDiff compares two trees, positions included.
func treeDiff(path string, got, want *Node) string {
	switch {
	case got.kind != want.kind:
		return fmt.Sprintf("%s: kind %v, CUE's %v", path, got.kind, want.kind)
	case posDiff(got.at, want.at) != "":
		return fmt.Sprintf("%s: start %s", path, posDiff(got.at, want.at))
	case posDiff(got.label, want.label) != "":
		return fmt.Sprintf("%s: label %s", path, posDiff(got.label, want.label))
	case posDiff(got.Pos(), want.Pos()) != "":
		return fmt.Sprintf("%s: Pos %s", path, posDiff(got.Pos(), want.Pos()))
	case (got.byName == nil) != (want.byName == nil):
		return fmt.Sprintf("%s: index %v, CUE's %v", path, got.byName != nil, want.byName != nil)
	}
	switch got.kind {
	case Leaf:
		if keyOf(got.expr) != keyOf(want.expr) {
			return fmt.Sprintf("%s: literal %v, CUE's %v", path, keyOf(got.expr), keyOf(want.expr))
		}
		g, w := got.expr, want.expr
		if gu, ok := g.(*ast.UnaryExpr); ok {
			wu, ok := w.(*ast.UnaryExpr)
			if !ok || gu.Op != wu.Op {
				return fmt.Sprintf("%s: %T, CUE's %T", path, g, w)
			}
			if d := posDiff(gu.OpPos, wu.OpPos); d != "" {
				return fmt.Sprintf("%s: sign %s", path, d)
			}
			g, w = gu.X, wu.X
		}
		gb, ok1 := g.(*ast.BasicLit)
		wb, ok2 := w.(*ast.BasicLit)
		if !ok1 || !ok2 {
			return fmt.Sprintf("%s: %T, CUE's %T", path, g, w)
		}
		if d := posDiff(gb.ValuePos, wb.ValuePos); d != "" {
			return fmt.Sprintf("%s: literal %s", path, d)
		}
		if gv, gok := plainLiteral(got.expr); true {
			if wv, wok := plainLiteral(want.expr); gok != wok || gv != wv {
				return fmt.Sprintf("%s: value %v, CUE's %v", path, gv, wv)
			}
		}
	case Struct:
		if len(got.fields) != len(want.fields) {
			return fmt.Sprintf("%s: %d fields, CUE's %d", path, len(got.fields), len(want.fields))
		}
		for i, gf := range got.fields {
			wf := want.fields[i]
			p := path + "." + gf.Name
			if gf.Name != wf.Name {
				return fmt.Sprintf("%s: field %q, CUE's %q", path, gf.Name, wf.Name)
			}
			if d := posDiff(gf.label, wf.label); d != "" {
				return fmt.Sprintf("%s: label %s", p, d)
			}
			if got.Get(gf.Name) != gf {
				return fmt.Sprintf("%s: not found by name", p)
			}
			if d := treeDiff(p, gf.Val, wf.Val); d != "" {
				return d
			}
		}
	case List:
		if len(got.elems) != len(want.elems) {
			return fmt.Sprintf("%s: %d elements, CUE's %d", path, len(got.elems), len(want.elems))
		}
		for i := range got.elems {
			if d := treeDiff(fmt.Sprintf("%s[%d]", path, i), got.elems[i], want.elems[i]); d != "" {
				return d
			}
		}
	}
	return ""
}
