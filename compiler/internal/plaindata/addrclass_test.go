package plaindata

import (
	"io/fs"
	"net/netip"
	"strconv"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/lvsgen/lvsgen/schema"
)

// loadSchema builds the embedded schema in ctx.
func loadSchema(t *testing.T, ctx *cue.Context) cue.Value {
	t.Helper()
	entries, err := fs.ReadDir(schema.Files, ".")
	if err != nil {
		t.Fatal(err)
	}
	inst := build.NewContext().NewInstance("schema", nil)
	for _, e := range entries {
		b, err := fs.ReadFile(schema.Files, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(e.Name(), b)
		if err != nil {
			t.Fatal(err)
		}
		if err := inst.AddSyntax(f); err != nil {
			t.Fatal(err)
		}
	}
	return ctx.BuildInstance(inst)
}

func strLit(s string) *Node {
	return &Node{kind: Leaf, expr: &ast.BasicLit{Kind: token.STRING, Value: strconv.Quote(s)}}
}

// classCorpus is addresses of every kind a schema could single out: the
// first, second and last of each special range, and ordinary ones.
func classCorpus() []string {
	var out []string
	for _, p := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/24", "224.0.0.0/4",
		"240.0.0.0/4", "1.0.0.0/8", "8.8.8.0/24", "11.0.0.0/8",
		"::/128", "::1/128", "::/96", "64:ff9b::/96", "100::/64", "2001::/32", "2001:db8::/32",
		"2002::/16", "fc00::/7", "fd00::/8", "fe80::/10", "fec0::/10", "ff01::/16", "ff02::/16",
		"ff05::/16", "ff0e::/16", "2a00::/12", "2600::/12",
	} {
		pf := netip.MustParsePrefix(p)
		first := pf.Masked().Addr()
		out = append(out, first.String(), first.Next().String())
		last := first
		for i := range last.BitLen() - pf.Bits() {
			b := last.As16()
			bit := last.BitLen() - 1 - i
			if last.Is4() {
				b4 := last.As4()
				b4[bit/8] |= 0x80 >> (bit % 8)
				last = netip.AddrFrom4(b4)
				continue
			}
			b[bit/8] |= 0x80 >> (bit % 8)
			last = netip.AddrFrom16(b)
		}
		out = append(out, last.String())
		if p := last.Prev(); p.IsValid() && p != first {
			out = append(out, p.String())
		}
	}
	out = append(out, "255.255.255.255", "255.255.255.254")
	return out
}

// TestAddrClasses holds the schema to what sharing verdicts by class
// assumes: #IP judges every canonical address of one class alike, and
// the fields written with #IP are the ones that share.
func TestAddrClasses(t *testing.T) {
	ctx := cuecontext.New()
	sch := loadSchema(t, ctx)
	s := NewShapes(ctx, NewValues(), func(err error) string { return err.Error() })
	svc := NewShape(sch.LookupPath(cue.ParsePath("#Service")))
	field := func(sh *Shape, name string) *Shape {
		t.Helper()
		f, ok := s.field(sh, name)
		if !ok {
			t.Fatalf("#Service has no field %s", name)
		}
		return f
	}
	vip := field(svc, "vip")
	for name, sh := range map[string]*Shape{
		"vip":             vip,
		"snat":            field(svc, "snat"),
		"reals[].address": field(s.elemOf(field(svc, "reals")), "address"),
		"addresses[]":     s.elemOf(field(svc, "addresses")),
	} {
		if sh.addrs == nil {
			t.Errorf("%s is #IP but shares no verdicts", name)
		}
	}
	for _, name := range []string{"port", "scheduler", "cluster"} {
		if field(svc, name).addrs != nil {
			t.Errorf("%s is not #IP but shares verdicts", name)
		}
	}

	// Within a class, CUE's verdict is the same for every address.
	first := map[addrClass]string{}
	bad := map[addrClass]bool{}
	for _, a := range classCorpus() {
		c, ok := addrClassOf(vip, keyOf(strLit(a).expr))
		if !ok {
			t.Errorf("%s is canonical but not classed", a)
			continue
		}
		v := s.unify(vip, strLit(a))
		if f, seen := first[c]; !seen {
			first[c], bad[c] = a, v.bad
		} else if v.bad != bad[c] {
			t.Errorf("#IP says %s is bad=%v but %s, of the same class %+v, bad=%v: #IP no longer judges a class alike (plaindata/addrclass.go)", a, v.bad, f, c, bad[c])
		}
	}
	if len(first) < 15 {
		t.Errorf("corpus covers %d classes, want at least 15", len(first))
	}

	// Texts that are not an address written canonically are each judged
	// on their own.
	for _, text := range []string{
		"010.0.0.1", "1.2.3.04", "::FFFF:1.2.3.4", "::ffff:1.2.3.4", "fe80::1%eth0",
		"2001:DB8::1", "2001:db8:0:0::1", "::1.2.3.4", " 1.2.3.4", "1.2.3.4/32", "x", "",
	} {
		if c, ok := addrClassOf(vip, keyOf(strLit(text).expr)); ok {
			t.Errorf("%q classed as %+v", text, c)
		}
	}
	for _, k := range []litKey{{tok: token.INT, val: "1"}, {tok: token.STRING, val: `#"1.2.3.4"#`}, {tok: token.STRING, val: `"1.2.3.4"`, neg: true}} {
		if c, ok := addrClassOf(vip, k); ok {
			t.Errorf("%v classed as %+v", k, c)
		}
	}

	// Through leaf, sharing or not, every literal gets CUE's verdict on
	// it, and an invalid one CUE's message about it.
	fresh := NewShape(sch.LookupPath(cue.ParsePath("#Service")))
	shared := field(fresh, "vip")
	for _, text := range append(classCorpus(), "::ffff:10.0.0.1", "10.0.0.256", "2001:db8::1::2") {
		got, want := s.leaf(shared, strLit(text)), s.unify(vip, strLit(text))
		if got != want {
			t.Errorf("leaf(%q) = %+v, CUE says %+v", text, got, want)
		}
	}
	if n, m := len(shared.leaves), len(classCorpus()); n >= m {
		t.Errorf("%d of %d literals evaluated: nothing shared", n, m)
	}
}
