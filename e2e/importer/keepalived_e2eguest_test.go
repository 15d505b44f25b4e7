//go:build e2eguest

package importer

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	mobyipvs "github.com/moby/ipvs"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
	"github.com/lvsgen/lvsgen/importer"
	"github.com/lvsgen/lvsgen/internal/syncbuf"
	"github.com/lvsgen/lvsgen/ipvs"
)

// runKeepalived starts keepalived's checker process only (-C: no VRRP) on
// conf in a fresh namespace and waits until the namespace's IPVS table is
// want, or for 30 s. It returns the namespace, `ipvsadm -S -n` as it last
// saw it, `ipvsadm -L --timeout` and keepalived's log. keepalived runs
// until the test ends.
func runKeepalived(t *testing.T, conf, want string) (n *topo.Node, save, timeouts, log string) {
	t.Helper()
	n = topo.New(t).Node("ka", nil, "")
	run := t.TempDir()
	cmd := exec.Command("/sbin/keepalived", "-C", "--dont-fork", "--log-console", "--log-detail",
		"-f", conf, "-p", filepath.Join(run, "keepalived.pid"), "-c", filepath.Join(run, "checkers.pid"), "-r", filepath.Join(run, "vrrp.pid"))
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := n.Start(cmd); err != nil {
		t.Fatalf("start keepalived: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	start := time.Now()
	for time.Since(start) < 30*time.Second {
		select {
		case <-exited:
			t.Fatalf("keepalived exited:\n%s", out.String())
		case <-time.After(250 * time.Millisecond):
		}
		save = n.MustRun("ipvsadm", "-S", "-n").Stdout
		if save == want && save != "" {
			break
		}
	}
	t.Logf("keepalived programmed its table in %s", time.Since(start).Round(10*time.Millisecond))
	timeouts = n.MustRun("ipvsadm", "-L", "-n", "--timeout").Stdout
	return n, save, timeouts, out.String()
}

// TestKeepalivedProgramsWhatLvsgenImports runs keepalived 2.2.7 on each
// testdata/*.conf and checks, for the same file:
//   - the table keepalived programs is the table the import works out;
//   - `lvsgen import keepalived` of it validates, and `lvsgen render
//     --format ipvsadm-save` prints exactly what `ipvsadm -S -n` printed
//     (less the services lvsgen cannot express);
//   - `lvsgen plan --observed` against that capture shows no changes but
//     the thresholds a capture does not carry;
//   - `lvsgen plan` against keepalived's live table shows no IPVS change,
//     and lists the services not imported as unmanaged;
//   - the IPVS timeouts lvsgen renders are the ones keepalived set.
func TestKeepalivedProgramsWhatLvsgenImports(t *testing.T) {
	guest.Require(t)
	lvsgen := guest.Lvsgen(t)
	confs, _ := filepath.Glob("testdata/*.conf")
	if len(confs) == 0 {
		t.Fatal("no testdata/*.conf")
	}
	for _, conf := range confs {
		conf, _ := filepath.Abs(conf)
		t.Run(filepath.Base(conf), func(t *testing.T) {
			res, err := importer.FromKeepalived(conf, importer.KeepalivedOptions{Options: importer.Options{Director: "lb1"}})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			want := ipvs.SaveString(res.Table)
			n, save, timeouts, log := runKeepalived(t, conf, want)
			if diff := cmp.Diff(want, save); diff != "" {
				t.Fatalf("keepalived's table (-import +ipvsadm -S -n):\n%s\nkeepalived:\n%s", diff, log)
			}
			for _, s := range res.Skipped {
				t.Logf("not imported: %s: %s", s.Service.ServiceKey, s.Reason)
			}

			dir := t.TempDir()
			capture := filepath.Join(dir, "lb1.save")
			os.WriteFile(capture, []byte(save), 0o644)
			out := filepath.Join(dir, "config")
			r := guest.MustRun(t, lvsgen, "import", "keepalived", conf, "--director", "lb1", "-o", out)
			t.Logf("lvsgen import:\n%s", r.Stderr)
			guest.MustRun(t, lvsgen, "validate", out)
			rendered := guest.MustRun(t, lvsgen, "render", out, "--host", "lb1", "--format", "ipvsadm-save").Stdout
			var imported []ipvs.Service
			for _, s := range res.Imported {
				imported = append(imported, s.Service)
			}
			if diff := cmp.Diff(ipvs.SaveString(imported), rendered); diff != "" {
				t.Errorf("lvsgen render (-keepalived's imported services +render):\n%s", diff)
			}
			if len(res.Skipped) == 0 && rendered != save {
				t.Errorf("lvsgen render is not ipvsadm -S -n:\n%s", cmp.Diff(save, rendered))
			}
			// Against the capture: ipvsadm-save prints no thresholds, so
			// a real server with thresholds shows as a change of them
			// and nothing else.
			if _, err := ipvs.ParseSave(strings.NewReader(save)); err != nil {
				t.Logf("plan --observed skipped: ipvsadm -R could not read this capture either: %v", err)
			} else {
				plan, _ := guest.Run(lvsgen, "plan", out, "--host", "lb1", "--observed", capture, "--format", "json")
				for _, op := range planOps(t, plan) {
					if op.Kind == "destination" && op.Action == "update" && onlyThresholds(op.Before, op.After) {
						t.Logf("plan --observed: %s: thresholds, which a capture does not carry", op.Object)
						continue
					}
					t.Errorf("plan --observed: %s %s %s (%s)", op.Action, op.Kind, op.Object, op.Reason)
				}
			}
			// Against keepalived's live table, thresholds included (read
			// over netlink): no IPVS change, as plan compares them, and
			// the services not imported are the only others.
			desired := desiredServices(t, out)
			live := liveTable(t, n, save)
			var liveImported []ipvs.Service
			for _, s := range live {
				if slices.ContainsFunc(desired, func(d ipvs.Service) bool { return d.ServiceKey.String() == s.ServiceKey.String() }) {
					liveImported = append(liveImported, s)
				}
			}
			if d := importer.DiffTables(desired, liveImported); d != "" {
				t.Errorf("lvsgen's services against keepalived's live table (-lvsgen +kernel):\n%s", d)
			}
			if len(live)-len(liveImported) > len(res.Skipped) {
				t.Errorf("the kernel has %d services lvsgen does not, want at most the %d not imported", len(live)-len(liveImported), len(res.Skipped))
			}
			// The same through `lvsgen plan`, once it can read the live
			// kernel.
			state := t.TempDir()
			plan, err := n.Run(lvsgen, "plan", out, "--host", "lb1", "--format", "json", "--state-dir", state)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(plan.Stdout) == "" {
				t.Logf("live lvsgen plan unavailable in this build: %s", plan)
			} else {
				var doc struct{ Unmanaged []string }
				json.Unmarshal([]byte(plan.Stdout), &doc)
				for _, op := range planOps(t, plan) {
					if op.Kind == "service" || op.Kind == "destination" {
						t.Errorf("live plan: %s %s %s (%s)", op.Action, op.Kind, op.Object, op.Reason)
					} else {
						t.Logf("live plan, not IPVS: %s %s %s (%s)", op.Action, op.Kind, op.Object, op.Reason)
					}
				}
				if len(doc.Unmanaged) != len(res.Skipped) {
					t.Errorf("live plan: unmanaged %q, want the %d services not imported", doc.Unmanaged, len(res.Skipped))
				}
			}

			js := guest.MustRun(t, lvsgen, "render", out, "--host", "lb1", "--format", "json").Stdout
			var h struct {
				Timeouts struct{ TCP, TCPFin, UDP int }
			}
			if err := json.Unmarshal([]byte(js), &h); err != nil {
				t.Fatalf("render json: %v", err)
			}
			wantTimeouts := fmt.Sprintf("Timeout (tcp tcpfin udp): %d %d %d", h.Timeouts.TCP, h.Timeouts.TCPFin, h.Timeouts.UDP)
			if strings.TrimSpace(timeouts) != wantTimeouts {
				t.Errorf("ipvsadm -L --timeout: %q, lvsgen renders %q", strings.TrimSpace(timeouts), wantTimeouts)
			}
		})
	}
}

type planOp struct {
	Action, Kind, Object, Reason string
	Before, After                map[string]any
}

// planOps reads the operations of a `lvsgen plan --format json`.
func planOps(t *testing.T, r guest.Result) []planOp {
	t.Helper()
	var doc struct{ Ops []planOp }
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
		t.Fatalf("plan: %v\n%s", err, r)
	}
	return doc.Ops
}

// onlyThresholds reports whether two destinations differ in their
// thresholds only.
func onlyThresholds(a, b map[string]any) bool {
	for k, v := range a {
		if k != "upperThreshold" && k != "lowerThreshold" && fmt.Sprint(v) != fmt.Sprint(b[k]) {
			return false
		}
	}
	return len(a) == len(b)
}

// desiredServices compiles dir and returns lb1's desired IPVS services.
func desiredServices(t *testing.T, dir string) []ipvs.Service {
	t.Helper()
	res, err := compiler.Compile(dir)
	if err != nil || !res.Valid() {
		t.Fatalf("compile %s: %v %v", dir, err, res.Diagnostics)
	}
	var out []ipvs.Service
	for _, s := range res.Hosts["lb1"].Services {
		out = append(out, s.Service)
	}
	return out
}

// liveTable is the namespace's IPVS table: save (ipvsadm -S -n) with the
// thresholds, which save does not print, read over netlink. (moby/ipvs
// reads weights as 16 bits, so they come from save.)
func liveTable(t *testing.T, n *topo.Node, save string) []ipvs.Service {
	t.Helper()
	svcs, err := ipvs.ParseSave(strings.NewReader(save))
	if err != nil {
		// ipvsadm-save prints what it cannot read back ("-b " for sh or
		// mh with flag-3): compare the rest.
		var kept, unreadable []string
		for _, l := range strings.SplitAfter(save, "\n") {
			line := strings.TrimRight(l, "\n")
			if strings.HasPrefix(line, "-A ") && strings.HasSuffix(line, " -b ") {
				svc, _, _ := strings.Cut(strings.TrimPrefix(line, "-A "), " -s ")
				unreadable = append(unreadable, "-a "+svc+" -r ")
				continue
			}
			if !slices.ContainsFunc(unreadable, func(p string) bool { return strings.HasPrefix(line, p) }) {
				kept = append(kept, l)
			}
		}
		if svcs, err = ipvs.ParseSave(strings.NewReader(strings.Join(kept, ""))); err != nil {
			t.Fatalf("read ipvsadm -S -n: %v", err)
		}
		t.Logf("left out of the live comparison: services ipvsadm-save prints as it cannot read them back")
	}
	h, err := mobyipvs.New(n.NsPath())
	if err != nil {
		t.Fatalf("ipvs handle: %v", err)
	}
	defer h.Close()
	ks, err := h.GetServices()
	if err != nil {
		t.Fatalf("get services: %v", err)
	}
	for _, k := range ks {
		key := ipvs.ServiceKey{FWMark: k.FWMark, Family: ipvs.Family(k.AddressFamily)}
		if k.FWMark == 0 {
			key.Protocol, key.Port = ipvs.Protocol(k.Protocol), k.Port
			key.Addr = addr(k.Address, key.Family)
		}
		i := slices.IndexFunc(svcs, func(s ipvs.Service) bool { return s.ServiceKey.String() == key.String() })
		if i < 0 {
			continue
		}
		ds, err := h.GetDestinations(k)
		if err != nil {
			t.Fatalf("get destinations of %s: %v", key, err)
		}
		for _, d := range ds {
			a := netip.AddrPortFrom(addr(d.Address, ipvs.Family(d.AddressFamily)), d.Port)
			for j := range svcs[i].Destinations {
				if svcs[i].Destinations[j].AddrPort() == a {
					svcs[i].Destinations[j].UpperThreshold = d.UpperThreshold
					svcs[i].Destinations[j].LowerThreshold = d.LowerThreshold
				}
			}
		}
	}
	return svcs
}

func addr(ip net.IP, f ipvs.Family) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	if f == ipvs.IPv4 {
		return a.Unmap()
	}
	return a
}

