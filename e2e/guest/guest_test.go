//go:build e2eguest

package guest

import (
	"os"
	"strings"
	"testing"
)

// TestHarness checks what the VM's /init promises guest tests: the guest
// marker, the working directory, lvsgen, the data directory and the tools.
func TestHarness(t *testing.T) {
	Require(t)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if wd != "/e2e-src/e2e/guest" {
		t.Errorf("working directory %s, want /e2e-src/e2e/guest (the package's directory)", wd)
	}
	res := MustRun(t, Lvsgen(t), "--help")
	if !strings.Contains(res.Stdout+res.Stderr, "lvsgen") {
		t.Errorf("lvsgen --help does not name lvsgen:\n%s", res)
	}
	if st, err := os.Stat(DataDir()); err != nil || !st.IsDir() {
		t.Errorf("data dir %s: %v", DataDir(), err)
	}
	if ents, err := os.ReadDir(DataDir()); err == nil {
		for _, e := range ents {
			t.Logf("data: %s/%s", DataDir(), e.Name())
		}
	}
	for _, tool := range []string{"/sbin/ipvsadm", "/sbin/ip", "/sbin/modprobe", "/bin/busybox"} {
		if _, err := os.Stat(tool); err != nil {
			t.Errorf("tool %s: %v", tool, err)
		}
	}
	// iproute2's ip, not busybox's applet, answers to /sbin/ip.
	if out := MustRun(t, "/sbin/ip", "-V").Stdout; !strings.Contains(out, "iproute2") {
		t.Errorf("/sbin/ip -V = %q, want iproute2", out)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/modprobe"); err != nil || strings.TrimSpace(string(b)) != "/sbin/modprobe" {
		t.Errorf("kernel modprobe helper = %q, %v", b, err)
	}
}
