package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/ipvs"
)

// TestKeepalivedWorkingDirectory imports one configuration, named three
// ways from two working directories (one way through a symbolic link),
// and requires the same output: ${_PWD} is the including file's directory
// as an absolute path with its links resolved, as keepalived 2.2.7 gives
// it (checked with `keepalived -t` through a link and from the file's own
// directory).
func TestKeepalivedWorkingDirectory(t *testing.T) {
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/keepalived/keepalived.conf", "global_defs {\n  router_id lb1\n}\ninclude ${_PWD}/conf.d/*.conf\n")
	write("etc/keepalived/conf.d/web.conf", `virtual_server 192.0.2.10 80 {
  protocol TCP
  lb_kind DR
  real_server 10.0.0.11 80 {
    MISC_CHECK {
      misc_path "${_PWD}/check.sh web"
      user nobody
    }
  }
}
`)
	if err := os.Symlink(filepath.Join(tmp, "etc/keepalived"), filepath.Join(tmp, "link")); err != nil {
		t.Fatal(err)
	}
	imp := func(cwd, name string) string {
		t.Helper()
		t.Chdir(filepath.Join(tmp, cwd))
		res, err := FromKeepalived(name, KeepalivedOptions{Options: Options{Command: "lvsgen import keepalived keepalived.conf"}})
		if err != nil {
			t.Fatalf("from %s, %s: %v", cwd, name, err)
		}
		if err := Check(res); err != nil {
			t.Fatal(err)
		}
		if got := ipvs.SaveString(res.Table); got != "-A -t 192.0.2.10:80 -s wlc\n-a -t 192.0.2.10:80 -r 10.0.0.11:80 -g -w 1\n" {
			t.Fatalf("from %s, %s: table\n%s", cwd, name, got)
		}
		return string(res.CUE)
	}
	want := imp(".", "etc/keepalived/keepalived.conf")
	if script := filepath.Join(tmp, "etc/keepalived/conf.d/check.sh"); !strings.Contains(want, `"`+script+`", "web"`) {
		t.Errorf("the check's command is not %s web:\n%s", script, want)
	}
	for _, c := range []struct{ cwd, name string }{
		{"etc/keepalived/conf.d", "../keepalived.conf"},
		{"etc", "../link/keepalived.conf"},
		{".", filepath.Join(tmp, "etc/keepalived/keepalived.conf")},
	} {
		if d := cmp.Diff(want, imp(c.cwd, c.name)); d != "" {
			t.Errorf("from %s, %s (-from . +got):\n%s", c.cwd, c.name, d)
		}
	}
}

// TestKeepalivedConfigIDDefault checks that conditional lines are read
// for the director's name: --director, else global_defs' router_id —
// never the name of the machine running the import.
func TestKeepalivedConfigIDDefault(t *testing.T) {
	conf := "global_defs {\n  router_id lb2\n}\nvirtual_server 192.0.2.10 80 {\n  protocol TCP\n  lb_kind DR\n" +
		"@lb1  real_server 10.0.0.1 80 { }\n@lb2  real_server 10.0.0.2 80 { }\n@^lb2  real_server 10.0.0.3 80 { }\n}\n"
	host, _ := os.Hostname()
	for _, tc := range []struct {
		name string
		opts KeepalivedOptions
		real string
	}{
		{"router_id", KeepalivedOptions{}, "10.0.0.2"},
		{"director", KeepalivedOptions{Options: Options{Director: "lb1"}}, "10.0.0.1 10.0.0.3"},
		{"config-id", KeepalivedOptions{Options: Options{Director: "lb1"}, ConfigID: "lb2"}, "10.0.0.2"},
		{"config-id of no director", KeepalivedOptions{ConfigID: "other"}, "10.0.0.3"},
		{"this machine's name", KeepalivedOptions{ConfigID: strings.Split(host, ".")[0]}, "10.0.0.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Files = MapFiles{"/etc/keepalived/keepalived.conf": conf}
			res, err := FromKeepalived("/etc/keepalived/keepalived.conf", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			want := "-A -t 192.0.2.10:80 -s wlc\n"
			for _, r := range strings.Fields(tc.real) {
				want += "-a -t 192.0.2.10:80 -r " + r + ":80 -g -w 1\n"
			}
			if d := cmp.Diff(want, ipvs.SaveString(res.Table)); d != "" {
				t.Errorf("table (-want +got):\n%s", d)
			}
		})
	}
}
