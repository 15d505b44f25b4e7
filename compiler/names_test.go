package compiler

import (
	"testing"

	"cuelang.org/go/cue"
)

// TestNamePattern holds the Go match of service names to CUE's own
// judgement of #Name, and shows the schema's #Name is a pattern the fast
// path can take.
func TestNamePattern(t *testing.T) {
	ev, err := newEvaluator(&checkVerdicts{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	re := namePattern(ev.schema)
	if re == nil {
		t.Fatal("#Name is not one regular expression: every service name goes through CUE")
	}
	def := ev.schema.LookupPath(cue.ParsePath("#Name"))
	for _, name := range []string{
		"web", "web-1", "a", "A.b_c-d", "0", "9web", "svc-10000",
		"", "-web", ".web", "_web", "web 1", "web\n", "\nweb", "wéb", "web/1", "web:80", "web\x00", "ⅷ", "web-",
	} {
		want := def.Unify(ev.ctx.Encode(name)).Validate() == nil
		if got := re.MatchString(name); got != want {
			t.Errorf("%q: Go says valid=%v, CUE's #Name says %v", name, got, want)
		}
	}
	for _, src := range []string{`#Name: string`, `#Name: =~"^a" & !~"b"`, `#Name: =~"^a" | "x"`} {
		if re := namePattern(ev.ctx.CompileString(src)); re != nil {
			t.Errorf("%s: pattern %v; want CUE to judge", src, re)
		}
	}
}
