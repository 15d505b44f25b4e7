//go:build e2eguest

package kernel

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/ipvs"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// schedulers are the IPVS schedulers the VM's kernel has (twos is missing:
// it came with Linux 6.2).
var schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"}

// director returns a fresh namespace to hold IPVS state for one test.
func director(t *testing.T) *topo.Node {
	return topo.New(t).Node("dir", nil, "")
}

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
	d := director(t)
	d.MustRun("ipvsadm", "-A", "-t", "10.0.0.1:80", "-s", "rr")
	d.MustRun("ipvsadm", "-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2:80", "-g", "-w", "3")
	got := d.MustRun("ipvsadm", "-S", "-n").Stdout
	want := "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 3\n"
	if got != want {
		t.Fatalf("ipvsadm -S -n:\n got %q\nwant %q", got, want)
	}
	// Namespaces do not share IPVS tables: the root namespace is empty.
	if root := guest.MustRun(t, "ipvsadm", "-S", "-n").Stdout; root != "" {
		t.Fatalf("root namespace has services: %q", root)
	}
}

func TestSchedulersLoad(t *testing.T) {
	guest.Require(t)
	d := director(t)
	for _, s := range schedulers {
		guest.MustRun(t, "modprobe", "ip_vs_"+s)
		if !guest.ModuleLoaded("ip_vs_" + s) {
			t.Errorf("ip_vs_%s is not loaded after modprobe", s)
		}
		d.MustRun("ipvsadm", "-A", "-t", "10.0.0.1:80", "-s", s)
		got := d.MustRun("ipvsadm", "-S", "-n").Stdout
		if want := "-A -t 10.0.0.1:80 -s " + s + "\n"; got != want {
			t.Errorf("scheduler %s: ipvsadm -S -n = %q, want %q", s, got, want)
		}
		d.MustRun("ipvsadm", "-D", "-t", "10.0.0.1:80")
	}
}

// TestTwosMissing records how the VM's kernel (6.1, before twos) rejects
// the twos scheduler, through ipvsadm and through netlink, so code that
// maps kernel errors can rely on it.
func TestTwosMissing(t *testing.T) {
	guest.Require(t)
	d := director(t)
	if res, _ := guest.Run("modprobe", "ip_vs_twos"); res.Exit == 0 {
		t.Fatalf("modprobe ip_vs_twos succeeded; this kernel was expected to lack it")
	}
	res, err := d.Run("ipvsadm", "-A", "-t", "10.0.0.1:80", "-s", "twos")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ipvsadm -A -t 10.0.0.1:80 -s twos: %s", res)
	// The kernel answers ENOENT; ipvsadm 1.31 words that as below and
	// exits 255.
	const wantStderr = "Scheduler or persistence engine not found\n"
	if res.Exit != 255 || res.Stderr != wantStderr {
		t.Fatalf("ipvsadm -s twos: %s\nwant exit 255 and stderr %q", res, wantStderr)
	}

	h, err := ipvs.New(d.NsPath())
	if err != nil {
		t.Fatalf("ipvs handle: %v", err)
	}
	defer h.Close()
	err = h.NewService(&ipvs.Service{
		AddressFamily: syscall.AF_INET,
		Protocol:      syscall.IPPROTO_TCP,
		Address:       net.ParseIP("10.0.0.1"),
		Port:          80,
		Netmask:       0xffffffff,
		SchedName:     "twos",
	})
	t.Logf("netlink IPVS_CMD_NEW_SERVICE with twos: %v (%#v)", err, err)
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("netlink new service with twos: %v, want ENOENT", err)
	}
	if out := d.MustRun("ipvsadm", "-S", "-n").Stdout; out != "" {
		t.Fatalf("a service exists after the failures: %q", out)
	}
}
