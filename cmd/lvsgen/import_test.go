package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel/memory"
	"github.com/lvsgen/lvsgen/ipvs"
)

// runCapture2 runs the CLI with args and returns its exit code, stdout and
// stderr.
func runCapture2(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runStdin(t, "", args...)
}

// TestImportSaveThenPlanShowsNoChanges imports every capture of the
// importer's testdata through the CLI and plans the result against the
// same capture: no changes, whatever the capture holds (services lvsgen
// cannot express stay unmanaged).
func TestImportSaveThenPlanShowsNoChanges(t *testing.T) {
	files, _ := filepath.Glob("../../importer/testdata/save/*/*.save")
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	// The memory kernel, like Debian's 6.1, has no twos scheduler: a
	// capture with it cannot come from such a host.
	noKernel := map[string]bool{"canonical/every-scheduler.save": true}
	n := 0
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			// --allow-empty: a capture lvsgen can express none of is
			// still planned, as unmanaged services.
			code, _, stderr := runCapture2(t, "import", "ipvsadm-save", f, "--director", "lb1", "-o", dir, "--allow-empty")
			if code != 0 {
				if strings.Contains(stderr, "import: ") && strings.Contains(stderr, ".save:") {
					t.Skipf("malformed capture, as expected by importer's tests: %s", strings.TrimSpace(stderr))
				}
				t.Fatalf("import: exit %d\n%s", code, stderr)
			}
			n++
			if noKernel[name] {
				t.Skip("the memory kernel refuses the capture's twos scheduler")
			}
			code, out := runCapture(t, "plan", dir, "--host", "lb1", "--observed", f, "--detailed-exitcode")
			if code != 0 || !strings.Contains(out, "no changes") {
				t.Fatalf("plan: exit %d, want 0 and no changes\n%s", code, out)
			}
		})
	}
	if n < 50 {
		t.Errorf("only %d captures imported", n)
	}
}

func TestImportSaveStdoutAndReport(t *testing.T) {
	capture := filepath.Join(t.TempDir(), "lb1.save")
	os.WriteFile(capture, []byte(`-A -t 192.0.2.10:80 -s wrr
-a -t 192.0.2.10:80 -r 10.10.0.11:80 -g -w 3
-A -t 192.0.2.10:81 -s rr
-a -t 192.0.2.10:81 -r 10.10.0.11:81 -m -w 1
-a -t 192.0.2.10:81 -r 10.10.0.12:81 -g -w 1
`), 0o644)
	code, out, stderr := runCapture2(t, "import", "ipvsadm-save", capture, "--director", "lb1", "--cluster", "edge")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"package lvs", `"tcp-192-0-2-10-80": {`, `cluster:    "edge"`, "Not imported: tcp-192-0-2-10-81", "--cluster edge`: the IPVS table"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"imported 1 of 2 IPVS services of director lb1 into stdout", "tcp:192.0.2.10:81", "different forwarding methods"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestImportSaveFromStdin(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runStdin(t, "-A -u 192.0.2.20:53 -s rr\n-a -u 192.0.2.20:53 -r 10.20.0.5:53 -m -w 1\n", "import", "ipvsadm-save", "-", "--director", "lb1", "-o", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "imported.cue"))
	if err != nil {
		t.Fatalf("stdin goes to imported.cue: %v", err)
	}
	if !strings.Contains(string(b), `vip:        "192.0.2.20"`) {
		t.Errorf("imported.cue lacks the service read from stdin:\n%s", b)
	}
}

// TestImportKeepalivedFromStdin: keepalived - reads keepalived.conf from
// stdin, names it <stdin> in errors and comments, and writes the same
// configuration as from the file.
func TestImportKeepalivedFromStdin(t *testing.T) {
	conf := `global_defs { router_id lb1 }
virtual_server 192.0.2.30 443 {
	lb_algo rr
	lb_kind DR
	protocol TCP
	real_server 10.10.0.11 443 { weight 2 }
}
`
	file := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(file, []byte(conf), 0o644)
	code, fromFile, stderr := runCapture2(t, "import", "keepalived", file)
	if code != 0 {
		t.Fatalf("from the file: exit %d\n%s", code, stderr)
	}
	code, fromStdin, stderr := runStdin(t, conf, "import", "keepalived", "-")
	if code != 0 {
		t.Fatalf("from stdin: exit %d\n%s", code, stderr)
	}
	body := func(s string) string { return s[strings.Index(s, "\npackage lvs"):] }
	if !strings.Contains(fromStdin, "192.0.2.30") || body(fromFile) != body(strings.ReplaceAll(fromStdin, "<stdin>:", "keepalived.conf:")) {
		t.Errorf("stdin and file differ:\n%s\n---\n%s", fromFile, fromStdin)
	}
	code, _, stderr = runStdin(t, "virtual_server 192.0.2.30 443 {\n\tlb_algo nope\n}\n", "import", "keepalived", "-", "--director", "lb1")
	if code != 1 || !strings.Contains(stderr, "<stdin>:2") {
		t.Errorf("a bad config on stdin: exit %d, want 1 and its line\n%s", code, stderr)
	}
}

