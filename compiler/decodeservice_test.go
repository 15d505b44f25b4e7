package compiler

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/compiler/internal/plaindata"
)

// everyField is a service that sets every field of #Service and #Real to
// a value other than its default. It need not pass the LVS rules: only
// the shape is checked here.
const everyField = `services: s: {
	cluster: "c"
	vip: "192.0.2.1"
	protocol: "udp"
	port: 53
	fwmark: 7
	addresses: ["192.0.2.2"]
	family: "ipv4"
	forwarding: "tun"
	tunnel: {type: "gue", port: 6080, checksum: "csum"}
	scheduler: "sh"
	flags: ["sh-port"]
	persistence: {timeout: 600, netmask: 24, engine: "sip"}
	onePacket: true
	drainTimeout: "30s"
	waive: {"ha-reals": "one is enough"}
	check: {type: "https", port: 8443, interval: "10s", timeout: "2s", rise: 3, fall: 4, initial: "down", onFailure: "remove",
		path: "/healthz", host: "www.example.com", expect: [200, 204], body: "ok", serverName: "www.example.com", verify: true,
		send: "ping", receive: "pong", query: "example.com.", queryType: "AAAA", answer: "2001:db8::1",
		command: ["/bin/true", "-x"], user: "nobody"}
	sorry: {host: "maint", address: "10.0.0.9", port: 8080}
	quorum: 2
	hysteresis: 1
	snat: "192.0.2.3"
	reals: [{host: "rs1", address: "10.0.0.1", port: 5353, weight: 3, upperThreshold: 100, lowerThreshold: 10,
		check: {type: "dns", port: 53, interval: "2s", timeout: "1s", rise: 1, fall: 1, initial: "down", onFailure: "remove",
			path: "/x", host: "h", expect: [503], body: "b", serverName: "s", verify: true,
			send: "a", receive: "b", query: "q.", queryType: "TXT", answer: "t", command: ["/bin/false"], user: "daemon"}}]
}
`

// TestDecodeEveryField decodes a service that sets every field, on both
// evaluation paths' data, with decodeRaw, and requires what CUE's own
// decoder makes of it by rawService's json tags — with no field of
// rawService left zero, and rawService's fields those of #Service. A
// field added to the schema but not to rawService fails here; so does
// one added to both but not to decodeRaw, or not to everyField.
func TestDecodeEveryField(t *testing.T) {
	ev, err := newEvaluator(&checkVerdicts{}, plaindata.NewValues())
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile("every.cue", everyField)
	if err != nil {
		t.Fatal(err)
	}
	user := ev.ctx.BuildFile(f).LookupPath(cue.ParsePath("services.s"))
	shape := ev.serviceDef.Unify(user)
	if err := shape.Validate(cue.Concrete(true)); err != nil {
		t.Fatalf("everyField does not fit #Service: %v", err)
	}

	// rawService mirrors #Service: the same fields, by its json tags.
	if diff := cmp.Diff(schemaFields(ev.serviceDef, ""), tagFields(reflect.TypeFor[rawService](), "")); diff != "" {
		t.Errorf("#Service's fields (-) and rawService's (+):\n%s", diff)
	}

	var want rawService
	if err := shape.Decode(&want); err != nil {
		t.Fatal(err)
	}
	for _, p := range zeroFields(reflect.ValueOf(want), "rawService") {
		t.Errorf("everyField leaves %s unset: set it to a value other than its default", p)
	}

	var whole map[string]any
	if err := shape.Decode(&whole); err != nil {
		t.Fatal(err)
	}
	gotWhole, err := decodeRaw(whole)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, gotWhole); diff != "" {
		t.Errorf("whole-CUE data (-want +got):\n%s", diff)
	}

	tree, ok := plaindata.Read([]*ast.File{f})
	if !ok {
		t.Fatal("everyField is not plain data")
	}
	n := tree.Get("services").Val.Get("s").Val
	var issues []plaindata.Issue
	ev.shapes.Check(ev.serviceShape, n, nil, &issues)
	if len(issues) > 0 {
		t.Fatalf("plain-data issues: %v", issues)
	}
	data, _ := ev.shapes.Data(n, nil).(map[string]any)
	ev.shapes.WithDefaults(ev.serviceShape, data)
	gotTree, err := decodeRaw(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, gotTree); diff != "" {
		t.Errorf("plain data (-want +got):\n%s", diff)
	}
}

// schemaFields lists the paths of v's fields, regular and optional, in
// nested structs and list elements ([] for an element), sorted. A struct
// with no fields of its own (waive's [string]: string) is one field.
func schemaFields(v cue.Value, path string) []string {
	var out []string
	if v.IncompleteKind() == cue.ListKind {
		if el := v.LookupPath(cue.MakePath(cue.AnyIndex)); el.Exists() && el.IncompleteKind() == cue.StructKind {
			return schemaFields(el, path+"[]")
		}
		return nil
	}
	it, err := v.Fields(cue.Optional(true))
	if err != nil || v.IncompleteKind() != cue.StructKind {
		return nil
	}
	for it.Next() {
		p := strings.TrimPrefix(path+"."+it.Selector().Unquoted(), ".")
		out = append(out, p)
		out = append(out, schemaFields(it.Value(), p)...)
	}
	slices.Sort(out)
	return out
}

// tagFields is schemaFields for a Go type, by its json tags.
func tagFields(t reflect.Type, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Slice {
		if t.Elem().Kind() == reflect.Struct {
			return tagFields(t.Elem(), path+"[]")
		}
		return nil
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		p := strings.TrimPrefix(path+"."+name, ".")
		out = append(out, p)
		out = append(out, tagFields(t.Field(i).Type, p)...)
	}
	slices.Sort(out)
	return out
}

// zeroFields lists the paths of v's fields that hold their zero value.
func zeroFields(v reflect.Value, path string) []string {
	var out []string
	walkFields(v, path, func(p string, zero bool) {
		if zero {
			out = append(out, p)
		}
	})
	return out
}

// walkFields calls fn with the path of each of v's fields and whether it
// holds its zero value, looking into this module's structs, pointers to
// them and slices of them (a pointer or slice that is set is reported set
// too). Other structs (netip.Addr) are single values.
func walkFields(v reflect.Value, path string, fn func(path string, zero bool)) {
	ours := func(t reflect.Type) bool {
		return t.Kind() == reflect.Struct && strings.HasPrefix(t.PkgPath(), "github.com/lvsgen/lvsgen/")
	}
	switch {
	case v.Kind() == reflect.Pointer && ours(v.Type().Elem()):
		fn(path, v.IsNil())
		if !v.IsNil() {
			walkFields(v.Elem(), path, fn)
		}
	case v.Kind() == reflect.Slice && ours(v.Type().Elem()):
		fn(path, v.Len() == 0)
		for i := range v.Len() {
			walkFields(v.Index(i), path+"[]", fn)
		}
	case ours(v.Type()):
		for i := range v.NumField() {
			walkFields(v.Field(i), path+"."+v.Type().Field(i).Name, fn)
		}
	default:
		fn(path, v.IsZero())
	}
}
