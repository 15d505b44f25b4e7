package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCapture runs the CLI with args and returns its exit code and stdout;
// stderr goes to the process's (captureStderr may catch it).
func runCapture(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := runIO(args, strings.NewReader(""), &out, os.Stderr)
	return code, out.String()
}

// runStdin runs the CLI with args and stdin, and returns its exit code,
// stdout and stderr.
func runStdin(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runIO(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCommandsUseCobraStreams holds the CLI to cobra's streams: outside
// run, which hands the process's streams to runIO, no code of the command
// names os.Stdin, os.Stdout or os.Stderr, so that every command can be
// driven by a test (runIO) and none writes around its caller.
func TestCommandsUseCobraStreams(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatal(err, files)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "run" && fd.Recv == nil {
				continue
			}
			ast.Inspect(d, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "os" && strings.HasPrefix(sel.Sel.Name, "Std") {
					t.Errorf("%s: os.%s: use cmd.InOrStdin, OutOrStdout or ErrOrStderr", fset.Position(sel.Pos()), sel.Sel.Name)
				}
				return true
			})
		}
	}
}

func TestValidateExitCodes(t *testing.T) {
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "a.cue"), []byte("services: s: {cluster: \"x\", vip: \"192.0.2.1\", port: 80}\n"), 0o644)
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"valid example", []string{"validate", "../../examples"}, 0},
		{"invalid config", []string{"validate", bad}, 1},
		{"missing directory", []string{"validate", filepath.Join(bad, "nope")}, exitUsage},
		{"not a directory", []string{"validate", filepath.Join(bad, "a.cue")}, exitUsage},
		{"no argument", []string{"validate"}, exitUsage},
		{"unknown format", []string{"validate", "--format", "xml", "../../examples"}, exitUsage},
		{"unknown flag", []string{"validate", "--frobnicate", "../../examples"}, exitUsage},
		{"render without host", []string{"render", "../../examples"}, exitUsage},
		{"render unknown host", []string{"render", "../../examples", "--host", "nope"}, 1},
		{"render invalid config", []string{"render", bad, "--host", "lb1"}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, out := runCapture(t, tt.args...); code != tt.code {
				t.Errorf("exit %d, want %d; output:\n%s", code, tt.code, out)
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "a.cue"), []byte("services: s: {cluster: \"x\", vip: \"192.0.2.1\", port: 80}\n"), 0o644)
	code, out := runCapture(t, "validate", "--format", "json", bad)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var doc struct {
		Version     int
		Valid       bool
		Errors      int
		Diagnostics []struct {
			Rule string
			Path string
			Pos  struct {
				File         string
				Line, Column int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if doc.Version != 1 || doc.Valid || doc.Errors != 1 || len(doc.Diagnostics) != 1 {
		t.Fatalf("unexpected document: %+v", doc)
	}
	d := doc.Diagnostics[0]
	if d.Rule != "unknown-cluster" || d.Path != "services.s.cluster" || d.Pos.Line != 1 || d.Pos.Column != 24 {
		t.Errorf("diagnostic %+v", d)
	}
}

func TestValidateGitHub(t *testing.T) {
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "a.cue"), []byte("services: s: {cluster: \"x\", vip: \"192.0.2.1\", port: 80}\n"), 0o644)
	_, out := runCapture(t, "validate", "--format", "github", bad)
	// Properties escape ':' and ',' (%3A, %2C); the message escapes newlines.
	file := strings.NewReplacer(":", "%3A", ",", "%2C").Replace(filepath.Join(bad, "a.cue"))
	want := "::error file=" + file + ",line=1,col=24,title=lvsgen unknown-cluster::services.s.cluster: cluster \"x\" is not declared%0Ahint: declare the cluster under clusters: or fix the name\n"
	if out != want {
		t.Errorf("got  %q\nwant %q", out, want)
	}
}

func TestRenderFormats(t *testing.T) {
	code, out := runCapture(t, "render", "../../examples", "--host", "web1", "--format", "sysctl")
	if code != 0 || !strings.Contains(out, "\nnet.ipv4.conf.all.arp_ignore = 1\n") {
		t.Errorf("sysctl: exit %d\n%s", code, out)
	}
	code, out = runCapture(t, "render", "../../examples", "--host", "nat1", "--format", "ipvsadm-save")
	if code != 0 || !strings.HasPrefix(out, "-A -t 192.168.100.20:80 -s wlc\n") {
		t.Errorf("ipvsadm-save: exit %d\n%s", code, out)
	}
	code, out = runCapture(t, "render", "../../examples", "--host", "cache1", "--format", "json")
	var h struct{ Host string }
	if code != 0 || json.Unmarshal([]byte(out), &h) != nil || h.Host != "cache1" {
		t.Errorf("json: exit %d\n%s", code, out)
	}
}

// TestRenderKeepalivedVRRP: the VRRP of a director whose cluster declares
// vrrp on stdout; for a host without, nothing on stdout and why on
// stderr. (vrrp's tests read the output back with the importer.)
func TestRenderKeepalivedVRRP(t *testing.T) {
	code, out, errOut := runStdin(t, "", "render", "../../examples", "--host", "lb2", "--format", "keepalived-vrrp")
	for _, want := range []string{"vrrp_instance edge {\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    priority 100\n", "        192.0.2.11/32 dev eth0\n", "vrrp_instance edge_v6 {"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("lb2: exit %d, stdout lacks %q:\n%s%s", code, want, out, errOut)
		}
	}
	code, out, errOut = runStdin(t, "", "render", "../../examples", "--host", "nat1", "--format", "keepalived-vrrp")
	if code != 0 || out != "" || !strings.Contains(errOut, "host nat1 directs no cluster that declares vrrp") {
		t.Errorf("nat1: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}