func TestImportErrorsWriteNothing(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.save")
	os.WriteFile(bad, []byte("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w x\n"), 0o644)
	out := filepath.Join(dir, "out")
	code, _, stderr := runCapture2(t, "import", "ipvsadm-save", bad, "--director", "lb1", "-o", out)
	if code != 1 || !strings.Contains(stderr, `bad.save:2: illegal weight "x"`) {
		t.Errorf("exit %d, want 1 with the line and token\n%s", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the output directory was created: %v", err)
	}

	conf := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(conf, []byte("virtual_server 10.0.0.1 80 {\n  protocol TCP\n  real_server 10.0.0.2 80 {\n    lvs_method TUN type vxlan\n  }\n}\n"), 0o644)
	code, _, stderr = runCapture2(t, "import", "keepalived", conf, "--director", "lb1", "-o", out)
	if code != 1 || !strings.Contains(stderr, `keepalived.conf:4: tunnel type "vxlan"`) {
		t.Errorf("exit %d, want 1 with the line and token\n%s", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the output directory was created: %v", err)
	}
}

func TestImportUsage(t *testing.T) {
	dir := t.TempDir()
	capture := filepath.Join(dir, "lb1.save")
	os.WriteFile(capture, []byte("-A -t 10.0.0.1:80 -s rr\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"no source", []string{"import"}, exitUsage},
		{"unknown source", []string{"import", "haproxy"}, exitUsage},
		{"no director", []string{"import", "ipvsadm-save", capture}, exitUsage},
		{"bad director name", []string{"import", "ipvsadm-save", capture, "--director", "lb 1"}, exitUsage},
		{"two files", []string{"import", "ipvsadm-save", capture, capture, "--director", "lb1"}, exitUsage},
		{"keepalived without file", []string{"import", "keepalived"}, exitUsage},
		{"missing file", []string{"import", "ipvsadm-save", filepath.Join(dir, "nope"), "--director", "lb1"}, 1},
		{"keepalived without router_id or director", []string{"import", "keepalived", writeFile(t, dir, "k.conf", "")}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, stderr := runCapture2(t, tc.args...); code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stderr)
			}
		})
	}
	out := t.TempDir()
	if code, _, stderr := runCapture2(t, "import", "ipvsadm-save", capture, "--director", "lb1", "-o", out); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCapture2(t, "import", "ipvsadm-save", capture, "--director", "lb1", "-o", out); code != 1 || !strings.Contains(stderr, "--force") {
		t.Errorf("overwrite: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCapture2(t, "import", "ipvsadm-save", capture, "--director", "lb1", "-o", out, "--force"); code != 0 {
		t.Errorf("--force: exit %d\n%s", code, stderr)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImportKeepalived imports a keepalived.conf with includes, VRRP and
// checkers, validates and renders it: the checkers become checks.
func TestImportKeepalived(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "keepalived.conf", `global_defs {
  router_id lb1
  lvs_timeouts tcp 7200 tcpfin 30 udp 60
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  virtual_ipaddress {
    192.0.2.10/32
  }
}
include conf.d/*.conf
`)
	os.Mkdir(filepath.Join(dir, "conf.d"), 0o755)
	writeFile(t, filepath.Join(dir, "conf.d"), "web.conf", `virtual_server 192.0.2.10 80 {
  delay_loop 6
  lb_algo wrr
  lb_kind DR
  protocol TCP
  real_server 10.10.0.11 80 {
    weight 3
    HTTP_GET {
      url {
        path /health
        status_code 200
      }
      connect_timeout 3
    }
  }
  real_server 10.10.0.12 80 {
    weight 1
    TCP_CHECK {
      connect_timeout 3
    }
  }
}
`)
	out := t.TempDir()
	code, _, stderr := runCapture2(t, "import", "keepalived", filepath.Join(dir, "keepalived.conf"), "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"imported 1 of 1 IPVS services of director lb1", "vrrp_instance"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code, out := runCapture(t, "validate", out); code != 0 {
		t.Fatalf("validate: exit %d\n%s", code, out)
	}
	code, save := runCapture(t, "render", out, "--host", "lb1", "--format", "ipvsadm-save")
	want := "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.10.0.11:80 -g -w 3\n-a -t 192.0.2.10:80 -r 10.10.0.12:80 -g -w 1\n"
	if code != 0 || save != want {
		t.Errorf("render: exit %d\n%s\nwant\n%s", code, save, want)
	}
	cue, _ := os.ReadFile(filepath.Join(out, "keepalived.cue"))
	for _, want := range []string{"timeouts: {tcp: 7200, tcpfin: 30, udp: 60}", "192.0.2.10/32", `check: {type: "http", interval: "6s", timeout: "3s", rise: 1, fall: 2, onFailure: "remove", path: "/health", expect: [200]}`,
		`check: {type: "tcp", interval: "6s", timeout: "3s", rise: 1, fall: 2, onFailure: "remove"}`} {
		if !strings.Contains(string(cue), want) {
			t.Errorf("output lacks %q:\n%s", want, cue)
		}
	}
}

// TestImportThenLivePlanShowsNoChanges imports a DR and TUN director's
// capture and plans against a kernel holding that table with the kernel's
// defaults (the memory twin): nothing at all to change, sysctls and
// timeouts included, since the import keeps the kernel's defaults and binds
// no VIP.
func TestImportThenLivePlanShowsNoChanges(t *testing.T) {
	capture := writeFile(t, t.TempDir(), "lb1.save", `-A -t 192.0.2.10:80 -s wrr
-a -t 192.0.2.10:80 -r 10.10.0.11:80 -g -w 3
-a -t 192.0.2.10:80 -r 10.10.0.12:80 -g -w 1
-A -t 192.0.2.10:443 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port
-a -t 192.0.2.10:443 -r 10.10.0.11:443 -g -w 1
-A -t 198.51.100.30:443 -s wlc
-a -t 198.51.100.30:443 -r 203.0.113.5:443 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
-A -f 100 -6 -s rr
-a -f 100 -6 -r [2001:db8:10::11]:0 -g -w 1
`)
	out := t.TempDir()
	if code, _, stderr := runCapture2(t, "import", "ipvsadm-save", capture, "--director", "lb1", "-o", out); code != 0 {
		t.Fatalf("import: exit %d\n%s", code, stderr)
	}
	f, err := os.Open(capture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	svcs, err := ipvs.ParseSave(f)
	if err != nil {
		t.Fatal(err)
	}
	k := memory.New()
	ctx := context.Background()
	for _, s := range svcs {
		if err := k.AddService(ctx, s); err != nil {
			t.Fatal(err)
		}
		for _, d := range s.Destinations {
			if err := k.AddDestination(ctx, s.ServiceKey, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	useMemoryKernel(t, k)
	code, plan := runCapture(t, "plan", out, "--host", "lb1", "--state-dir", t.TempDir(), "--detailed-exitcode")
	if code != 0 || !strings.Contains(plan, "no changes") {
		t.Errorf("live plan: exit %d, want no changes at all\n%s", code, plan)
	}
}

// TestImportNothingIsNotSuccess checks that an import of no service exits
// 1 with the reason and writes nothing, unless --allow-empty.
func TestImportNothingIsNotSuccess(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vrrp := write("vrrp.conf", "global_defs {\n  router_id lb1\n}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n}\n")
	inc := write("inc.conf", "global_defs {\n  router_id lb1\n}\ninclude conf.d/*.conf\n")
	cond := write("cond.conf", "global_defs {\n  router_id lb1\n}\n@lb2 virtual_server 192.0.2.1 80 { protocol TCP\n@lb2 real_server 10.0.0.1 80 { }\n@lb2 }\n")
	bogus := write("bogus.conf", "global_defs {\n  router_id lb1\n}\nvirtual_server <vip> 80 {\n  real_server 10.0.0.1 80 {\n  }\n}\n")
	empty := write("empty.save", "")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no virtual_server", []string{"keepalived", vrrp}, "lvsgen: import: nothing imported: " + vrrp + " has no virtual_server; nothing was written (--allow-empty writes it anyway)\n"},
		{"an include of nothing", []string{"keepalived", inc}, "lvsgen: import: nothing imported: " + inc + ` has no virtual_server; inc.conf:4: include "conf.d/*.conf" matches no file; nothing was written`},
		{"everything filtered by @id", []string{"keepalived", cond}, "lvsgen: import: nothing imported: " + cond + ` has no virtual_server; conditional lines (@id) were read for configuration id "lb1"; --config-id picks another; nothing was written`},
		{"a virtual server keepalived skips", []string{"keepalived", bogus}, "lvsgen: import: nothing imported: keepalived programs no IPVS service from the 1 virtual_server block(s) of " + bogus + " (the notes above say why)"},
		{"an empty capture", []string{"ipvsadm-save", empty, "--director", "lb1"}, "lvsgen: import: nothing imported: the capture holds no IPVS service; nothing was written"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
			code, _, stderr := runCapture2(t, append([]string{"import"}, append(tc.args, "-o", out)...)...)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want 1 with %q\n%s", code, tc.want, stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the output directory was created: %v", err)
			}
			code, _, stderr = runCapture2(t, append([]string{"import"}, append(tc.args, "-o", out, "--allow-empty")...)...)
			if code != 0 || !strings.Contains(stderr, "lvsgen: imported 0 of 0 IPVS services") {
				t.Errorf("--allow-empty: exit %d, want 0\n%s", code, stderr)
			}
		})
	}
}
