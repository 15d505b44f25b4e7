//go:build e2eguest

// Package bench measures lvsgen against ipvsadm on the real kernel in the
// e2e VM, in the same run:
//
//	make bench-e2e    # LVSGEN_E2E_RUN='^$' LVSGEN_E2E_BENCH=. go test ./e2e/ -run TestGuest -count=1 -v
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/applier"
	"github.com/lvsgen/lvsgen/applier/kernel/netlink"
	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/gen"
)

// long runs a command in n's namespace with a bound that fits compiling a
// large config under TCG (guest.Run's minute does not).
func long(n *topo.Node, name string, args ...string) (string, time.Duration, error) {
	var out []byte
	var d time.Duration
	err := n.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		var err error
		out, err = exec.CommandContext(ctx, name, args...).Output()
		d = time.Since(start)
		return err
	})
	return string(out), d, err
}

var appliedIn = regexp.MustCompile(`Applied (\d+) of \d+ operations in ([0-9.]+[a-zµ]+)`)

// BenchmarkApply1000x10 applies a generated config of 1,000 services with
// 10 real servers each to an empty kernel, then again (a no-op), and times
// ipvsadm -R of the same rules and ipvsadm -S -n in a fresh namespace. It
// prints one table; each figure is one run (the VM's clock, under TCG).
func BenchmarkApply1000x10(b *testing.B) {
	guest.Require(b)
	lvsgen := guest.Lvsgen(b)
	dir := b.TempDir()
	if err := gen.Write(dir, 1000, 10); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		tp := topo.New(b)
		lan := tp.Subnet("lan", "10.0.0.0/16")
		lb := tp.Node("lb1", lan, "10.0.0.2")
		state := b.TempDir()
		run := func(args ...string) (string, time.Duration) {
			b.Helper()
			out, d, err := long(lb, lvsgen, append(args, "--host", "lb1", "--state-dir", state)...)
			if err != nil {
				b.Fatalf("lvsgen %v: %v\n%s", args, err, out)
			}
			return out, d
		}
		rules, compile, err := long(lb, lvsgen, "render", dir, "--host", "lb1", "--format", "ipvsadm-save")
		if err != nil {
			b.Fatalf("render: %v", err)
		}
		out, applyWall := run("apply", dir, "--auto-approve", "--rules-file", "", "--sysctl-file", "")
		m := appliedIn.FindStringSubmatch(out)
		if m == nil {
			b.Fatalf("no summary in\n%s", out)
		}
		applyKernel, _ := time.ParseDuration(m[2])
		noop, noopWall := run("apply", dir, "--auto-approve", "--rules-file", "", "--sysctl-file", "")
		if !strings.Contains(noop, "no changes") {
			b.Fatalf("second apply changed something:\n%s", noop)
		}
		// The kernel part of a no-op plan: what Observe reads (the same
		// dumps lvsgen plan makes), without the compile.
		k, err := netlink.New(netlink.WithNetNSPath(lb.NsPath()))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		obs, err := applier.Observe(context.Background(), k, &hoststate.Host{Name: "lb1"}, applier.NewState("lb1"))
		observe := time.Since(start)
		k.Close()
		if err != nil || len(obs.Services) != 1000 {
			b.Fatalf("observe: %v (%d services)", err, len(obs.Services))
		}

		other := tp.Node("ipvsadm", nil, "")
		var restore, save time.Duration
		var res guest.Result
		rulesFile := filepath.Join(b.TempDir(), "rules")
		if err := os.WriteFile(rulesFile, []byte(rules), 0o644); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if res, err := other.Run("sh", "-c", "ipvsadm -R < "+rulesFile); err != nil || res.Exit != 0 {
			b.Fatalf("ipvsadm -R: %v %s", err, res)
		}
		restore = time.Since(start)
		start = time.Now()
		res, err = other.Run("ipvsadm", "-S", "-n")
		if err != nil || res.Exit != 0 {
			b.Fatalf("ipvsadm -S: %v %s", err, res)
		}
		save = time.Since(start)
		if strings.Count(res.Stdout, "\n") != 11000 {
			b.Errorf("ipvsadm -S printed %d lines, want 11000", strings.Count(res.Stdout, "\n"))
		}
		fmt.Printf("\n1,000 services x 10 destinations, one run each, e2e VM (qemu TCG):\n")
		fmt.Printf("  %-44s %10s\n", "lvsgen render (compile only), wall", compile.Round(time.Millisecond))
		fmt.Printf("  %-44s %10s\n", "lvsgen apply from empty, wall", applyWall.Round(time.Millisecond))
		fmt.Printf("  %-44s %10s  (%s kernel operations)\n", "  of which applying the plan", applyKernel.Round(time.Millisecond), m[1])
		fmt.Printf("  %-44s %10s\n", "ipvsadm -R of the same rules", restore.Round(time.Millisecond))
		fmt.Printf("  %-44s %10s\n", "lvsgen apply again (no-op), wall", noopWall.Round(time.Millisecond))
		fmt.Printf("  %-44s %10s\n", "  of which reading the kernel (Observe)", observe.Round(time.Millisecond))
		fmt.Printf("  %-44s %10s\n", "ipvsadm -S -n", save.Round(time.Millisecond))
		b.ReportMetric(applyKernel.Seconds(), "apply-s")
		b.ReportMetric(restore.Seconds(), "ipvsadm-R-s")
	}
}
