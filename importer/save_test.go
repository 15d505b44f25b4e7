package importer

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/ipvs"
)

// render compiles an import's CUE on its own and returns the director's
// IPVS services as `lvsgen render --format ipvsadm-save` prints them.
func render(t *testing.T, res *Result) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "imported.cue"), res.CUE, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Valid() {
		t.Fatalf("the import does not validate: %v\n%s", out.Diagnostics, res.CUE)
	}
	var svcs []ipvs.Service
	for _, s := range out.Hosts[res.Director].Services {
		svcs = append(svcs, s.Service)
	}
	var b strings.Builder
	if err := ipvs.FormatSave(&b, svcs); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// saveExpect says what importing a testdata/save file does when it is not
// a byte-exact round trip: the services lvsgen cannot express (by key,
// with a word of the reason), or the error.
var saveExpect = map[string]struct {
	skipped map[string]string
	err     string
}{
	// testdata/save/canonical holds the expected texts of ipvs/save_test.go
	// (saveCases and the sort cases), which ipvs' e2e oracle checks against
	// ipvsadm 1.31. They exercise the format, not configs: several give
	// one service real servers of several forwarding methods.
	"canonical/each-forwarding-method.save":                              {skipped: map[string]string{"tcp:10.0.0.1:80": "forwarding methods"}},
	"canonical/each-tunnel-type-with-its-port-and-checksum-options.save": {skipped: map[string]string{"udp:10.0.0.1:4789": "tunnel settings"}},
	"canonical/fwmark-services-v4-and-v6.save": {skipped: map[string]string{
		"fwm:2/ipv6":          "forwarding methods",
		"fwm:2147483647/ipv6": "port 80", // a DR fwmark destination with a port: lvsgen gives them port 0
	}},
	"canonical/fwmarks-from-2-31-up-print-negative.save":                 {skipped: map[string]string{"fwm:3000000000/ipv4": "2^31", "fwm:4294967295/ipv6": "2^31"}},
	"canonical/ipv6-service-and-destinations.save":                       {skipped: map[string]string{"tcp:[2001:db8::1]:80": "forwarding methods"}},
	"canonical/ipv6-text-is-glibc-inet-ntop-s.save":                      {skipped: map[string]string{"tcp:[::ffff:10.0.0.2]:80": "IPv4-mapped"}},
	"canonical/persistence-engine-sip-with-and-without-persistence.save": {skipped: map[string]string{"udp:10.0.0.2:5060": "without persistence"}},
	"canonical/persistence-with-netmask-v4.save":                         {skipped: map[string]string{"tcp:10.0.0.1:3": "/0"}},
	"canonical/sort-fwmarks-2-31-apart.save":                             {skipped: map[string]string{"fwm:2147483650/ipv4": "2^31"}},
	// A real server that is the VIP (served locally), or the broadcast
	// address of every subnet from the /24 to the /16 the import may put
	// the director on (9.255.255.255): the kernel takes them, lvsgen's
	// address rules do not.
	"canonical/sort-destinations-by-address-then-port.save":      {skipped: map[string]string{"tcp:10.0.0.1:80": "real-subnet-edge"}},
	"canonical/sort-non-transitive-kernel-order-10-100-200.save": {skipped: map[string]string{"tcp:10.0.0.1:80": "real-vip"}},
	"canonical/sort-non-transitive-kernel-order-200-100-10.save": {skipped: map[string]string{"tcp:10.0.0.1:80": "real-vip"}},
	// What ipvsadm-save prints but ipvsadm -R (and ParseSave) cannot
	// read: sh with only flag-3 ("-b " and no name), and tunnel options
	// ipvsadm refuses for the tunnel type.
	"canonical/scheduler-flags-of-sh.save": {err: `scheduler-flags-of-sh.save:5: missing value for option "-b"`},
	"canonical/tunnel-quirks-port-of-ipip-and-gre-not-printed-unknown-type-prints-no-options-non-tunnel-ignores-them.save": {err: `:3: tunnel type gre does not take option "--tun-remcsum"`},

	// testdata/save/forms holds the inputs of ipvs/parse_test.go: the
	// other forms ipvsadm -R reads (long options, defaults, inet_aton
	// addresses, comments, -C, ...). They import to the canonical text of
	// what they load, not to themselves.
	"forms/direct-routing-and-tunnels-get-the-service-port-masquerading-keeps-its-own.save": {skipped: map[string]string{"tcp:10.0.0.1:80": "forwarding methods"}},
	"forms/fwmark-services-v4-and-v6.save":                                                  {skipped: map[string]string{"fwm:1/ipv4": "forwarding methods", "fwm:1/ipv6": "port 443", "fwm:4294967294/ipv6": "2^31"}},
	"forms/ipv6-services-and-destinations.save":                                             {skipped: map[string]string{"tcp:[2001:db8::1]:80": "forwarding methods"}},
	"forms/long-options.save":                                                               {skipped: map[string]string{"tcp:10.0.0.1:80": "forwarding methods"}},
	"forms/negative-fwmarks-as-ipvsadm-save-prints-marks-from-2-31-up.save":                 {skipped: map[string]string{"fwm:2147483648/ipv6": "2^31", "fwm:4294967295/ipv4": "2^31"}},
	"forms/persistence-bare-p-is-360-s-a-value-attached-value-long-form.save":               {skipped: map[string]string{"tcp:10.0.0.1:5": "/0"}},
	"forms/save-output.save":                                                                {skipped: map[string]string{"tcp:10.0.0.1:80": "forwarding methods"}},
	"forms/tunnel-options.save":                                                             {skipped: map[string]string{"udp:10.0.0.1:4789": "tunnel settings"}},
}

