package compiler

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSchemaPatternsInWords: every regular expression in the schema has
// its words, or a value that breaks it would be told a regexp.
func TestSchemaPatternsInWords(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "schema", "*.cue"))
	if err != nil || len(files) == 0 {
		t.Fatalf("schema files: %v %v", files, err)
	}
	re := regexp.MustCompile(`[=!]~("(?:[^"\\]|\\.)*")`)
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			p, err := strconv.Unquote(m[1])
			if err != nil {
				t.Fatalf("%s: %s: %v", f, m[1], err)
			}
			n++
			if _, ok := patternWords[p]; !ok {
				t.Errorf("%s: pattern %q has no words in patternWords", filepath.Base(f), p)
			}
		}
	}
	if n < 5 {
		t.Errorf("found only %d patterns in the schema", n)
	}
}

// TestMessagesInWords: CUE's type and pattern errors reach the user in
// words, the same on both paths.
func TestMessagesInWords(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "base", "base.cue"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, src, path, want string }{
		{"string for an int", `services: s: {cluster: "dr", vip: "192.0.2.9", port: "80", reals: [{host: "web1"}]}`,
			"services.s.port", `"80" is a string, but the field wants an integer`},
		{"int for a name", `services: s: {cluster: 5, vip: "192.0.2.9", port: 80, reals: [{host: "web1"}]}`,
			"services.s.cluster", `5 is an integer, but the field wants a string`},
		{"string for a list", `hosts: h: interfaces: eth0: addresses: "10.9.0.1/24"`,
			"hosts.h.interfaces.eth0.addresses", `"10.9.0.1/24" is a string, but the field wants a list [...]`},
		{"ipv4-mapped address", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{address: "::ffff:10.0.0.11"}]}`,
			"services.s.reals[0].address", `invalid value "::ffff:10.0.0.11" (an IPv4-mapped IPv6 address: write the IPv4 address itself)`},
		{"duration", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, drainTimeout: "5 s", reals: [{host: "web1"}]}`,
			"services.s.drainTimeout", `invalid value "5 s" (not a duration: a number with a unit ms, s, m or h, without spaces, e.g. "30s" or "1h30m")`},
		{"relative check path", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "http", path: "x"}, reals: [{host: "web1"}]}`,
			"services.s.check.path", `invalid value "x" (not an absolute path starting with '/')`},
		{"vip device with a space", `clusters: c: {directors: ["lb1"], vip: {bind: "interface", device: "eth 0"}}`,
			"clusters.c.vip.device", `invalid value "eth 0" (not a Linux interface name: 1 to 15 characters, no '/', ':' or whitespace)`},
		{"bad interface name", `hosts: h: interfaces: "eth/0": addresses: ["10.9.0.1/24"]`,
			`hosts.h.interfaces."eth/0"`, `interface name "eth/0" is not a Linux interface name: 1 to 15 characters, no '/', ':' or whitespace, not "." or ".."`},
		{"bad host name", `hosts: "web 3": interfaces: eth0: addresses: ["10.9.0.1/24"]`,
			`hosts."web 3"`, `host name "web 3" is not a name: letters, digits, '_', '.' and '-', starting with a letter or digit`},
		{"bad service name", `services: "my web": {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1"}]}`,
			`services."my web"`, `service name "my web" is not a name: letters, digits, '_', '.' and '-', starting with a letter or digit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "base.cue"), string(base))
			writeFile(t, filepath.Join(dir, "case.cue"), "package lvs\n\n"+tt.src+"\n")
			tree, whole := compileBothWays(t, dir)
			for _, res := range []*Result{tree, whole} {
				if len(res.Diagnostics) != 1 {
					t.Fatalf("want one diagnostic, got %s", res.Diagnostics)
				}
				d := res.Diagnostics[0]
				if diff := cmp.Diff([]string{tt.path, tt.want}, []string{d.Path, d.Message}); diff != "" {
					t.Errorf("plain-data path %v (-want +got):\n%s", res.viaTree, diff)
				}
				for _, cue := range []string{"mismatched types", "=~", "!~", "not allowed", "out of bound"} {
					if strings.Contains(d.Message, cue) || strings.Contains(d.Hint, "does not know this field") {
						t.Errorf("CUE internals in %q (hint %q)", d.Message, d.Hint)
					}
				}
			}
		})
	}
}

// TestTimeoutsConflictNamesBoth: two clusters' timeouts on one director
// are reported with both sets of values.
func TestTimeoutsConflictNamesBoth(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "base", "base.cue"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "base.cue"), string(base))
	writeFile(t, filepath.Join(dir, "case.cue"), "package lvs\n\nclusters: t3: {directors: [\"web1\"], timeouts: {udp: 60}}\nclusters: t4: {directors: [\"web1\"], timeouts: {tcp: 600, udp: 30}}\n")
	res, err := Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "host web1: IPVS timeouts differ between cluster t3 (tcp 900s, tcpfin 120s, udp 60s) and cluster t4 (tcp 600s, tcpfin 120s, udp 30s); a kernel has one set"
	if len(res.Diagnostics) != 1 || res.Diagnostics[0].Message != want {
		t.Errorf("diagnostics %s, want one: %s", res.Diagnostics, want)
	}
}

func TestInWords(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`conflicting values "80" and int (mismatched types string and int)`, `"80" is a string, but the field wants an integer`},
		{`conflicting values int and "80" (mismatched types int and string)`, `"80" is a string, but the field wants an integer`},
		{`conflicting values {timeout:360} and true (mismatched types struct and bool)`, `true is a boolean (true or false), but the field wants a struct {...}`},
		{`conflicting values 5 and =~"^[a-z]+$" (mismatched types int and string)`, `5 is an integer, but the field wants a string`},
		{`invalid value "x" (out of bound =~"^/")`, `invalid value "x" (not an absolute path starting with '/')`},
		{`invalid value "x" (out of bound =~"^x+y$")`, `invalid value "x" (not in the form the field wants)`},
		{`invalid value "x" (out of bound !~"^x$")`, `invalid value "x" (a form the field does not take)`},
		{`invalid value 70000 (out of bound <=65535)`, `invalid value 70000 (out of bound <=65535)`},
	} {
		if got := inWords(tt.in); got != tt.want {
			t.Errorf("inWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
