package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTooDeep(t *testing.T) {
	chain := func(n int) string { return strings.Repeat("a: ", n) + "1\n" }
	tests := []struct {
		name, src string
		want      int // line; 0 for accepted
	}{
		{"ordinary", "package lvs\nservices: web: {port: 80, reals: [{address: \"10.0.0.1\"}]}\n", 0},
		{"chain at the limit", "package lvs\n" + chain(maxNesting), 0},
		{"chain past it", "package lvs\n" + chain(maxNesting+1), 2},
		{"chain over lines", "package lvs\n" + strings.Repeat("a:\n", maxNesting+1) + "1\n", 2 + maxNesting},
		{"chains ended by commas", "package lvs\nx: {" + strings.Repeat("a: b: c: 1, ", 5000) + "}\n", 0},
		{"chains ended by newlines", "package lvs\n" + strings.Repeat("a: b: c: 1\n", 5000), 0},
		{"brackets at the limit (with x:)", "package lvs\nx: " + strings.Repeat("[", maxNesting-1) + strings.Repeat("]", maxNesting-1) + "\n", 0},
		{"brackets past it", "package lvs\nx: " + strings.Repeat("[", maxNesting+1) + strings.Repeat("]", maxNesting+1) + "\n", 2},
		{"brackets and labels", "package lvs\n" + strings.Repeat("a: {", maxNesting/2+1) + "\n", 2},
		{"colons in a string", "package lvs\nx: \"" + strings.Repeat(":", 5000) + "\"\n", 0},
		{"colons in a multi-line string", "package lvs\nx: \"\"\"\n" + strings.Repeat("a: ", 5000) + "\n\"\"\"\n", 0},
		{"colons in a comment", "package lvs\n// " + strings.Repeat("a: ", 5000) + "\nx: 1\n", 0},
		{"quotes escaped", "package lvs\nx: \"\\\"" + strings.Repeat(":", 5000) + "\"\n", 0},
		{"an unterminated string", "package lvs\nx: \"" + strings.Repeat(":", 5000) + "\n" + chain(maxNesting+1), 3},
	}
	if line, col := tooDeep([]byte("package lvs\n" + chain(maxNesting+1))); line != 2 || col != 3*maxNesting+2 {
		t.Errorf("a chain past the limit: at %d:%d, want 2:%d (the colon of label 1,001)", line, col, 3*maxNesting+2)
	}
	for _, tt := range tests {
		if got, _ := tooDeep([]byte(tt.src)); got != tt.want {
			t.Errorf("%s: tooDeep = line %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestTooDeepCompile: a file CUE's parser cannot read without overflowing
// its stack is an error with its file and line, not a crash; and no
// config this repository holds comes near the limit.
func TestTooDeepCompile(t *testing.T) {
	for _, src := range []string{
		"package lvs\nservices: " + strings.Repeat("a: ", 100_000) + "1\n",
		"package lvs\nhosts: " + strings.Repeat("a: ", 100_000) + "1\n",
		"package lvs\nhosts: " + strings.Repeat("{a: ", 20_000) + strings.Repeat("}", 20_000) + "\n",
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "deep.cue"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Compile(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Diagnostics) != 1 || !strings.Contains(res.Diagnostics[0].Message, "nested more than") || res.Diagnostics[0].Pos.Line != 2 || res.Diagnostics[0].Pos.Column < 1 {
			t.Errorf("diagnostics %v, want one: nested too deep at deep.cue:2:N", res.Diagnostics)
		}
	}
	var files []string
	for _, root := range []string{"..", "testdata"} {
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(path, ".cue") {
				files = append(files, path)
			}
			return nil
		})
	}
	if len(files) < 20 {
		t.Fatalf("found %d .cue files", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if l, _ := tooDeep(b); l > 0 {
			t.Errorf("%s:%d: refused as too deep", f, l)
		}
	}
}
