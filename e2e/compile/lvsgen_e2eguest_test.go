//go:build e2eguest

package compile

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// lvsgen runs the VM's lvsgen with args and returns its result; the test
// fails only when it cannot run at all.
func lvsgen(t *testing.T, args ...string) guest.Result {
	t.Helper()
	start := time.Now()
	res, err := guest.Run(guest.Lvsgen(t), args...)
	if err != nil {
		t.Fatalf("lvsgen %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("lvsgen %s: exit %d (%.1fs)", strings.Join(args, " "), res.Exit, time.Since(start).Seconds())
	return res
}

// render returns `lvsgen render dir --host host --format format`; the
// test fails unless it exits 0.
func render(t *testing.T, dir, host, format string) string {
	t.Helper()
	res := lvsgen(t, "render", dir, "--host", host, "--format", format)
	if res.Exit != 0 {
		t.Fatalf("lvsgen render %s --host %s --format %s: %s", dir, host, format, res)
	}
	return res.Stdout
}

// restore loads save text with `ipvsadm -R` in node n's namespace and
// returns ipvsadm's result.
func restore(t *testing.T, n *topo.Node, text string) guest.Result {
	t.Helper()
	cmd := exec.Command("ipvsadm", "-R")
	cmd.Stdin = strings.NewReader(text)
	res, err := n.RunCmd(cmd)
	if err != nil {
		t.Fatalf("ipvsadm -R: %v", err)
	}
	return res
}

// restoreClean loads save text into n and fails the test unless ipvsadm -R
// exits 0 without a word on stderr.
func restoreClean(t *testing.T, n *topo.Node, text string) {
	t.Helper()
	if res := restore(t, n, text); res.Exit != 0 || res.Stderr != "" {
		t.Fatalf("ipvsadm -R refused the rendered rules: %s\ninput:\n%s", res, text)
	}
}

// saved returns `ipvsadm -S -n` in n's namespace.
func saved(t *testing.T, n *topo.Node) string {
	t.Helper()
	return n.MustRun("ipvsadm", "-S", "-n").Stdout
}

// lineDiff lists the lines only in want and only in got (as sets).
func lineDiff(want, got string) (missing, extra []string) {
	w, g := map[string]int{}, map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		w[l]++
	}
	for _, l := range strings.Split(got, "\n") {
		g[l]++
	}
	for l, k := range w {
		for ; k > g[l]; k-- {
			missing = append(missing, l)
		}
	}
	for l, k := range g {
		for ; k > w[l]; k-- {
			extra = append(extra, l)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra
}
