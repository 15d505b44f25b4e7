package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSchemaPrints: `lvsgen schema` prints every file of schema/, as it is
// in the repository, each after a line naming it.
func TestSchemaPrints(t *testing.T) {
	files, err := filepath.Glob("../../schema/*.cue")
	if err != nil || len(files) < 2 {
		t.Fatal(err, files)
	}
	code, out, errOut := runStdin(t, "", "schema")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var want strings.Builder
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			want.WriteString("\n")
		}
		fmt.Fprintf(&want, "// schema/%s (module github.com/lvsgen/lvsgen/schema@v0)\n%s", filepath.Base(f), b)
	}
	if out != want.String() {
		t.Errorf("lvsgen schema differs from schema/*.cue:\n%s", cmp.Diff(want.String(), out))
	}
}

// cueVersion is the cue command the test runs: go.mod's cuelang.org/go,
// so that cue vet checks with the evaluator lvsgen compiles with.
const cueVersion = "v0.17.1"

// cueCommand builds the cue command of cueVersion and returns a function
// that runs it in dir with no registry (the schema comes from cue.mod/pkg).
func cueCommand(t *testing.T) func(dir string, args ...string) (string, error) {
	t.Helper()
	mod, err := os.ReadFile("../../go.mod")
	if err != nil || !strings.Contains(string(mod), "cuelang.org/go "+cueVersion+"\n") {
		t.Fatalf("go.mod requires another cuelang.org/go than %s: update cueVersion (%v)", cueVersion, err)
	}
	bin := t.TempDir()
	install := exec.Command("go", "install", "cuelang.org/go/cmd/cue@"+cueVersion)
	install.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=")
	if out, err := install.CombinedOutput(); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("cannot build the cue command (offline?): %v\n%s", err, out)
		}
		t.Fatalf("building the cue command: %v\n%s", err, out)
	}
	cache := t.TempDir()
	return func(dir string, args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(bin, "cue"), args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CUE_REGISTRY=none", "CUE_CACHE_DIR="+cache)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}

// linkFile is the file docs/CONFIG.md has a config add for CUE's tools:
// the config's fields declared with the schema module's definitions, in a
// file lvsgen leaves out (@if(!lvsgen)).
const linkFile = `@if(!lvsgen)

package lvs

import "github.com/lvsgen/lvsgen/schema"

hosts?:    schema.#Hosts
clusters?: schema.#Clusters
services?: schema.#Services
`

// TestCUEVetWithTheModule does what docs/CONFIG.md tells a user to do for
// CUE's tools, with the real cue command, on a copy of examples/: cue mod
// init, lvsgen schema --dir into cue.mod/pkg, the link file. cue vet then
// passes, lvsgen still validates the directory, and with a broken service
// cue vet and lvsgen report the same mistakes at the same places — a
// misspelt field of a service, which #Config left open before, included.
func TestCUEVetWithTheModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cue command")
	}
	cue := cueCommand(t)
	dir := copyDir(t, "../../examples")
	if out, err := cue(dir, "mod", "init", "example.com/site"); err != nil {
		t.Fatalf("cue mod init: %v\n%s", err, out)
	}
	if code, _, errOut := runStdin(t, "", "schema", "--dir", filepath.Join(dir, "cue.mod/pkg/github.com/lvsgen/lvsgen/schema")); code != 0 {
		t.Fatalf("lvsgen schema --dir: exit %d\n%s", code, errOut)
	}
	writeTestFile(t, filepath.Join(dir, "lvsgen-schema.cue"), linkFile)
	if out, err := cue(dir, "vet", "."); err != nil {
		t.Fatalf("cue vet on the example: %v\n%s", err, out)
	}
	if code, out := runCapture(t, "validate", dir); code != 0 {
		t.Fatalf("lvsgen validate with the link file: exit %d\n%s", code, out)
	}

	writeTestFile(t, filepath.Join(dir, "bad.cue"), `package lvs

hosts: web1: gatway: "10.10.0.1"

services: "edge-ssh": {
	cluster:  "edge"
	vip:      "192.0.2.10"
	port:     22
	protocol: "tcpp"
	reals: [{host: "web1", wieght: 2}]
}
`)
	out, err := cue(dir, "vet", ".")
	if err == nil {
		t.Fatalf("cue vet passed a broken config:\n%s", out)
	}
	for _, want := range []string{`services."edge-ssh".reals.0.wieght: field not allowed`, `services."edge-ssh".protocol: protocol must be "tcp", "udp" or "sctp"`, `hosts.web1.gatway: field not allowed`} {
		if !strings.Contains(out, want) {
			t.Errorf("cue vet lacks %q:\n%s", want, out)
		}
	}
	// The positions in bad.cue each tool reports: the same.
	var fromCUE []string
	for _, m := range regexp.MustCompile(`\./bad\.cue:(\d+:\d+)`).FindAllStringSubmatch(out, -1) {
		fromCUE = append(fromCUE, m[1])
	}
	code, js := runCapture(t, "validate", "--format", "json", dir)
	var doc struct {
		Diagnostics []struct {
			Pos struct {
				File         string
				Line, Column int
			}
		}
	}
	if err := json.Unmarshal([]byte(js), &doc); code != 1 || err != nil {
		t.Fatalf("lvsgen validate: exit %d, %v\n%s", code, err, js)
	}
	var fromLvsgen []string
	for _, d := range doc.Diagnostics {
		if filepath.Base(d.Pos.File) == "bad.cue" {
			fromLvsgen = append(fromLvsgen, fmt.Sprintf("%d:%d", d.Pos.Line, d.Pos.Column))
		}
	}
	slices.Sort(fromCUE)
	slices.Sort(fromLvsgen)
	fromCUE = slices.Compact(fromCUE)
	if len(fromLvsgen) != 3 {
		t.Errorf("lvsgen reports %v in bad.cue, want its 3 mistakes", fromLvsgen)
	}
	if diff := cmp.Diff(fromLvsgen, fromCUE); diff != "" {
		t.Errorf("positions in bad.cue (-lvsgen +cue vet):\n%s\ncue vet:\n%s", diff, out)
	}
}

func writeTestFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
