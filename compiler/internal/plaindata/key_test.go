package plaindata

import (
	"bytes"
	"testing"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
)

// keyOfSrc is the WriteKey encoding of the tree of src, read by CUE's
// parser and Read and, where it accepts src, by ParseServices, which
// must agree.
func keyOfSrc(t *testing.T, src string) []byte {
	t.Helper()
	f, err := parser.ParseFile("k.cue", src)
	if err != nil {
		t.Fatal(err)
	}
	tree, ok := Read([]*ast.File{f})
	if !ok {
		t.Fatalf("%q is not plain data", src)
	}
	var b bytes.Buffer
	tree.WriteKey(&b)
	if fast, _, ok := ParseServices("k.cue", []byte(src)); ok {
		var fb bytes.Buffer
		fast.WriteKey(&fb)
		if !bytes.Equal(fb.Bytes(), b.Bytes()) {
			t.Errorf("%q: ParseServices' tree has another key than Read's", src)
		}
	}
	return b.Bytes()
}

// TestWriteKey: trees written alike have one key wherever they are
// written; trees that differ in any kind, name, order, element or
// literal have different keys.
func TestWriteKey(t *testing.T) {
	same := [][2]string{
		{`services: a: {port: 80}`, "// moved\n\n\nservices: {\n\ta: {\n\t\tport: 80\n\t}\n}\n"},
		{`services: a: {port: 80}`, `services: "a": {"port": 80}`},
		{`services: a: {reals: [{host: "x"}]}`, "services: a: reals: [\n\t{host: \"x\"},\n]"},
	}
	for _, p := range same {
		if !bytes.Equal(keyOfSrc(t, p[0]), keyOfSrc(t, p[1])) {
			t.Errorf("%q and %q have different keys", p[0], p[1])
		}
	}
	distinct := []string{
		`services: a: {port: 80}`,
		`services: a: {port: 81}`,
		`services: a: {port: -80}`,
		`services: a: {port: "80"}`,
		`services: a: {port: 80.0}`,
		`services: a: {port: 0x50}`,
		`services: a: {Port: 80}`,
		`services: b: {port: 80}`,
		`services: a: {port: 80, weight: 1}`,
		`services: a: {weight: 1, port: 80}`,
		`services: a: {port: [80]}`,
		`services: a: {port: [[80]]}`,
		`services: a: {port: [80, 80]}`,
		`services: a: {port: {}}`,
		`services: a: {port: []}`,
		`services: a: {port: null}`,
		`services: a: {port: true}`,
		`services: a: {port: "true"}`,
		`services: a: {p: "ab", q: "c"}`,
		`services: a: {p: "a", q: "bc"}`,
		`services: a: {reals: [{host: "x"}, {host: "y"}]}`,
		`services: a: {reals: [{host: "y"}, {host: "x"}]}`,
		`services: a: {reals: [{host: "x", weight: 2}]}`,
	}
	seen := map[string]string{}
	for _, src := range distinct {
		k := string(keyOfSrc(t, src))
		if other, ok := seen[k]; ok {
			t.Errorf("%q and %q have the same key", src, other)
		}
		seen[k] = src
	}
}
