package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompletion: --host completes the managed hosts of the config on
// the command line, --format the command's values.
func TestCompletion(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", "render", "../../examples", "--host", "la"}, ""},
		{[]string{"__complete", "render", "../../examples", "--host", "l"}, "lb1\nlb2\n"},
		{[]string{"__complete", "plan", "../../examples", "--host", "ca"}, "cache1\ncache2\n"},
		{[]string{"__complete", "render", "../../examples", "--format", ""}, "text\nipvsadm-save\nsysctl\njson\nkeepalived-vrrp\nnft\n"},
		{[]string{"__complete", "validate", "../../examples", "--format", ""}, "text\njson\ngithub\n"},
	} {
		code, out := runCapture(t, tt.args...)
		got, _, _ := strings.Cut(out, ":")
		if code != 0 || got != tt.want {
			t.Errorf("lvsgen %s: exit %d, completions %q, want %q", strings.Join(tt.args, " "), code, got, tt.want)
		}
	}
}

// TestRenderPolicy: render checks the policies of --policy as validate
// does, and renders nothing for a config they deny.
func TestRenderPolicy(t *testing.T) {
	pol := t.TempDir()
	if err := os.WriteFile(filepath.Join(pol, "deny.cue"), []byte(`package deny

rules: "no-edge": {
	severity: "deny"
	message:  "no edge services"
	violations: [for s in model.services if s.cluster == "edge" {service: s.name}]
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCapture2(t, "render", "../../examples", "--host", "lb1", "--policy", pol); code != 1 || out != "" || !strings.Contains(errOut, "no edge services [no-edge]") {
		t.Errorf("render with a denying policy: exit %d, printed\n%s%s", code, out, errOut)
	}
	if code, _ := runCapture(t, "render", "../../examples", "--host", "lb1"); code != 0 {
		t.Errorf("render without it: exit %d", code)
	}
}
