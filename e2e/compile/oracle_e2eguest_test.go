//go:build e2eguest

package compile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// oracleCase is a config directory and its directors, whose rendered
// ipvsadm-save text the kernel must load and print back.
type oracleCase struct {
	name string
	dir  string
	// hosts are the config's hosts with services.
	hosts []string
	// unordered marks configs whose services (or one service's real
	// servers) spread over the whole IPv4 space. ipvsadm sorts with a
	// wrapping 32-bit subtraction, which orders nothing there (10.0.0.1 <
	// 100.0.0.1 < 200.0.0.1 < 10.0.0.1), so the order it prints follows the
	// kernel's hash order, which lvsgen cannot know (see ipvs/sort.go).
	// Such tables are compared as sets of lines.
	unordered bool
}

func oracleCases(t *testing.T) []oracleCase {
	return []oracleCase{
		// The goldens of these are compiler/testdata/golden/*.ipvsadm-save.
		{name: "examples", dir: guest.Data(t, "examples"), hosts: []string{"lb1", "lb2", "nat1", "tun1"}},
		// Every scheduler of the kernel, every flag, persistence with and
		// without netmask, the sip engine, one-packet, tcp/udp/sctp, IPv4
		// and IPv6 VIPs, fwmarks of both families, DR/NAT/TUN, every
		// tunnel type and checksum, across families, weights 0 to
		// 2147483647, thresholds.
		{name: "oracle", dir: "testdata/oracle", hosts: []string{"k1"}},
		{name: "spread", dir: "testdata/spread", hosts: []string{"k2"}, unordered: true},
		// The traffic tests' directors.
		{name: "dr", dir: "testdata/dr", hosts: []string{"dir"}},
		{name: "nat", dir: "testdata/nat", hosts: []string{"dir"}},
		{name: "tun", dir: "testdata/tun", hosts: []string{"dir"}},
	}
}

// TestSaveOracle renders the ipvsadm-save text of every director of every
// case, loads it with ipvsadm -R into a fresh namespace, which must succeed
// without a word (the kernel accepts everything lvsgen accepts), and
// requires ipvsadm -S -n to print the rendered text back byte for byte. It
// also checks, from the host's rendered JSON, that the scheduler and
// persistence-engine modules the services name are loaded, and that the
// kernel takes the director's IPVS sysctls and timeouts and the real
// servers' thresholds, which the save format does not carry (see
// setThresholds).
func TestSaveOracle(t *testing.T) {
	guest.Require(t)
	for _, c := range oracleCases(t) {
		for _, host := range c.hosts {
			t.Run(c.name+"/"+host, func(t *testing.T) {
				want := render(t, c.dir, host, "ipvsadm-save")
				if want == "" {
					t.Fatalf("host %s of %s renders no IPVS rules", host, c.dir)
				}
				state := renderState(t, c.dir, host)
				ns, nd := state.counts()
				if a, r := strings.Count(want, "-A "), strings.Count(want, "-a "); a != ns || r != nd {
					t.Errorf("the save text has %d services and %d destinations, the JSON %d and %d", a, r, ns, nd)
				}

				d := topo.New(t).Node("dir", nil, "")
				restoreClean(t, d, want)
				for _, m := range state.modules() {
					if !guest.ModuleLoaded(m) {
						t.Errorf("module %s is not loaded after ipvsadm -R", m)
					}
				}
				compareSave(t, want, saved(t, d), c.unordered)
				ensureSysctlDevices(t, d, state)
				applySysctls(t, d, state)
				applyTimeouts(t, d, state)

				if setThresholds(t, d, state, want) {
					// ipvsadm -S prints no thresholds: the table
					// still saves as rendered.
					compareSave(t, want, saved(t, d), c.unordered)
				}
			})
		}
	}
}

// compareSave fails unless got (ipvsadm -S -n) is want (the render), byte
// for byte, or as sets of lines when unordered.
func compareSave(t *testing.T, want, got string, unordered bool) {
	t.Helper()
	missing, extra := lineDiff(want, got)
	if len(missing)+len(extra) > 0 || (!unordered && got != want) {
		t.Errorf("ipvsadm -S -n differs from lvsgen render --format ipvsadm-save:\nonly rendered:\n%s\nonly in ipvsadm:\n%s\nrendered:\n%s\nipvsadm:\n%s",
			strings.Join(missing, "\n"), strings.Join(extra, "\n"), want, got)
		return
	}
	if got != want {
		t.Logf("same lines, another order (the kernel's hash order); ipvsadm printed:\n%s", got)
	}
}

