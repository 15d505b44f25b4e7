package compiler

import (
	"path/filepath"
	"testing"
)

// TestBuildAttributes: a file whose @if excludes it under the tag lvsgen
// (a file for CUE's tools alone) is not configuration, as `cue -t lvsgen`
// would leave it out; one that holds is; one lvsgen cannot evaluate is a
// syntax error at the attribute.
func TestBuildAttributes(t *testing.T) {
	const svc = "package lvs\n\nservices: s: {cluster: \"nope\", vip: \"192.0.2.1\", port: 80}\n"
	for _, tt := range []struct {
		name, attr string
		rule       string // the one diagnostic's rule, "" for none
	}{
		{"excluded", "@if(!lvsgen)\n", ""},
		{"excluded by a combination", "@if(!(lvsgen || other) && !foo)\n", ""},
		{"included", "@if(lvsgen)\n", "unknown-cluster"},
		{"included by a combination", "@if(lvsgen && !other)\n", "unknown-cluster"},
		{"another tag", "@if(other)\n", ""},
		{"no attribute", "", "unknown-cluster"},
		{"an expression no tag makes", "@if(1 + 2)\n", "syntax"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "a.cue"), tt.attr+svc)
			res, err := Compile(dir)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if len(res.Diagnostics) > 0 {
				got = res.Diagnostics[0].Rule
			}
			if len(res.Diagnostics) > 1 || got != tt.rule {
				t.Errorf("diagnostics %s, want one of rule %q", res.Diagnostics, tt.rule)
			}
		})
	}
}