// TestSaveRoundTrip imports every testdata/save file, compiles the result
// and renders the director: what is imported renders byte for byte as the
// capture has it, what is not is listed with its reason, and a canonical
// capture (canonical/, more/) with nothing skipped comes back whole.
func TestSaveRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/save/*/*.save")
	if len(files) < 50 {
		t.Fatalf("only %d testdata files", len(files))
	}
	seen := map[string]bool{}
	for _, f := range files {
		rel, _ := filepath.Rel("testdata/save", f)
		seen[rel] = true
		t.Run(rel, func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			exp := saveExpect[rel]
			res, err := FromSave(strings.NewReader(string(in)), Options{Director: "lb1", Source: filepath.Base(f)})
			if exp.err != "" {
				var ie *Error
				if err == nil || !errors.As(err, &ie) || !strings.Contains(err.Error(), exp.err) {
					t.Fatalf("error = %v, want an *Error containing %q", err, exp.err)
				}
				if ie.Line == 0 || ie.Token == "" {
					t.Errorf("error %+v lacks the line or the token", ie)
				}
				return
			}
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			skipped := checkSkipped(t, res, exp.skipped)
			// What was imported renders exactly as ipvsadm-save prints it.
			var kept []ipvs.Service
			for _, s := range res.Table {
				if _, ok := skipped[s.ServiceKey.String()]; !ok {
					kept = append(kept, s)
				}
			}
			got := render(t, res)
			if diff := cmp.Diff(ipvs.SaveString(kept), got); diff != "" {
				t.Errorf("rendered (-imported services +lvsgen render):\n%s\n%s", diff, res.CUE)
			}
			if err := Check(res); err != nil {
				t.Error(err)
			}
			if !strings.HasPrefix(rel, "forms/") && len(exp.skipped) == 0 {
				if diff := cmp.Diff(string(in), got); diff != "" {
					t.Errorf("not a round trip (-capture +lvsgen render):\n%s", diff)
				}
			}
		})
	}
	for rel := range saveExpect {
		if !seen[rel] {
			t.Errorf("saveExpect names %s, which is not in testdata/save", rel)
		}
	}
}

// TestSaveErrorsHaveLines checks that malformed captures fail with the
// line and the token, and that the error says where.
func TestSaveErrorsHaveLines(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1 --foo\n", `x.save:2: unknown option "--foo"`},
		{"-A -t 10.0.0.1:80 -s nosuch\n", `x.save:1: unknown scheduler "nosuch"`},
		{"\n\n-a -t 10.0.0.1:80 -r 10.0.0.2\n", `x.save:3: service "10.0.0.1:80" is not defined`},
	} {
		_, err := FromSave(strings.NewReader(tc.in), Options{Director: "lb1", Source: "x.save"})
		if err == nil || err.Error() != tc.want {
			t.Errorf("error = %v, want %s", err, tc.want)
		}
	}
}

// TestSaveNames checks the derived service names and that they stay
// unique.
func TestSaveNames(t *testing.T) {
	in := "-A -t 192.0.2.10:80 -s rr\n-A -u [2001:db8::10]:53 -s rr\n-A --sctp-service 192.0.2.10:80 -s rr\n-A -f 100 -s rr\n-A -f 100 -6 -s rr\n"
	res, err := FromSave(strings.NewReader(in), Options{Director: "lb1"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range res.Imported {
		names = append(names, s.Name)
	}
	want := []string{"tcp-192-0-2-10-80", "sctp-192-0-2-10-80", "udp-2001-db8--10-53", "fwmark-100", "fwmark-100-ipv6"}
	if !slices.Equal(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
	if got := uniqueName("a", map[string]bool{"a": true, "a-2": true}); got != "a-3" {
		t.Errorf("uniqueName = %q", got)
	}
}

// TestSaveOptions checks the options an import needs.
func TestSaveOptions(t *testing.T) {
	for _, o := range []Options{{}, {Director: "lb 1"}, {Director: "lb1", Cluster: "-x"}} {
		_, err := FromSave(strings.NewReader(""), o)
		var oe *OptionError
		if !errors.As(err, &oe) {
			t.Errorf("%+v: error %v, want an *OptionError", o, err)
		}
	}
}

// TestSaveInference checks the inferred director interfaces: a /24 or
// /64 per subnet of DR and NAT real servers, none for TUN, each with a
// director's address that is no real server's and not the subnet's
// network (or subnet-router anycast) address.
func TestSaveInference(t *testing.T) {
	in := "-A -t 192.0.2.10:80 -s rr\n" +
		"-a -t 192.0.2.10:80 -r 10.1.0.5:80 -g -w 1\n" +
		"-a -t 192.0.2.10:80 -r 10.1.0.6:80 -g -w 1\n" +
		"-A -t 192.0.2.11:80 -s rr\n" +
		"-a -t 192.0.2.11:80 -r 10.2.0.5:8080 -m -w 1\n" +
		"-A -t 192.0.2.12:80 -s rr\n" +
		"-a -t 192.0.2.12:80 -r 10.3.0.5:80 -i -w 1 --tun-type ipip\n" +
		"-A -t [2001:db8::1]:80 -s rr\n" +
		"-a -t [2001:db8::1]:80 -r [2001:db8:1:2::5]:80 -g -w 1\n"
	res, err := FromSave(strings.NewReader(in), Options{Director: "lb1"})
	if err != nil {
		t.Fatal(err)
	}
	cue := string(res.CUE)
	for _, want := range []string{`todo0: {addresses: ["10.1.0.1/24"]}`, `todo1: {addresses: ["10.2.0.1/24"]}`, `todo2: {addresses: ["2001:db8:1:2::1/64"]}`, `vip: {bind: "none"}`} {
		if !strings.Contains(cue, want) {
			t.Errorf("output lacks %s:\n%s", want, cue)
		}
	}
	if strings.Contains(cue, "10.3.0.0") {
		t.Errorf("a TUN real server implied an interface:\n%s", cue)
	}
	if err := Check(res); err != nil {
		t.Error(err)
	}
}

// TestCanonicalInputs checks that the canonical testdata is what
// ipvsadm-save prints, so that the round trip means what it says.
func TestCanonicalInputs(t *testing.T) {
	files, _ := filepath.Glob("testdata/save/more/*.save")
	for _, f := range files {
		in, _ := os.ReadFile(f)
		svcs, err := ipvs.ParseSave(strings.NewReader(string(in)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got := ipvs.SaveString(svcs); got != string(in) {
			t.Errorf("%s is not in ipvsadm-save's order or form:\n%s", f, cmp.Diff(string(in), got))
		}
	}
}

// TestSaveSaysWhatTheInputIs checks the errors for input that is not an
// `ipvsadm-save -n` capture, or one made without -n.
func TestSaveSaysWhatTheInputIs(t *testing.T) {
	list := "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n" +
		"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\nTCP  10.0.0.1:80 rr\n" +
		"  -> 10.0.0.2:80                  Route   1      0          0\n"
	for _, tc := range []struct{ name, in, want string }{
		{"ipvsadm -L -n", list, "lb1.save:1: this is `ipvsadm -L` output, which the import cannot read back (it drops options such as tunnel settings); capture with `ipvsadm-save -n`"},
		{"ipvsadm -L -n without its header", "TCP  10.0.0.1:80 wlc persistent 300\n  -> 10.0.0.2:80  Masq  1  0  0\n", "lb1.save:1: this is `ipvsadm -L` output"},
		{"a service name", "-A -t 10.0.0.1:http -s rr\n", `lb1.save:1: illegal virtual server address[:port] "10.0.0.1:http": port "http" is a service name; capture with ` + "`ipvsadm-save -n`, which prints numbers"},
		{"a host name", "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r web1.example.com:80 -g -w 1\n", `lb1.save:2: illegal real server address[:port] "web1.example.com:80": "web1.example.com" is a host name; capture with ` + "`ipvsadm-save -n`, which prints addresses"},
		{"a placeholder VIP", "-A -t <vip>:80 -s rr\n", `lb1.save:1: "<vip>" is not an address (a placeholder to fill in?)`},
		{"a placeholder real server", "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r xxx.xxx.xxx.xxx:80 -g\n", `lb1.save:2: "xxx.xxx.xxx.xxx" is not an address (a placeholder to fill in?)`},
		{"an address out of range stays one", "-A -t 10.0.0.256:80 -s rr\n", `lb1.save:1: illegal virtual server address[:port] "10.0.0.256:80"`},
		{"a non-contiguous netmask", "-A -t 10.0.0.1:80 -s rr -p 300 -M 4278255360\n", `lb1.save:1: non-contiguous persistence netmask 255.0.255.0: lvsgen keeps a prefix length`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromSave(strings.NewReader(tc.in), Options{Director: "lb1", Source: "lb1.save"})
			var ie *Error
			if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant an *Error starting %q", err, tc.want)
			}
			if strings.Contains(tc.name, "out of range") && err.Error() != tc.want {
				t.Errorf("error = %v, want exactly %q", err, tc.want)
			}
		})
	}
}

// checkSkipped requires res to have skipped exactly the services of want,
// by key, each for a reason that holds want's word, and returns the
// reasons res gave by key.
func checkSkipped(t *testing.T, res *Result, want map[string]string) map[string]string {
	t.Helper()
	skipped := map[string]string{}
	for _, s := range res.Skipped {
		skipped[s.Service.ServiceKey.String()] = s.Reason
	}
	if len(skipped) != len(want) {
		t.Errorf("skipped %q, want %q", skipped, want)
	}
	for k, word := range want {
		if !strings.Contains(skipped[k], word) {
			t.Errorf("skipped %s: %q, want a reason with %q", k, skipped[k], word)
		}
	}
	return skipped
}