// setThresholds gives every destination that has an upper or lower
// connection threshold in the rendered JSON its thresholds, which the save
// format does not carry (ipvsadm -S prints none, so loading the render
// loses them), with edit lines (-e … -x U -y L) through ipvsadm -R, and
// checks that ipvsadm -L --thresholds shows them. It reports whether there
// were any.
func setThresholds(t *testing.T, d *topo.Node, state *hostState, save string) bool {
	t.Helper()
	var edits []string
	type check struct{ svc, dest, want string }
	var checks []check
	for _, s := range state.Services {
		for _, x := range s.Destinations {
			if x.UpperThreshold == 0 && x.LowerThreshold == 0 {
				continue
			}
			// The destination's own line of the save text, with all its
			// options, turned from add into edit.
			prefix := "-a " + s.spec() + " -r " + hostPort(x.Address, x.Port) + " "
			var line string
			for _, l := range strings.Split(save, "\n") {
				if strings.HasPrefix(l, prefix) {
					line = l
				}
			}
			if line == "" {
				t.Errorf("service %s: no line %q… in the save text", s.Name, prefix)
				continue
			}
			edits = append(edits, "-e"+strings.TrimPrefix(line, "-a")+
				fmt.Sprintf(" -x %d -y %d\n", x.UpperThreshold, x.LowerThreshold))
			checks = append(checks, check{s.spec(), hostPort(x.Address, x.Port),
				fmt.Sprintf("%d %d", x.UpperThreshold, x.LowerThreshold)})
		}
	}
	if len(edits) == 0 {
		return false
	}
	text := strings.Join(edits, "")
	if res := restore(t, d, text); res.Exit != 0 || res.Stderr != "" {
		t.Errorf("ipvsadm -R of the thresholds: %s\ninput:\n%s", res, text)
		return true
	}
	for _, c := range checks {
		if got := thresholds(t, d, c.svc, c.dest); got != c.want {
			t.Errorf("%s -r %s: thresholds (upper lower) %q, want %q", c.svc, c.dest, got, c.want)
		}
	}
	t.Logf("the kernel took the thresholds of %d destination(s)", len(checks))
	return true
}

// thresholds returns "UPPER LOWER" of destination dest of service svc (as
// ipvsadm names them) from ipvsadm -L -n --thresholds.
func thresholds(t *testing.T, d *topo.Node, svc, dest string) string {
	t.Helper()
	out := d.MustRun("ipvsadm", append([]string{"-L", "-n", "--thresholds"}, strings.Fields(svc)...)...).Stdout
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[0] == "->" && f[1] == dest {
			return f[2] + " " + f[3]
		}
	}
	t.Errorf("no destination %s in ipvsadm -L -n --thresholds %s:\n%s", dest, svc, out)
	return ""
}

// TestTwosMissing: twos is a scheduler of Linux 6.2 and later, so lvsgen
// accepts it, but the VM's 6.1 kernel has no ip_vs_twos and ipvsadm -R of
// the rendered rules fails. lvsgen cannot know the target kernel when it
// validates; applying is where this must be reported.
func TestTwosMissing(t *testing.T) {
	guest.Require(t)
	const dir = "testdata/twos"
	if res := lvsgen(t, "validate", dir); res.Exit != 0 {
		t.Fatalf("lvsgen validate %s: %s", dir, res)
	}
	text := render(t, dir, "lb", "ipvsadm-save")
	const wantText = "-A -t 10.0.0.100:80 -s twos\n" +
		"-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1\n" +
		"-a -t 10.0.0.100:80 -r 10.0.0.12:80 -g -w 1\n"
	if text != wantText {
		t.Fatalf("render:\n%s\nwant:\n%s", text, wantText)
	}
	d := topo.New(t).Node("dir", nil, "")
	res := restore(t, d, text)
	t.Logf("ipvsadm -R of the twos config: %s", res)
	// The kernel answers ENOENT to the service (ipvsadm's words for it
	// below); ipvsadm -R goes on with the next lines, whose service does
	// not exist, and exits 255 at the end.
	const wantStderr = "Scheduler or persistence engine not found\n" +
		"Service not defined\n" +
		"Service not defined\n"
	if res.Exit != 255 || res.Stderr != wantStderr {
		t.Errorf("ipvsadm -R: %s\nwant exit 255 and stderr %q", res, wantStderr)
	}
	if res, _ := guest.Run("modprobe", "ip_vs_twos"); res.Exit == 0 || guest.ModuleLoaded("ip_vs_twos") {
		t.Errorf("ip_vs_twos loads; this kernel was expected to lack it")
	}
	if got := saved(t, d); got != "" {
		t.Errorf("ipvsadm -S -n after the failure = %q, want nothing", got)
	}
}
