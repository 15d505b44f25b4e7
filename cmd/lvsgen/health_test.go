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
	args := []string{"apply", dir, "--host", "nat1", "--auto-approve", "--state-dir", state, "--rules-file", "", "--sysctl-file", "", "--nft-file", ""}
	code, out := runCapture(t, args...)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	if want := "# health: app2 down since " + since.Format("15:04:05") + " (saved health state: connection refused)"; !strings.Contains(out, want) {
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

func TestStatus(t *testing.T) {
	state := t.TempDir()
	saved := time.Date(2026, 12, 7, 12, 3, 10, 0, time.UTC)
	since := saved.Add(-3 * time.Second)
	err := health.WriteSnapshot(health.SnapshotPath(state, "lb1"), health.Snapshot{Version: health.SnapshotVersion, Saved: saved, Targets: []health.SnapshotTarget{
		{Service: "web", Real: "web1", Up: true, Since: since.Add(-time.Hour), At: saved, Detail: "200", Type: health.HTTP, Addr: "10.0.0.11:8080", OK: true, Passes: 40, Checks: 40},
		{Service: "web", Real: "web2", Up: false, Since: since, At: saved, Detail: "503", Type: health.HTTP, Addr: "10.0.0.12:8080", Fails: 3, Checks: 43},
	}})
	if err != nil {
		t.Fatal(err)
	}
	old := now
	now = func() time.Time { return saved.Add(2 * time.Second) }
	t.Cleanup(func() { now = old })

	code, out := runCapture(t, "status", "--host", "lb1", "--state-dir", state)
	want := `Health of lb1, saved 2026-12-07 12:03:10Z (2s ago)

service web
  REAL  STATE  SINCE                 CHECK                LAST RESULT                        COUNT
  web1  up     2026-12-07 11:03:07Z  http 10.0.0.11:8080  ok at 2026-12-07 12:03:10Z: 200    40 passed
  web2  DOWN   2026-12-07 12:03:07Z  http 10.0.0.12:8080  fail at 2026-12-07 12:03:10Z: 503  3 failed
`
	if code != 0 || out != want {
		t.Errorf("status: exit %d\n%s\nwant:\n%s", code, out, want)
	}

	code, out = runCapture(t, "status", "--host", "lb1", "--state-dir", state, "--format", "json")
	if code != 0 || !strings.Contains(out, `"host": "lb1"`) || !strings.Contains(out, `"fails": 3`) {
		t.Errorf("status --format json: exit %d\n%s", code, out)
	}

	now = func() time.Time { return saved.Add(time.Hour) }
	if _, out = runCapture(t, "status", "--host", "lb1", "--state-dir", state); !strings.Contains(out, "lvsgen watch is not running") {
		t.Errorf("an hour-old file gives no warning:\n%s", out)
	}
	if code, _ = runCapture(t, "status", "--host", "lb2", "--state-dir", state); code != 1 {
		t.Errorf("status of a host with no file: exit %d, want 1", code)
	}
}
