package diag

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var sample = List{
	{Severity: Warning, Rule: "weights-zero", Pos: Pos{File: "b.cue", Line: 3, Column: 9}, Path: "services.s.reals", Message: "every weight 0", Hint: "raise one",
		Related: []Related{{File: "h.cue", Line: 7, Col: 3, Message: "declared here"}}},
	{Severity: Error, Rule: "schema", Pos: Pos{File: "a,b:c.cue", Line: 1, Column: 2}, Path: "services.s.port", Message: "100% wrong\nsecond line"},
	{Severity: Info, Rule: "ha-reals", Pos: Pos{File: "a.cue", Line: 9, Column: 1}, Message: "waived"},
}

func TestGitHubEscaping(t *testing.T) {
	var b bytes.Buffer
	if err := WriteGitHub(&b, sample); err != nil {
		t.Fatal(err)
	}
	// Workflow command encoding: %, CR, LF in data; also ':' and ',' in
	// properties. Info becomes a notice.
	want := "::warning file=b.cue,line=3,col=9,title=lvsgen weights-zero::services.s.reals: every weight 0%0Ahint: raise one\n" +
		"::notice file=h.cue,line=7,col=3,title=lvsgen weights-zero (related)::related to services.s.reals: declared here\n" +
		"::error file=a%2Cb%3Ac.cue,line=1,col=2,title=lvsgen schema::services.s.port: 100%25 wrong%0Asecond line\n" +
		"::notice file=a.cue,line=9,col=1,title=lvsgen ha-reals::waived\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSortAndCount(t *testing.T) {
	l := append(List(nil), sample...)
	l.Sort()
	var files []string
	for _, d := range l {
		files = append(files, d.Pos.File)
	}
	if diff := cmp.Diff([]string{"a,b:c.cue", "a.cue", "b.cue"}, files); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if e, w := l.Count(); e != 1 || w != 1 {
		t.Errorf("Count() = %d, %d; want 1, 1 (info counts as neither)", e, w)
	}
	if !l.HasErrors() || (List{sample[0], sample[2]}).HasErrors() {
		t.Error("HasErrors wrong")
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sample[:1]); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	d := doc["diagnostics"].([]any)[0].(map[string]any)
	if doc["version"] != 1.0 || doc["valid"] != true || doc["warnings"] != 1.0 || d["severity"] != "warning" || d["rule"] != "weights-zero" {
		t.Errorf("unexpected document: %s", b.String())
	}
	// The related shape docs/CONFIG.md documents.
	wantRelated := []any{map[string]any{"file": "h.cue", "line": 7.0, "col": 3.0, "message": "declared here"}}
	if diff := cmp.Diff(wantRelated, d["related"]); diff != "" {
		t.Errorf("related (-want +got):\n%s", diff)
	}
	b.Reset()
	WriteJSON(&b, nil)
	if !bytes.Contains(b.Bytes(), []byte(`"diagnostics": []`)) {
		t.Errorf("an empty list must be [], not null: %s", b.String())
	}
}

func TestTextRelated(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, sample[:1]); err != nil {
		t.Fatal(err)
	}
	want := "b.cue:3:9: warning: services.s.reals: every weight 0 [weights-zero]\n" +
		"h.cue:7:3: note: declared here\n" +
		"    hint: raise one\n" +
		"0 error(s), 1 warning(s)\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
