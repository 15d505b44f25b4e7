package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lvsgen/lvsgen/applier"
	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/applier/kernel/memory"
	"github.com/lvsgen/lvsgen/internal/goldentest"
)

// useMemoryKernel makes plan and apply talk to k for the test.
func useMemoryKernel(t *testing.T, k *memory.Kernel) {
	t.Helper()
	old, oldLock := openKernel, lockLiveKernel
	openKernel = func() (kernel.Kernel, error) { return k, nil }
	// The real kernel lock, in a directory of this kernel's own.
	run := filepath.Join(t.TempDir(), "run")
	lockLiveKernel = func() (func(), error) { return applier.LockNetNS(run) }
	t.Cleanup(func() { openKernel, lockLiveKernel = old, oldLock })
}

// useNat1Kernel makes plan, apply and watch talk to a new in-memory
// kernel with nat1's two devices, and returns it.
func useNat1Kernel(t *testing.T) *memory.Kernel {
	t.Helper()
	k := memory.New()
	k.AddDevice("eth0")
	k.AddDevice("eth1")
	useMemoryKernel(t, k)
	return k
}

// lb1Capture writes an ipvsadm-save capture of what lb1 runs today:
// edge-http with web2 at weight 5, and a service the config does not
// know. It returns the file's path.
func lb1Capture(t *testing.T) string {
	t.Helper()
	capture := filepath.Join(t.TempDir(), "lb1.save")
	err := os.WriteFile(capture, []byte(`-A -t 192.0.2.10:80 -s wrr
-a -t 192.0.2.10:80 -r 10.10.0.11:80 -g -w 3
-a -t 192.0.2.10:80 -r 10.10.0.12:80 -g -w 5
-A -t 192.0.2.99:22 -s rr
-a -t 192.0.2.99:22 -r 10.10.0.11:22 -g -w 1
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return capture
}

func TestPlanObserved(t *testing.T) {
	capture := lb1Capture(t)
	code, out := runCapture(t, "plan", "../../examples", "--host", "lb1", "--observed", capture, "--detailed-exitcode")
	if code != 2 {
		t.Fatalf("exit %d, want 2 (changes)\n%s", code, out)
	}
	for _, want := range []string{
		"~ destination tcp:192.0.2.10:80 -> 10.10.0.12:80  weight: 5 → 1",
		"+ service   tcp:192.0.2.10:443",
		"? service   tcp:192.0.2.99:22  unmanaged",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sysctl") || strings.Contains(out, "address") {
		t.Errorf("a capture plan must compare the IPVS table only:\n%s", out)
	}
}

// TestPlanObservedStdin: --observed - reads the capture from stdin and
// plans exactly as from the file.
func TestPlanObservedStdin(t *testing.T) {
	capture := lb1Capture(t)
	b, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	_, fromFile := runCapture(t, "plan", "../../examples", "--host", "lb1", "--observed", capture, "--format", "json")
	code, fromStdin, errOut := runStdin(t, string(b), "plan", "../../examples", "--host", "lb1", "--observed", "-", "--format", "json")
	if code != 0 || fromStdin != fromFile || !strings.Contains(fromStdin, "192.0.2.99") {
		t.Fatalf("--observed -: exit %d\n%s\nwant\n%s%s", code, fromStdin, fromFile, errOut)
	}
	code, _, errOut = runStdin(t, "-A -t 192.0.2.10:80 -s nope\n", "plan", "../../examples", "--host", "lb1", "--observed", "-")
	if code != 1 || !strings.Contains(errOut, "reading --observed standard input") {
		t.Errorf("a bad capture on stdin: exit %d\n%s", code, errOut)
	}
}

func TestApplyThenNoop(t *testing.T) {
	k := useNat1Kernel(t)
	state := t.TempDir()
	rules := filepath.Join(state, "ipvsadm.rules")
	args := []string{"apply", copyDir(t, "../../examples"), "--host", "nat1", "--auto-approve", "--state-dir", state, "--rules-file", rules, "--sysctl-file", "", "--nft-file", ""}
	code, out := runCapture(t, args...)
	// 1 link, 6 sysctls (the rest are at their defaults), 2 VIPs, 2
	// services, 4 destinations.
	if code != 0 || !strings.Contains(out, "Applied 15 of 15 operations") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	saved, err := os.ReadFile(rules)
	if err != nil || !strings.HasPrefix(string(saved), "-A -t 192.168.100.20:80 -s wlc\n") {
		t.Errorf("rules file: %v\n%s", err, saved)
	}
	writes := k.Writes
	code, out = runCapture(t, "plan", "../../examples", "--host", "nat1", "--state-dir", state, "--detailed-exitcode")
	if code != 0 || !strings.Contains(out, "no changes") {
		t.Fatalf("plan after apply: exit %d\n%s", code, out)
	}
	code, out = runCapture(t, args...)
	if code != 0 || k.Writes != writes {
		t.Fatalf("second apply: exit %d, %d writes\n%s", code, k.Writes-writes, out)
	}
}

// TestApplyOneWriterPerKernel checks that an apply is refused while
// another run holds the kernel's lock, whatever the host name and state
// directory: two applies for different hosts of one kernel must not
// interleave.
func TestApplyOneWriterPerKernel(t *testing.T) {
	k := useNat1Kernel(t)
	unlock, err := lockLiveKernel() // another run, for another host
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"apply", copyDir(t, "../../examples"), "--host", "nat1", "--auto-approve", "--state-dir", t.TempDir(), "--rules-file", "", "--sysctl-file", "", "--nft-file", ""}
	code, out, errOut := runCapture2(t, args...)
	if code != 1 || k.Writes != 0 || !strings.Contains(errOut, "another lvsgen apply or watch is writing this kernel") {
		t.Fatalf("apply while the kernel is locked: exit %d, %d writes\n%s%s", code, k.Writes, out, errOut)
	}
	unlock()
	if code, out := runCapture(t, args...); code != 0 {
		t.Fatalf("apply once the lock is free: exit %d\n%s", code, out)
	}
}

func TestApplyRefusesTooManyDeletes(t *testing.T) {
	k := useNat1Kernel(t)
	state := t.TempDir()
	runCapture(t, "apply", copyDir(t, "../../examples"), "--host", "nat1", "--auto-approve", "--state-dir", state, "--rules-file", "", "--sysctl-file", "", "--nft-file", "")
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "a.cue"), []byte(`hosts: nat1: interfaces: eth0: addresses: ["10.20.0.1/24"]
clusters: internal: directors: ["nat1"]
`), 0o644)
	before := k.Writes
	code, out := runCapture(t, "apply", empty, "--host", "nat1", "--auto-approve", "--state-dir", state, "--rules-file", "", "--sysctl-file", "", "--nft-file", "", "--max-deletes", "1")
	if code != 1 || k.Writes != before {
		t.Fatalf("exit %d, %d writes; want a refusal and no write\n%s", code, k.Writes-before, out)
	}
}

func TestApplyMissingInterfaceWritesNothing(t *testing.T) {
	k := memory.New()
	k.AddDevice("eth0") // nat1's eth1 is missing
	useMemoryKernel(t, k)
	code, out := runCapture(t, "apply", copyDir(t, "../../examples"), "--host", "nat1", "--auto-approve", "--state-dir", t.TempDir(), "--rules-file", "", "--sysctl-file", "", "--nft-file", "")
	if code != 1 || k.Writes != 0 || !strings.Contains(out, "! host nat1 has no interface eth1") {
		t.Fatalf("exit %d, %d writes\n%s", code, k.Writes, out)
	}
}

func TestApplyInvalidConfigWritesNothing(t *testing.T) {
	k := memory.New()
	useMemoryKernel(t, k)
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "a.cue"), []byte("services: s: {cluster: \"x\", vip: \"192.0.2.1\", port: 80}\n"), 0o644)
	code, _ := runCapture(t, "apply", bad, "--host", "lb1", "--auto-approve", "--state-dir", t.TempDir())
	if code != 1 || k.Writes != 0 {
		t.Fatalf("exit %d, %d writes", code, k.Writes)
	}
}

// TestApplyReportsBatchFailure: when a service's creation fails, the
// kernel also refuses its destinations in the same batch; apply says so,
// and what it did not send, and exits 1.
func TestApplyReportsBatchFailure(t *testing.T) {
	k := useNat1Kernel(t)
	failed := false
	k.Fail = func(op string) error {
		if strings.HasPrefix(op, "adding service") && !failed {
			failed = true
			return fmt.Errorf("%s: %w", op, syscall.EIO)
		}
		return nil
	}
	code, out := runCapture(t, "apply", copyDir(t, "../../examples"), "--host", "nat1", "--auto-approve", "--state-dir", t.TempDir(), "--rules-file", "", "--sysctl-file", "", "--nft-file", "")
	for _, want := range []string{
		"Applied 12 of 15 operations",
		"Failed: create service tcp:192.168.100.20:80: adding service tcp:192.168.100.20:80: input/output error",
		"Also failed in the same batch: 2 destination create (first: adding destination",
		"no such process",
		"Not done: nothing.",
	} {
		if code != 1 || !strings.Contains(out, want) {
			t.Fatalf("exit %d, want 1 and %q in\n%s", code, want, out)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the golden outputs under testdata/golden")

// TestPlanGolden pins `lvsgen plan`'s output, text and JSON, byte for
// byte: against a capture, and against a live (in-memory) kernel.
func TestPlanGolden(t *testing.T) {
	capture := lb1Capture(t)
	k := memory.New()
	k.AddDevice("eth0")
	useMemoryKernel(t, k)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"plan-observed", []string{"plan", "../../examples", "--host", "lb1", "--observed", capture}},
		{"plan-live", []string{"plan", "../../examples", "--host", "nat1", "--state-dir", t.TempDir()}},
	} {
		for _, format := range []string{"text", "json"} {
			t.Run(tt.name+"."+format, func(t *testing.T) {
				_, out := runCapture(t, append(tt.args, "--format", format)...)
				goldentest.Check(t, filepath.Join("testdata", "golden", tt.name+"."+format), []byte(out), *update)
			})
		}
	}
}

// TestApplyRefusesWritableConfig: a config file others can write is
// refused by apply and watch before anything is compiled or written,
// naming the file and the override; --allow-unsafe-permissions applies it.
func TestApplyRefusesWritableConfig(t *testing.T) {
	k := useNat1Kernel(t)
	dir := copyDir(t, "../../examples")
	file := filepath.Join(dir, "hosts.cue")
	if err := os.Chmod(file, 0o666); err != nil {
		t.Fatal(err)
	}
	args := []string{"apply", dir, "--host", "nat1", "--auto-approve", "--state-dir", t.TempDir(), "--rules-file", "", "--sysctl-file", "", "--nft-file", ""}
	code, out, errOut := runCapture2(t, args...)
	if code != 1 || k.Writes != 0 || !strings.Contains(errOut, file+" is writable by group or others") || !strings.Contains(errOut, "--allow-unsafe-permissions") {
		t.Fatalf("apply of a world-writable config: exit %d, %d writes\n%s%s", code, k.Writes, out, errOut)
	}
	// plan and validate only read: they do not mind.
	if code, out := runCapture(t, "validate", dir); code != 0 {
		t.Errorf("validate: exit %d\n%s", code, out)
	}
	if code, out := runCapture(t, append(args, "--allow-unsafe-permissions")...); code != 0 || k.Writes == 0 {
		t.Fatalf("apply --allow-unsafe-permissions: exit %d\n%s", code, out)
	}
	// A directory others can write is refused too.
	os.Chmod(file, 0o644)
	os.Chmod(dir, 0o777)
	if code, _, errOut := runCapture2(t, args...); code != 1 || !strings.Contains(errOut, "config directory "+dir+" is writable by group or others") {
		t.Fatalf("apply of a config in a world-writable directory: exit %d\n%s", code, errOut)
	}
}

// TestApplyRefusesEmptyingByDefault: a config directory caught half
// copied — its hosts and clusters there, its services not yet — is valid
// and would delete every service. By default apply refuses to delete more
// than a quarter of the managed services (one always may), says why, and
// writes nothing; --max-delete-fraction 1 lets it.
func TestApplyRefusesEmptyingByDefault(t *testing.T) {
	k := useNat1Kernel(t)
	state := t.TempDir()
	flags := []string{"--host", "nat1", "--auto-approve", "--state-dir", state, "--rules-file", "", "--sysctl-file", "", "--nft-file", ""}
	if code, out := runCapture(t, append([]string{"apply", copyDir(t, "../../examples")}, flags...)...); code != 0 {
		t.Fatalf("first apply: exit %d\n%s", code, out)
	}
	half := t.TempDir()
	os.WriteFile(filepath.Join(half, "a.cue"), []byte(`hosts: nat1: interfaces: {eth0: addresses: ["192.168.100.2/24"], eth1: addresses: ["10.20.0.1/24"]}
clusters: internal: directors: ["nat1"]
`), 0o644)
	before := k.Writes
	code, out, errOut := runCapture2(t, append([]string{"apply", half}, flags...)...)
	if code != 1 || k.Writes != before || !strings.Contains(errOut, "the plan deletes 2 of the 2 IPVS services lvsgen manages on host nat1, more than --max-delete-fraction 0.25 allows (1)") {
		t.Fatalf("apply of a config with no services: exit %d, %d writes\n%s%s", code, k.Writes-before, out, errOut)
	}
	if code, out := runCapture(t, append([]string{"apply", half, "--max-delete-fraction", "1"}, flags...)...); code != 0 || k.Writes == before {
		t.Fatalf("apply --max-delete-fraction 1: exit %d\n%s", code, out)
	}
	if code, _ := runCapture(t, append([]string{"apply", half, "--max-delete-fraction", "0"}, flags...)...); code != exitUsage {
		t.Errorf("--max-delete-fraction 0: exit %d, want a usage error", code)
	}
}

// applyDoc is the JSON document of apply --format json, as a program
// reads it.
type applyDoc struct {
	Version int
	Host    string
	Outcome string
	Error   string
	Plan    *struct {
		Version int
		Host    string
		Changes int
		Ops     []struct {
			Action, Kind, Object, Service, Reason string
			Before, After                         any
		}
		Unmanaged []string
		Problems  []string
		Summary   struct{ Create, Update, Delete, Drain, Wait, Unmanaged int }
	}
	Results []struct{ Action, Kind, Object, Result, Error, Errno string }
}

// decodeOne decodes stdout as exactly one JSON document: anything after
// it, even a second document, fails the test.
func decodeOne(t *testing.T, stdout string) applyDoc {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	var doc applyDoc
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not one apply document: %v\n%s", err, stdout)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("stdout holds more than one JSON document (%v):\n%s", err, stdout)
	}
	return doc
}

// TestApplyJSON drives apply --format json against the in-memory kernel
// through each outcome: stdout is one document whose results follow the
// plan's operations, and the progress is on stderr.
func TestApplyJSON(t *testing.T) {
	k := useNat1Kernel(t)
	state := t.TempDir()
	args := []string{"apply", copyDir(t, "../../examples"), "--host", "nat1", "--auto-approve", "--state-dir", state, "--rules-file", "", "--sysctl-file", "", "--nft-file", "", "--format", "json"}

	// The first service creation fails: the kernel refuses it (EIO) and
	// its two destinations in the same batch (ESRCH).
	failed := false
	k.Fail = func(op string) error {
		if strings.HasPrefix(op, "adding service") && !failed {
			failed = true
			return fmt.Errorf("%s: %w", op, syscall.EIO)
		}
		return nil
	}
	code, out, errOut := runStdin(t, "", args...)
	doc := decodeOne(t, out)
	if code != 1 || doc.Outcome != "failed" || !strings.Contains(doc.Error, "input/output error") || !strings.Contains(errOut, "Applied 12 of 15 operations") {
		t.Fatalf("a failing apply: exit %d, outcome %q, error %q\n%s", code, doc.Outcome, doc.Error, errOut)
	}
	counts := map[string]int{}
	errnos := map[string]int{}
	for i, r := range doc.Results {
		op := doc.Plan.Ops[i]
		if r.Action != op.Action || r.Kind != op.Kind || r.Object != op.Object {
			t.Errorf("result %d is for %s %s %s, the plan's op %d is %+v", i, r.Action, r.Kind, r.Object, i, op)
		}
		counts[r.Result]++
		errnos[r.Errno]++
	}
	if len(doc.Results) != 15 || counts["ok"] != 12 || counts["error"] != 3 || errnos["EIO"] != 1 || errnos["ESRCH"] != 2 {
		t.Errorf("results: %d, by status %v, by errno %v; want 15: 12 ok, 3 errors (1 EIO, 2 ESRCH)", len(doc.Results), counts, errnos)
	}

	k.Fail = nil
	code, out, errOut = runStdin(t, "", args...)
	doc = decodeOne(t, out)
	if code != 0 || doc.Version != 1 || doc.Host != "nat1" || doc.Outcome != "applied" || doc.Error != "" || doc.Plan == nil || doc.Plan.Version != 1 || doc.Plan.Changes != 3 || len(doc.Results) != 3 {
		t.Fatalf("the apply that converges: exit %d, %+v\n%s", code, doc, errOut)
	}
	for _, r := range doc.Results {
		if r.Result != "ok" || r.Error != "" || r.Errno != "" {
			t.Errorf("result %+v, want ok", r)
		}
	}
	if !strings.Contains(errOut, "Applied 3 of 3 operations") {
		t.Errorf("stderr lacks the progress:\n%s", errOut)
	}

	code, out, _ = runStdin(t, "", args...)
	if doc = decodeOne(t, out); code != 0 || doc.Outcome != "no-changes" || len(doc.Results) != 0 {
		t.Errorf("a second apply: exit %d, %+v", code, doc)
	}

	// A plan that deletes every service is refused: the plan is there,
	// nothing is done.
	half := t.TempDir()
	os.WriteFile(filepath.Join(half, "a.cue"), []byte(`hosts: nat1: interfaces: {eth0: addresses: ["192.168.100.2/24"], eth1: addresses: ["10.20.0.1/24"]}
clusters: internal: directors: ["nat1"]
`), 0o644)
	code, out, _ = runStdin(t, "", "apply", half, "--host", "nat1", "--auto-approve", "--state-dir", state, "--format", "json")
	doc = decodeOne(t, out)
	if code != 1 || doc.Outcome != "refused" || !strings.Contains(doc.Error, "plan refused") || doc.Plan == nil || len(doc.Results) == 0 {
		t.Errorf("a refused plan: exit %d, %+v", code, doc)
	}
	for _, r := range doc.Results {
		if r.Result != "not-done" {
			t.Errorf("a refused plan's result %+v, want not-done", r)
		}
	}

	// Without --auto-approve, off a terminal: a usage error, the plan
	// shown and nothing done.
	code, out, errOut = runStdin(t, "yes\n", "apply", half, "--host", "nat1", "--state-dir", state, "--format", "json", "--max-delete-fraction", "1")
	if doc = decodeOne(t, out); code != exitUsage || doc.Outcome != "cancelled" || doc.Plan == nil || doc.Results[0].Result != "not-done" || !strings.Contains(errOut, "--auto-approve") {
		t.Errorf("no terminal: exit %d, %+v\n%s", code, doc, errOut)
	}

	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "a.cue"), []byte("services: s: {cluster: \"x\", vip: \"192.0.2.1\", port: 80}\n"), 0o644)
	code, out, errOut = runStdin(t, "", "apply", bad, "--host", "nat1", "--auto-approve", "--state-dir", state, "--format", "json")
	if doc = decodeOne(t, out); code != 1 || doc.Outcome != "invalid" || doc.Plan != nil || len(doc.Results) != 0 || !strings.Contains(errOut, "[unknown-cluster]") {
		t.Errorf("an invalid config: exit %d, %+v\n%s", code, doc, errOut)
	}
}

// TestApplyAdoptAfterCorruptState: a corrupt state file stops apply with a
// message naming --adopt; apply --adopt then claims what the config's
// apply made, writing nothing to the kernel, and says what it adopted.
func TestApplyAdoptAfterCorruptState(t *testing.T) {
	k := useNat1Kernel(t)
	state := t.TempDir()
	dir := copyDir(t, "../../examples")
	args := []string{"apply", dir, "--host", "nat1", "--auto-approve", "--state-dir", state, "--rules-file", "", "--sysctl-file", "", "--nft-file", ""}
	if code, out := runCapture(t, args...); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	if err := os.WriteFile(applier.StatePath(state, "nat1"), []byte("null"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCapture2(t, args...); code != 1 || !strings.Contains(errOut, "lvsgen apply --adopt") {
		t.Fatalf("apply with a corrupt state: exit %d, want 1 and a message naming --adopt\n%s", code, errOut)
	}
	writes := k.Writes
	code, out, errOut := runCapture2(t, append(args, "--adopt")...)
	if code != 0 || !strings.Contains(errOut, "Adopting as lvsgen's (--adopt): service tcp:192.168.100.20:80") || k.Writes != writes {
		t.Fatalf("apply --adopt: exit %d, %d writes\n%s%s", code, k.Writes-writes, out, errOut)
	}
	st, err := applier.LoadState(state, "nat1")
	if err != nil || len(st.Addresses) != 2 || len(st.Links) != 1 {
		t.Fatalf("state after --adopt: %v %+v", err, st)
	}
}
