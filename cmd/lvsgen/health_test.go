package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/health"
)

// checkedExamples copies the examples with a tcp check on app-api
// (nat1's app1 and app2) and returns the directory.
func checkedExamples(t *testing.T) string {
	t.Helper()
	dir := copyDir(t, "../../examples")
	err := os.WriteFile(filepath.Join(dir, "health.cue"), []byte("package lvs\n\nservices: \"app-api\": check: {type: \"tcp\"}\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestApplyKeepsSavedHealth(t *testing.T) {
	k := useNat1Kernel(t)
	state := t.TempDir()
	since := time.Date(2026, 12, 7, 12, 3, 7, 0, time.UTC)
	err := health.WriteSnapshot(health.SnapshotPath(state, "nat1"), health.Snapshot{Version: health.SnapshotVersion, Saved: since, Targets: []health.SnapshotTarget{
		{Service: "app-api", Real: "app1", Up: true, Since: since},
		{Service: "app-api", Real: "app2", Up: false, Since: since, At: since, Detail: "connection refused"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	dir := checkedExamples(t)
	args := []string{"apply", dir, "--host", "nat1", "--auto-approve", "--state-dir", state, "--rules-file", "", "--sysctl-file", ""}
	code, out := runCapture(t, args...)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	if want := "# health: app2 down since " + since.Local().Format("15:04:05") + " (saved health state: connection refused)"; !strings.Contains(out, want) {
		t.Errorf("apply output lacks %q:\n%s", want, out)
	}
	if s := k.String(); !strings.Contains(s, "-r 10.20.0.12:8080 -m -w 0\n") {
		t.Errorf("app2 not quiesced in the kernel:\n%s", s)
	}
	// A second plan changes nothing: apply kept the health decision.
	code, out = runCapture(t, "plan", dir, "--host", "nat1", "--state-dir", state, "--detailed-exitcode")
	if code != 0 {
		t.Errorf("plan after apply: exit %d, want 0\n%s", code, out)
	}
}

func TestPlanBadSnapshotWarns(t *testing.T) {
	useNat1Kernel(t)
	state := t.TempDir()
	if err := os.WriteFile(health.SnapshotPath(state, "nat1"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, errOut := runCapture2(t, "plan", checkedExamples(t), "--host", "nat1", "--state-dir", state)
	if !strings.Contains(errOut, "warning: ignoring the saved health state") {
		t.Errorf("no warning on stderr:\n%s", errOut)
	}
	if strings.Contains(out, "health:") {
		t.Errorf("a bad snapshot must give no health:\n%s", out)
	}
}
