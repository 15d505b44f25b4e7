//go:build e2eguest

package kernel

import (
	"os"
	"strings"
	"testing"

	"github.com/lvsgen/lvsgen/e2e/guest"
)

// schedulers are the IPVS schedulers the VM's kernel has (twos is missing:
// it came with Linux 6.2).
var schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"}

func TestIPVSLoaded(t *testing.T) {
	guest.Require(t)
	if !guest.ModuleLoaded("ip_vs") {
		t.Fatal("ip_vs is not loaded")
	}
	b, err := os.ReadFile("/proc/net/ip_vs")
	if err != nil {
		t.Fatalf("read /proc/net/ip_vs: %v", err)
	}
	if !strings.Contains(string(b), "IP Virtual Server version") {
		t.Fatalf("/proc/net/ip_vs = %q", b)
	}
	t.Logf("%s", strings.SplitN(string(b), "\n", 2)[0])
}

func TestIPVSAdmServiceRoundTrip(t *testing.T) {
	guest.Require(t)
	t.Cleanup(func() { guest.MustRun(t, "ipvsadm", "-C") })
	guest.MustRun(t, "ipvsadm", "-A", "-t", "10.0.0.1:80", "-s", "rr")
	guest.MustRun(t, "ipvsadm", "-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2:80", "-g", "-w", "3")
	got := guest.MustRun(t, "ipvsadm", "-S", "-n").Stdout
	want := "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 3\n"
	if got != want {
		t.Fatalf("ipvsadm -S -n:\n got %q\nwant %q", got, want)
	}
}

func TestSchedulersLoad(t *testing.T) {
	guest.Require(t)
	t.Cleanup(func() { guest.MustRun(t, "ipvsadm", "-C") })
	for _, s := range schedulers {
		guest.MustRun(t, "modprobe", "ip_vs_"+s)
		if !guest.ModuleLoaded("ip_vs_" + s) {
			t.Errorf("ip_vs_%s is not loaded after modprobe", s)
		}
		guest.MustRun(t, "ipvsadm", "-A", "-t", "10.0.0.1:80", "-s", s)
		got := guest.MustRun(t, "ipvsadm", "-S", "-n").Stdout
		if want := "-A -t 10.0.0.1:80 -s " + s + "\n"; got != want {
			t.Errorf("scheduler %s: ipvsadm -S -n = %q, want %q", s, got, want)
		}
		guest.MustRun(t, "ipvsadm", "-D", "-t", "10.0.0.1:80")
	}
}

// TestTwosMissing records how the VM's kernel (6.1, before twos) and
// ipvsadm reject the twos scheduler, so code that maps kernel errors can
// rely on it.
func TestTwosMissing(t *testing.T) {
	guest.Require(t)
	t.Cleanup(func() { guest.MustRun(t, "ipvsadm", "-C") })
	if res, _ := guest.Run("modprobe", "ip_vs_twos"); res.Exit == 0 {
		t.Fatalf("modprobe ip_vs_twos succeeded; this kernel was expected to lack it")
	}
	res, err := guest.Run("ipvsadm", "-A", "-t", "10.0.0.1:80", "-s", "twos")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ipvsadm -A -t 10.0.0.1:80 -s twos: %s", res)
	// The kernel answers ENOENT; ipvsadm 1.31 words that as below and
	// exits 255.
	if res.Exit != 255 || res.Stderr != "Scheduler or persistence engine not found\n" {
		t.Fatalf("ipvsadm -s twos: %s\nwant exit 255 and stderr %q", res, "Scheduler or persistence engine not found\n")
	}
}
