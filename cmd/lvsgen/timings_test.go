package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestTimings: LVSGEN_TIMINGS=1 makes apply and plan report each phase on
// stderr, in the order they ran, and nothing without it.
func TestTimings(t *testing.T) {
	useNat1Kernel(t)
	dir := copyDir(t, "../../examples")
	state := t.TempDir()
	apply := []string{"apply", dir, "--host", "nat1", "--auto-approve", "--state-dir", state, "--rules-file", "", "--sysctl-file", "", "--nft-file", ""}
	phase := `\d+(\.\d+)?(ns|µs|ms|s)`
	for _, tt := range []struct {
		args   []string
		phases []string
	}{
		{apply, []string{"compile", "lock", "read and plan", "print plan", "intent", "kernel writes", "state", "persist"}},
		{apply, []string{"compile", "lock", "read and plan", "print plan", "state", "persist"}}, // nothing to do
		{[]string{"plan", dir, "--host", "nat1", "--state-dir", state}, []string{"compile", "read and plan", "print plan"}},
	} {
		t.Setenv(envTimings, "1")
		code, _, errOut := runCapture2(t, tt.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", tt.args, code, errOut)
		}
		parts := make([]string, len(tt.phases))
		for i, p := range tt.phases {
			parts[i] = regexp.QuoteMeta(p) + " " + phase
		}
		re := regexp.MustCompile(`(?m)^lvsgen: timings: ` + strings.Join(parts, ", ") + `; total ` + phase + `; \d+ GCs \(` + phase + ` paused\), heap peak \d+ MiB$`)
		if !re.MatchString(errOut) {
			t.Errorf("%v: stderr has no timings line matching %s:\n%s", tt.args[0], re, errOut)
		}
		t.Setenv(envTimings, "")
		if _, _, errOut := runCapture2(t, tt.args...); strings.Contains(errOut, "timings") {
			t.Errorf("%v without %s: %s", tt.args[0], envTimings, errOut)
		}
	}
}
