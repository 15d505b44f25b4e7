package importer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue/parser"
)

// checkOutcome is what every import must satisfy: malformed input is an
// *Error with a line, anything else a configuration that parses, compiles
// and renders exactly the imported services.
func checkOutcome(t *testing.T, res *Result, err error) {
	t.Helper()
	if err != nil {
		var ie *Error
		if !errors.As(err, &ie) {
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		}
		if ie.Line == 0 && !strings.Contains(ie.Msg, "include") {
			t.Fatalf("error %v has no line", err)
		}
		return
	}
	if _, perr := parser.ParseFile("imported.cue", res.CUE, parser.ParseComments); perr != nil {
		t.Fatalf("the output does not parse: %v\n%s", perr, res.CUE)
	}
	if len(res.Imported)+len(res.Skipped) != len(res.Table) {
		t.Fatalf("%d imported and %d skipped of %d services", len(res.Imported), len(res.Skipped), len(res.Table))
	}
	if len(res.Table) > 256 {
		// A big group range: compiling thousands of services takes
		// seconds, too slow to fuzz; TestKeepalivedBigGroup covers it.
		return
	}
	if cerr := Check(res); cerr != nil {
		t.Fatalf("%v\n%s", cerr, res.CUE)
	}
}

// FuzzImportSave imports arbitrary ipvsadm-save text: it never panics,
// and whatever ipvs.ParseSave reads imports to a configuration that
// reproduces it.
func FuzzImportSave(f *testing.F) {
	files, _ := filepath.Glob("testdata/save/*/*.save")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) {
		res, err := FromSave(strings.NewReader(in), Options{Director: "lb1", Source: "fuzz.save"})
		checkOutcome(t, res, err)
	})
}

// FuzzKeepalived imports an arbitrary keepalived.conf that may include a
// second arbitrary file: it never panics, malformed input is an *Error
// with a line, and anything else imports to a configuration that
// reproduces the services it works out.
func FuzzKeepalived(f *testing.F) {
	files, _ := filepath.Glob("testdata/keepalived/*/*.conf")
	more, _ := filepath.Glob("../e2e/importer/testdata/*.conf")
	for _, file := range append(files, more...) {
		b, _ := os.ReadFile(file)
		f.Add(string(b), "")
	}
	f.Add("include inc.conf\n", "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 10.0.0.1 80\n}\n")
	f.Add("$X=1\n~SEQ(N, 1, 3) @lb1 $Y=${X}\ninclude {inc,x}.conf\n", "virtual_server_group g {\n 2001:db8::1-a 80\n fwmark 7 inet6\n}\nvirtual_server group g {\n lvs_method TUN type gue port 1 remcsum\n real_server 2001:db8::2\n}\n")
	f.Add("virtual_server fwmark 5 {\n lb_kind DR\n delay_loop 2\n alpha\n inhibit_on_failure\n sorry_server 10.0.0.9 80\n quorum 2\n hysteresis 3\n real_server 10.0.0.1 80 {\n  HTTP_GET {\n   url {\n    path /\n    status_code 200-204\n   }\n   connect_timeout 5\n  }\n  TCP_CHECK {\n  }\n }\n real_server 10.0.0.2 {\n  MISC_CHECK {\n   misc_path \"/bin/x y\"\n  }\n  retry 200\n }\n real_server 10.0.0.3 {\n  DNS_CHECK {\n   connect_port 53\n   type aaaa\n  }\n }\n}\n", "")
	f.Fuzz(func(t *testing.T, conf, inc string) {
		fs := MapFiles{"/k/keepalived.conf": conf, "/k/inc.conf": inc}
		res, err := FromKeepalived("/k/keepalived.conf", KeepalivedOptions{Options: Options{Director: "lb1"}, Files: fs})
		checkOutcome(t, res, err)
	})
}