// startKeepalived runs keepalived in the foreground in n's namespace on
// conf, with pid files of its own; the test's cleanup stops it with
// SIGINT.
func startKeepalived(t *testing.T, n *topo.Node, conf string, args ...string) *topo.Process {
	t.Helper()
	run := t.TempDir()
	args = append([]string{"-C", "--dont-fork", "--log-console", "-f", conf, "-p", filepath.Join(run, "k.pid"), "-c", filepath.Join(run, "c.pid"), "-r", filepath.Join(run, "v.pid")}, args...)
	return n.StartProcess(t, os.Interrupt, "/sbin/keepalived", args...)
}

func waitTable(t *testing.T, n *topo.Node, want, what string, k *topo.Process) {
	t.Helper()
	var got string
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(250 * time.Millisecond) {
		if got = n.MustRun("ipvsadm", "-S", "-n").Stdout; got == want {
			return
		}
	}
	t.Fatalf("%s: table (-want +got):\n%s\nkeepalived:\n%s", what, cmp.Diff(want, got), k.Out.String())
}

// TestKeepalivedHandover checks what docs/IMPORT.md says about taking
// services away from keepalived: a reload deletes the virtual servers the
// new file lacks, a stop deletes them all, and with --dont-release-ipvs a
// stop keeps them and a start without them leaves them alone, so that
// lvsgen can adopt them with no change.
func TestKeepalivedHandover(t *testing.T) {
	guest.Require(t)
	lvsgen := guest.Lvsgen(t)
	dir := t.TempDir()
	web := "virtual_server 192.0.2.10 80 {\n  protocol TCP\n  lb_kind DR\n  lb_algo wrr\n  real_server 10.10.0.11 80 {\n    weight 3\n  }\n}\n"
	dns := "virtual_server 192.0.2.53 53 {\n  protocol UDP\n  lb_kind NAT\n  real_server 10.20.0.5 5353 {\n  }\n}\n"
	conf := filepath.Join(dir, "keepalived.conf")
	write := func(s string) { os.WriteFile(conf, []byte(s), 0o644) }
	webSave := "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.10.0.11:80 -g -w 3\n"
	dnsSave := "-A -u 192.0.2.53:53 -s wlc\n-a -u 192.0.2.53:53 -r 10.20.0.5:5353 -m -w 1\n"
	n := topo.New(t).Node("ka", nil, "")

	write(web + dns)
	k := startKeepalived(t, n, conf)
	waitTable(t, n, webSave+dnsSave, "keepalived starts", k)
	write(dns)
	k.Signal(syscall.SIGHUP)
	waitTable(t, n, dnsSave, "a reload without the web virtual_server deletes it", k)
	k.Stop()
	waitTable(t, n, "", "a stop deletes keepalived's services", k)

	write(web + dns)
	k = startKeepalived(t, n, conf, "--dont-release-ipvs")
	waitTable(t, n, webSave+dnsSave, "keepalived -I starts", k)
	k.Stop()
	waitTable(t, n, webSave+dnsSave, "keepalived -I stops and keeps them", k)
	write(dns)
	k = startKeepalived(t, n, conf, "--dont-release-ipvs")
	time.Sleep(3 * time.Second)
	waitTable(t, n, webSave+dnsSave, "keepalived -I starts without web and leaves it alone", k)

	// lvsgen adopts web with no change; dns stays keepalived's.
	webConf := filepath.Join(dir, "web.conf")
	os.WriteFile(webConf, []byte(web), 0o644)
	out := filepath.Join(dir, "config")
	guest.MustRun(t, lvsgen, "import", "keepalived", webConf, "--director", "lb1", "-o", out)
	capture := filepath.Join(dir, "lb1.save")
	os.WriteFile(capture, []byte(n.MustRun("ipvsadm", "-S", "-n").Stdout), 0o644)
	plan := guest.MustRun(t, lvsgen, "plan", out, "--host", "lb1", "--observed", capture)
	if !strings.Contains(plan.Stdout, "no changes") || !strings.Contains(plan.Stdout, "? service   udp:192.0.2.53:53  unmanaged") {
		t.Errorf("plan:\n%s", plan.Stdout)
	}
}
