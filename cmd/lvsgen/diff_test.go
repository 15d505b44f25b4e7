package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier/kernel/memory"
	"github.com/lvsgen/lvsgen/internal/gen"
	"github.com/lvsgen/lvsgen/internal/goldentest"
)

// edit replaces old by new in dir's file, failing when old is not there:
// an example that changed under the test must not pass unedited.
func edit(t *testing.T, dir, file, old, new string) {
	t.Helper()
	p := filepath.Join(dir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", file, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// diffEdits are edited copies of examples/, one change each, and what
// the text of their diff must say whatever the golden file holds.
var diffEdits = []struct {
	name string
	edit func(t *testing.T, dir string)
	code int
	want []string
}{
	{"add-real", func(t *testing.T, dir string) {
		edit(t, dir, "hosts.cue", "\tweb2: {", "\tweb3: {\n\t\tinterfaces: eth0: addresses: [\"10.10.0.13/24\"]\n\t\tgateway: \"10.10.0.1\"\n\t}\n\tweb2: {")
		edit(t, dir, "services-edge.cue", `{host: "web2", weight: 1},`, `{host: "web2", weight: 1},`+"\n\t\t\t{host: \"web3\", weight: 2},")
	}, 0, []string{"+ destination tcp:192.0.2.10:80 -> 10.10.0.13:80  dr weight=2  [edge-http]", "Host web3 (added):"}},
	{"scheduler", func(t *testing.T, dir string) {
		edit(t, dir, "services-edge.cue", `scheduler: "wrr"`, `scheduler: "wlc"`)
	}, 0, []string{"~ service     tcp:192.0.2.10:80  scheduler: wrr → wlc  [edge-http]", "Total: 2 of 13 hosts touched"}},
	{"remove-real", func(t *testing.T, dir string) {
		edit(t, dir, "services-edge.cue", "\t\t\t{host: \"web2\", weight: 1},\n", "")
	}, 0, []string{"= destination tcp:192.0.2.10:80 -> 10.10.0.12:80  weight: 1 → 0  [edge-http]", "(2 draining)"}},
	{"move-service", func(t *testing.T, dir string) {
		edit(t, dir, "services-global.cue", "\"global-static\": {\n\t\tcluster:    \"global\"", "\"global-static\": {\n\t\tcluster:    \"edge\"")
	}, 0, []string{"= service     tcp:198.51.100.31:80  [global-static]", "service tcp:198.51.100.31:80: tun1 → lb1, lb2"}},
	{"remove-host", func(t *testing.T, dir string) {
		edit(t, dir, "clusters.cue", `directors: ["lb1", "lb2"]`, `directors: ["lb1"]`)
		edit(t, dir, "clusters.cue", `priority: {lb1: 150, lb2: 100}`, `priority: {lb1: 150}`)
		edit(t, dir, "hosts.cue", "\tlb2: {\n\t\tinterfaces: eth0: addresses: [\"10.10.0.3/24\", \"2001:db8:10::3/64\"]\n\t\tgateway:  \"10.10.0.1\"\n\t\tgateway6: \"2001:db8:10::1\"\n\t}\n", "")
	}, 0, []string{"Host lb2 (removed):", "= service     fwmark 100  [edge-marked]", "- service     udp:192.0.2.10:53  [edge-dns]"}},
	{"add-tun-real", func(t *testing.T, dir string) {
		edit(t, dir, "hosts.cue", "\tcache2: {", "\tcache3: {\n\t\tinterfaces: eth0: addresses: [\"203.0.113.13/24\"]\n\t\tgateway: \"203.0.113.1\"\n\t}\n\tcache2: {")
		edit(t, dir, "services-global.cue", `reals: [{host: "cache1", weight: 5}, {host: "cache2", weight: 5}]`, `reals: [{host: "cache1", weight: 5}, {host: "cache2", weight: 5}, {host: "cache3"}]`)
	}, 0, []string{"Host cache3 (added):", "+ link        tunl0  (ipip)"}},
	{"invalid-head", func(t *testing.T, dir string) {
		edit(t, dir, "services-edge.cue", `{host: "web1", weight: 3},`, `{host: "web1", wieght: 3},`)
	}, 1, []string{"edited is not a valid config:", "services-edge.cue:11:19: error: services.\"edge-http\".reals[0].wieght: field not allowed [schema]"}},
}

// TestDiffGolden pins `lvsgen diff` of examples/ against each edited
// copy, in every format, and `lvsgen graph` of the two in both.
func TestDiffGolden(t *testing.T) {
	for _, tt := range diffEdits {
		dir := copyDir(t, "../../examples")
		tt.edit(t, dir)
		clean := func(s string) string { return strings.ReplaceAll(s, dir, "edited") }
		for _, format := range []string{"text", "json", "markdown"} {
			t.Run(tt.name+"."+format, func(t *testing.T) {
				code, out := runCapture(t, "diff", "../../examples", dir, "--format", format)
				out = clean(out)
				if code != tt.code {
					t.Fatalf("exit %d, want %d\n%s", code, tt.code, out)
				}
				if format == "text" {
					for _, w := range tt.want {
						if !strings.Contains(out, w) {
							t.Errorf("no %q in\n%s", w, out)
						}
					}
				}
				goldentest.Check(t, filepath.Join("testdata", "golden", "diff-"+tt.name+"."+format), []byte(out), *update)
			})
		}
		if tt.code != 0 {
			continue
		}
		for _, format := range []string{"mermaid", "dot"} {
			t.Run(tt.name+"."+format, func(t *testing.T) {
				code, out := runCapture(t, "graph", "../../examples", dir, "--format", format)
				if code != 0 {
					t.Fatalf("exit %d\n%s", code, out)
				}
				goldentest.Check(t, filepath.Join("testdata", "golden", "graph-"+tt.name+"."+format), []byte(clean(out)), *update)
			})
		}
	}
	for _, format := range []string{"mermaid", "dot"} {
		code, out := runCapture(t, "graph", "../../examples", "--format", format)
		if code != 0 {
			t.Fatalf("graph: exit %d\n%s", code, out)
		}
		goldentest.Check(t, filepath.Join("testdata", "golden", "graph-examples."+format), []byte(out), *update)
	}
}

// TestDiffNoChange: a config against itself touches no host.
func TestDiffNoChange(t *testing.T) {
	code, out := runCapture(t, "diff", "../../examples", "../../examples")
	if code != 0 || !strings.Contains(out, "no changes") || !strings.Contains(out, "Total: 0 of 13 hosts touched") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// TestDiffGitBase: --base REV compares a directory with itself at a
// revision of a repository made here, in two commits; an invalid base
// names its files as REV:path.
func TestDiffGitBase(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git("init", "-q", "-b", "main")
	cfg := filepath.Join(repo, "lvs")
	if err := os.Rename(copyDir(t, "../../examples"), cfg); err != nil {
		t.Fatal(err)
	}
	// A broken first commit, then the example, then a working-tree edit.
	edit(t, cfg, "services-edge.cue", `scheduler: "wrr"`, `scheduler: "wrr", bogus: 1`)
	git("add", "-A")
	git("commit", "-q", "-m", "broken")
	edit(t, cfg, "services-edge.cue", `scheduler: "wrr", bogus: 1`, `scheduler: "wrr"`)
	git("commit", "-q", "-am", "example")
	edit(t, cfg, "services-edge.cue", `scheduler: "wrr"`, `scheduler: "wlc"`)

	code, out := runCapture(t, "diff", "--base", "HEAD", cfg)
	if code != 0 || !strings.Contains(out, "lvsgen diff HEAD:"+cfg+" → "+cfg) || !strings.Contains(out, "scheduler: wrr → wlc") || !strings.Contains(out, "Total: 2 of 13 hosts touched") {
		t.Errorf("diff --base HEAD: exit %d\n%s", code, out)
	}
	code, out = runCapture(t, "diff", "--base", "HEAD~1", cfg)
	if code != 1 || !strings.Contains(out, "HEAD~1:lvs/services-edge.cue:9:") || !strings.Contains(out, "bogus: field not allowed") {
		t.Errorf("diff --base HEAD~1 (invalid): exit %d\n%s", code, out)
	}
	code, out = runCapture(t, "graph", "--base", "HEAD", cfg)
	if code != 0 || !strings.Contains(out, "classDef changed") {
		t.Errorf("graph --base HEAD: exit %d\n%s", code, out)
	}
	if code, _ := runCapture(t, "diff", "--base", "nope", cfg); code != 1 {
		t.Errorf("diff --base nope: exit %d, want 1", code)
	}
	if code, _ := runCapture(t, "diff", cfg); code != exitUsage {
		t.Errorf("diff with one directory and no --base: exit %d, want %d", code, exitUsage)
	}
}

// BenchmarkDiff10k is `lvsgen diff BASE HEAD` of two generated configs of
// 10,000 services with 10 real servers each that differ in one service
// (gen.WeightEdit): both compiles and the review, output discarded.
func BenchmarkDiff10k(b *testing.B) {
	base, head := b.TempDir(), b.TempDir()
	for _, d := range []string{base, head} {
		if err := gen.Write(d, 10000, 10); err != nil {
			b.Fatal(err)
		}
	}
	file, _, edited, err := gen.WeightEdit(head)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(file, edited, 0o644); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var out strings.Builder
		root := newRoot()
		root.SetArgs([]string{"diff", base, head})
		root.SetOut(&out)
		if err := root.Execute(); err != nil {
			b.Fatal(err)
		}
		if !strings.Contains(out.String(), "Total: 2 of 66 hosts touched") || strings.Count(out.String(), "\n") > 20 {
			b.Fatalf("diff:\n%s", out.String())
		}
	}
}

// TestDiffMatchesPlan holds diff to what it claims: on a kernel (the
// in-memory one) where the base was applied, `lvsgen plan` of the head
// makes exactly the changes diff lists for that host — drains included,
// once each real server has connections as diff assumes — but for a
// setting the base did not make, whose value diff cannot know and the
// kernel may already have.
func TestDiffMatchesPlan(t *testing.T) {
	type op struct{ Action, Kind, Object string }
	for _, tc := range []struct{ edit, host string }{
		{"add-real", "lb1"}, {"add-real", "web3"}, {"scheduler", "lb2"}, {"move-service", "tun1"}, {"move-service", "lb1"},
		{"add-tun-real", "cache3"}, {"add-tun-real", "tun1"}, {"remove-real", "lb1"},
	} {
		t.Run(tc.edit+"/"+tc.host, func(t *testing.T) {
			i := slices.IndexFunc(diffEdits, func(e struct {
				name string
				edit func(t *testing.T, dir string)
				code int
				want []string
			}) bool {
				return e.name == tc.edit
			})
			dir := copyDir(t, "../../examples")
			diffEdits[i].edit(t, dir)

			k := memory.New()
			k.AddDevice("eth0")
			useMemoryKernel(t, k)
			state := t.TempDir()
			if tc.host != "web3" && tc.host != "cache3" { // a new host: nothing to apply first
				if code, out := runCapture(t, "apply", "../../examples", "--host", tc.host, "--auto-approve", "--state-dir", state, "--rules-file", "", "--sysctl-file", ""); code != 0 {
					t.Fatalf("apply of the base: exit %d\n%s", code, out)
				}
				// Traffic, as diff assumes: each real server has
				// connections.
				svcs, err := k.Services(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				for _, svc := range svcs {
					for _, d := range svc.Destinations {
						if err := k.SetConns(svc.ServiceKey, d.AddrPort(), 0, 1); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			code, out := runCapture(t, "plan", dir, "--host", tc.host, "--state-dir", state, "--format", "json")
			if code != 0 {
				t.Fatalf("plan of the head: exit %d\n%s", code, out)
			}
			var p struct{ Ops []op }
			if err := json.Unmarshal([]byte(out), &p); err != nil {
				t.Fatal(err)
			}
			code, out = runCapture(t, "diff", "../../examples", dir, "--format", "json")
			if code != 0 {
				t.Fatalf("diff: exit %d\n%s", code, out)
			}
			var d struct {
				Hosts []struct {
					Host    string
					Changes []struct {
						op
						Detail, Reason string
					}
				}
			}
			if err := json.Unmarshal([]byte(out), &d); err != nil {
				t.Fatal(err)
			}
			var got []op
			for _, h := range d.Hosts {
				for _, c := range h.Changes {
					switch {
					case h.Host != tc.host:
					case c.Reason == "with its service":
						// The destinations a service deletion takes
						// with it are listed by diff, not operations
						// of the plan.
					case strings.HasPrefix(c.Detail, "value: (the host's value) →") && !slices.Contains(p.Ops, c.op):
						// A setting diff cannot know the value of: the
						// plan skips it where the kernel has it already.
					default:
						got = append(got, c.op)
					}
				}
			}
			if len(p.Ops) == 0 {
				t.Fatal("the plan of the head changes nothing: the edit tests nothing")
			}
			if diff := cmp.Diff(p.Ops, got); diff != "" {
				t.Errorf("diff's changes of %s against plan's operations (-plan +diff):\n%s", tc.host, diff)
			}
		})
	}
}
