//go:build e2eguest

package apply

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// TestApplyJSON runs apply --format json on the real kernel with a
// service whose scheduler the kernel lacks: stdout is one JSON document
// whose results carry the kernel's own errno by name (ENOENT: no such
// scheduler module), the operations before it ok and the progress on
// stderr.
func TestApplyJSON(t *testing.T) {
	guest.Require(t)
	tp := topo.New(t)
	lan := tp.Subnet("lan", "10.0.4.0/24")
	l := newLab(t)
	l.hosts["dir"] = tp.Node("dir", lan, "10.0.4.2")
	res := l.run("dir", "apply", data(t, "json"), "--format", "json")
	type result struct{ Action, Kind, Object, Result, Error, Errno string }
	var doc struct {
		Version int
		Outcome string
		Error   string
		Plan    struct {
			Ops []struct{ Action, Kind, Object string }
		}
		Results []result
	}
	dec := json.NewDecoder(strings.NewReader(res.Stdout))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not a JSON document: %v\n%s", err, res.Stdout)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("stdout holds more than one JSON document:\n%s", res.Stdout)
	}
	t.Logf("exit %d, outcome %s, error %s\nstderr:\n%s", res.Exit, doc.Outcome, doc.Error, res.Stderr)
	if res.Exit != 1 || doc.Version != 1 || doc.Outcome != "failed" || !strings.Contains(res.Stderr, "Applied ") {
		t.Fatalf("exit %d, outcome %q; want 1, failed and the progress on stderr\n%s", res.Exit, doc.Outcome, res.Stderr)
	}
	if len(doc.Results) != len(doc.Plan.Ops) {
		t.Fatalf("%d results for %d operations", len(doc.Results), len(doc.Plan.Ops))
	}
	var late *result
	seenError := false
	for i, r := range doc.Results {
		if r.Object == "tcp:10.0.4.200:80" && r.Kind == "service" {
			late = &doc.Results[i]
		}
		if r.Result == "error" {
			seenError = true
		} else if !seenError && r.Result != "ok" {
			t.Errorf("result %d before the failure: %+v, want ok", i, r)
		}
	}
	if late == nil || late.Result != "error" || late.Errno != "ENOENT" {
		t.Fatalf("the twos service's result: %+v; want error ENOENT\n%s", late, res.Stdout)
	}
	for _, r := range doc.Results {
		if r.Object == "tcp:10.0.4.100:80" && r.Kind == "service" && r.Result != "ok" {
			t.Errorf("the rr service's result: %+v, want ok", r)
		}
	}
}
