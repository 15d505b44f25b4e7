package plaindata

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/schema"
)

// TestNoSiblingReads holds the schema to the rule written above #Service:
// no constraint in #Service, or in a definition it uses, reads another
// field. Shapes check each literal against its own field's constraint
// alone; a constraint that read a sibling would be checked against the
// schema's value of the sibling, not the user's.
func TestNoSiblingReads(t *testing.T) {
	files := map[string]string{}
	entries, err := fs.ReadDir(schema.Files, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(schema.Files, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	got, err := siblingReads(files, "#Service")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > 0 {
		t.Errorf("#Service breaks the no-sibling-reads rule (schema/config.cue):\n%s", strings.Join(got, "\n"))
	}
}

// TestSiblingReadsChecker shows that siblingReads finds what the rule
// forbids, so that TestNoSiblingReads can fail.
func TestSiblingReadsChecker(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "definitions, imports and predeclared identifiers",
			src: `package schema
import "net"
#Service: {
	vip?: string & net.IP
	port?: #Port
	scheduler: *"wlc" | "rr" | error("no")
	waive?: [string]: string & !=""
	reals: [...#Real]
}
#Port: int & >=0 & <=65535
#Real: {weight: *1 | int & >=0}
`,
		},
		{
			name: "a sibling",
			src: `package schema
#Service: {
	port?: int
	fwmark?: int & !=port
}
`,
			want: []string{"#Service.fwmark reads port"},
		},
		{
			name: "a field of the enclosing struct, through a selector",
			src: `package schema
#Service: {
	port?: int
	tunnel?: {port?: int & >tunnel.port & <port}
}
`,
			want: []string{"#Service.tunnel.port reads tunnel", "#Service.tunnel.port reads port"},
		},
		{
			name: "a sibling in a definition the service uses",
			src: `package schema
#Service: {reals: [...#Real]}
#Real: {
	upperThreshold: int
	weight: <=upperThreshold
}
`,
			want: []string{"#Real.weight reads upperThreshold"},
		},
		{
			name: "a comprehension and a let",
			src: `package schema
#Service: {
	protocol?: string
	if protocol == "udp" {onePacket: bool}
	let p = protocol
	family?: p
}
`,
			want: []string{"#Service has a comprehension", "#Service has a let clause", "#Service.family reads p"},
		},
		{
			name: "definitions the service does not use are not checked",
			src: `package schema
#Service: {port?: int}
#ServiceCheck: {service: #Service, ok: service.port > 0}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := siblingReads(map[string]string{"s.cue": tt.src}, "#Service")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("siblingReads (-want +got):\n%s", diff)
			}
		})
	}
}

// siblingReads lists, in the schema files (name to source), every place
// where the definition root, or a definition it uses, reads a field: an
// identifier other than a definition (#X), an imported package or one of
// CUE's predeclared identifiers, and any let clause, alias or
// comprehension (which read fields, or hide what they read).
func siblingReads(files map[string]string, root string) ([]string, error) {
	type def struct {
		val     ast.Expr
		imports map[string]bool
	}
	defs := map[string]def{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		f, err := parser.ParseFile(name, files[name])
		if err != nil {
			return nil, err
		}
		imports := map[string]bool{}
		for spec := range f.ImportSpecs() {
			path, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return nil, err
			}
			name := path[strings.LastIndex(path, "/")+1:]
			if spec.Name != nil {
				name = spec.Name.Name
			}
			imports[name] = true
		}
		for _, d := range f.Decls {
			if fl, ok := d.(*ast.Field); ok {
				if id, ok := fl.Label.(*ast.Ident); ok && strings.HasPrefix(id.Name, "#") {
					defs[id.Name] = def{val: fl.Value, imports: imports}
				}
			}
		}
	}
	if _, ok := defs[root]; !ok {
		return nil, fmt.Errorf("no definition %s", root)
	}
	var out []string
	seen := map[string]bool{root: true}
	queue := []string{root}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		d := defs[name]
		var walk func(n ast.Node, path string)
		walk = func(n ast.Node, path string) {
			ast.Walk(n, func(x ast.Node) bool {
				switch x := x.(type) {
				case *ast.Field:
					label := fmt.Sprint(x.Label)
					switch l := x.Label.(type) {
					case *ast.Ident:
						label = l.Name
					case *ast.BasicLit:
						label = l.Value
					case *ast.Alias:
						out = append(out, path+" has an alias")
					default:
						// A pattern ([string]: ...) is a constraint too.
						walk(l, path)
					}
					walk(x.Value, path+"."+label)
					return false
				case *ast.SelectorExpr:
					// net.IP, #Real.port: only the first name is a
					// reference.
					walk(x.X, path)
					return false
				case *ast.Comprehension:
					out = append(out, path+" has a comprehension")
					return false
				case *ast.LetClause:
					out = append(out, path+" has a let clause")
					return false
				case *ast.Alias:
					out = append(out, path+" has an alias")
				case *ast.Ident:
					switch {
					case strings.HasPrefix(x.Name, "#"):
						if _, ok := defs[x.Name]; ok && !seen[x.Name] {
							seen[x.Name] = true
							queue = append(queue, x.Name)
						}
					case d.imports[x.Name], predeclared[x.Name]:
					default:
						out = append(out, path+" reads "+x.Name)
					}
				}
				return true
			}, nil)
		}
		walk(d.val, name)
	}
	return out, nil
}

// predeclared are CUE's predeclared identifiers: types and builtins.
var predeclared = map[string]bool{
	"_": true, "bool": true, "bytes": true, "float": true, "int": true, "null": true,
	"number": true, "string": true, "true": true, "false": true,
	"len": true, "close": true, "and": true, "or": true, "div": true, "mod": true,
	"quo": true, "rem": true, "error": true,
}
