package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/policies"
)

// TestValidateBadDirJSON: a program that asked for JSON gets a document
// with the usage error, never an empty stdout, and exit 64.
func TestValidateBadDirJSON(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.cue")
	if err := os.WriteFile(file, []byte("package lvs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "nope"), file} {
		code, out, errOut := runCapture2(t, "validate", "--format", "json", path)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d", path, code, exitUsage)
		}
		var doc struct {
			Valid       bool
			Errors      int
			Diagnostics []struct {
				Rule, Message string
				Pos           struct{ File string }
			}
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%s: %v in %q", path, err, out)
		}
		if doc.Valid || doc.Errors != 1 || len(doc.Diagnostics) != 1 || doc.Diagnostics[0].Rule != "usage" || doc.Diagnostics[0].Pos.File != path {
			t.Errorf("%s: unexpected document %s", path, out)
		}
		if !strings.Contains(errOut, path) {
			t.Errorf("%s: stderr %q does not name the path", path, errOut)
		}
	}
	// Text: the error on stderr only.
	if code, out, errOut := runCapture2(t, "validate", filepath.Join(dir, "nope")); code != exitUsage || out != "" || !strings.Contains(errOut, "does not exist") {
		t.Errorf("text: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestPolicyListBundled: without a directory, policy list lists every
// bundled pack's rules.
func TestPolicyListBundled(t *testing.T) {
	code, out, errOut := runCapture2(t, "policy", "list", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rules []struct{ ID, Severity, Message, Source string }
	if err := json.Unmarshal([]byte(out), &rules); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	packs := map[string]bool{}
	for _, r := range rules {
		if r.ID == "" || r.Message == "" || (r.Severity != "deny" && r.Severity != "warn") {
			t.Errorf("incomplete rule %+v", r)
		}
		packs[strings.TrimPrefix(r.Source, "bundled pack ")] = true
	}
	var got []string
	for _, n := range policies.Names() {
		if packs[n] {
			got = append(got, n)
		}
	}
	if diff := cmp.Diff(policies.Names(), got); diff != "" {
		t.Errorf("packs with rules listed (-want +got):\n%s", diff)
	}
	// The ha pack's rules, by the ids its file defines.
	ha, err := os.ReadFile(filepath.Join("..", "..", "policies", "ha", "ha.cue"))
	if err != nil {
		t.Fatal(err)
	}
	code, text, _ := runCapture2(t, "policy", "list")
	if code != 0 || !strings.HasPrefix(text, "RULE") {
		t.Fatalf("text: exit %d\n%s", code, text)
	}
	for _, r := range rules {
		if r.Source == "bundled pack ha" && !strings.Contains(string(ha), `"`+r.ID+`"`) {
			t.Errorf("rule %s is not in policies/ha/ha.cue", r.ID)
		}
		if !strings.Contains(text, r.ID) {
			t.Errorf("text listing lacks %s", r.ID)
		}
	}
	if code, _, _ := runCapture2(t, "policy", "list", "a", "b"); code != exitUsage {
		t.Errorf("two directories: exit %d, want %d", code, exitUsage)
	}
}
