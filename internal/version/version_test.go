package version

import (
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func TestFrom(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/lvsgen/lvsgen", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	tests := []struct {
		name         string
		bi           *debug.BuildInfo
		link, commit string
		want         Info
		line         string
	}{
		{"build information", bi, "", "", Info{"v0.3.0", "0123abcd", true, "go1.26.8"}, "lvsgen v0.3.0 (commit 0123abcd, dirty, go1.26.8)"},
		{"link time wins", bi, "v0.4.0", "feedbeef", Info{"v0.4.0", "feedbeef", false, "go1.26.8"}, "lvsgen v0.4.0 (commit feedbeef, go1.26.8)"},
		{"work tree without vcs", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "", "", Info{"(devel)", "unknown", false, "go1.26.8"}, "lvsgen (devel) (commit unknown, go1.26.8)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := from(tt.bi, tt.link, tt.commit)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Info (-want +got):\n%s", diff)
			}
			if s := got.String(); s != tt.line {
				t.Errorf("String() = %q, want %q", s, tt.line)
			}
		})
	}
}

// TestLinkTime builds lvsgen with -ldflags -X, as a packager would, and
// checks that the binary reports those values.
func TestLinkTime(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "lvsgen")
	pkg := "github.com/lvsgen/lvsgen/internal/version"
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X "+pkg+".version=v9.8.7 -X "+pkg+".commit=abc123", "github.com/lvsgen/lvsgen/cmd/lvsgen")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), "lvsgen v9.8.7 (commit abc123, go"; !strings.HasPrefix(got, want) {
		t.Errorf("lvsgen --version = %q, want it to start with %q", got, want)
	}
}

func TestCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector(Info{"v0.3.0", "0123abcd", true, "go1.26.8"}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "lvsgen_build_info" || len(mfs[0].Metric) != 1 {
		t.Fatalf("gathered %v, want one lvsgen_build_info series", mfs)
	}
	m := mfs[0].Metric[0]
	labels := map[string]string{}
	for _, l := range m.Label {
		labels[l.GetName()] = l.GetValue()
	}
	want := map[string]string{"version": "v0.3.0", "commit": "0123abcd", "dirty": "true", "goversion": "go1.26.8"}
	if diff := cmp.Diff(want, labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if m.GetGauge().GetValue() != 1 {
		t.Errorf("value %v, want 1", m.GetGauge().GetValue())
	}
}
