package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCapture runs the CLI with args and returns its exit code and stdout.
func runCapture(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	code := run(args)
	w.Close()
	os.Stdout = old
	var b bytes.Buffer
	io.Copy(&b, r)
	return code, b.String()
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
