//go:build e2eguest

package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
	"github.com/lvsgen/lvsgen/internal/gen"
)

// roundsOf is how many times BenchmarkCommands runs each command at a
// size: five at 1,000 services, where a round takes a minute and the
// VM's own speed moves a three-round minimum or median by 10-20 %; three
// at 10,000, where a round takes two.
func roundsOf(services int) int {
	if services <= 1000 {
		return 5
	}
	return 3
}

// BenchmarkCommands times whole processes, as an operator does: the
// lvsgen binary from ./cmd/lvsgen on director lb1 of internal/gen's
// config (compiled, not built by gen.Director), alternating with ipvsadm
// on the same rules, roundsOf times at 1,000 and 10,000 services x 10 real
// servers. Each round: lvsgen validate (always a cold compile), of a
// one-service config and lvsgen --version (the fixed costs); in a
// fresh namespace holding lb1's interface, lvsgen apply to the empty
// kernel (the compile cache holds the config, as after a plan), lvsgen
// plan with nothing to do from the cache and with --no-cache, ipvsadm -S
// -n, then one weight changed in the config and lvsgen apply of it
// (compiled: the config changed); in another fresh namespace, ipvsadm -R
// of the rules.
func BenchmarkCommands(b *testing.B) {
	guest.Require(b)
	lvsgen := guest.Lvsgen(b)
	b.Setenv("LVSGEN_CACHE_DIR", filepath.Join(b.TempDir(), "cache"))
	for b.Loop() {
		for _, n := range []int{1000, 10000} {
			measureCommands(b, lvsgen, n)
		}
	}
}

func measureCommands(b *testing.B, lvsgen string, services int) {
	dir := b.TempDir()
	if err := gen.Write(dir, services, 10); err != nil {
		b.Fatal(err)
	}
	text := rules(b, gen.Director(services, 10))
	// The first services file holds svc-0, whose first real server is
	// rs0 at weight 1: one change per round.
	svcFile := filepath.Join(dir, "services-0000.cue")
	const first = `{host: "rs0", weight: `
	weight := 1
	// bump raises that weight by one in the file.
	bump := func() {
		b.Helper()
		src, err := os.ReadFile(svcFile)
		if err != nil {
			b.Fatal(err)
		}
		old := fmt.Sprintf("%s%d}", first, weight)
		weight++
		if !strings.Contains(string(src), old) {
			b.Fatalf("%s has no %s", svcFile, old)
		}
		if err := os.WriteFile(svcFile, []byte(strings.Replace(string(src), old, fmt.Sprintf("%s%d}", first, weight), 1)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := onHost(lvsgen, "render", dir, "--host", "lb1", "--format", "sysctl"); err != nil {
		b.Fatal(err) // fills the compile cache, as a plan before an apply does
	}
	// One service: what every compile costs whatever the config's size
	// (the process, the schema, the evaluators), the floor of an apply
	// that compiles.
	one := b.TempDir()
	if err := gen.Write(one, 1, 10); err != nil {
		b.Fatal(err)
	}
	var validate, validateOne, version, apply, restore, plan, planCold, save, change []time.Duration
	// Where the time of the last round's cached plan and of an apply
	// after an edit goes (LVSGEN_TIMINGS, outside the timed runs).
	var phasesPlan, phasesChange string
	rounds := roundsOf(services)
	for round := range rounds {
		d, err := onHost(lvsgen, "validate", dir)
		if err != nil {
			b.Fatal(err)
		}
		validate = append(validate, d)
		if d, err = onHost(lvsgen, "validate", one); err != nil {
			b.Fatal(err)
		}
		validateOne = append(validateOne, d)
		if d, err = onHost(lvsgen, "--version"); err != nil {
			b.Fatal(err)
		}
		version = append(version, d)

		lb, drop := director(b, services)
		state := b.TempDir()
		run := func(args ...string) time.Duration {
			b.Helper()
			args = append(args, "--host", "lb1", "--state-dir", state)
			if args[0] == "apply" {
				args = append(args, "--auto-approve", "--rules-file", "", "--sysctl-file", "")
			}
			_, d, err := long(lb, nil, lvsgen, args...)
			if err != nil {
				b.Fatal(err)
			}
			return d
		}
		apply = append(apply, run("apply", dir))
		// --detailed-exitcode: a plan with changes exits 2, which fails.
		plan = append(plan, run("plan", dir, "--detailed-exitcode"))
		planCold = append(planCold, run("plan", dir, "--detailed-exitcode", "--no-cache"))
		_, d, err = long(lb, nil, "ipvsadm", "-S", "-n")
		if err != nil {
			b.Fatal(err)
		}
		save = append(save, d)

		bump()
		change = append(change, run("apply", dir))
		if round == rounds-1 {
			phasesPlan = phases(b, lb, lvsgen, "plan", dir, "--host", "lb1", "--state-dir", state)
			bump()
			phasesChange = phases(b, lb, lvsgen, "apply", dir, "--host", "lb1", "--state-dir", state, "--auto-approve", "--rules-file", "", "--sysctl-file", "")
		}
		drop()

		other, drop := namespace(b, "ipvsadm", services)
		restore = append(restore, ipvsadmRestore(b, other, text))
		drop()
	}
	var tb table
	tb.row("lvsgen validate (cold compile)", validate...)
	tb.row("lvsgen validate of one service (a compile's fixed cost)", validateOne...)
	tb.row("lvsgen --version (the process alone)", version...)
	tb.row("lvsgen apply from empty (config in the cache)", apply...)
	tb.row("ipvsadm -R", restore...)
	tb.ratio("ipvsadm -R / lvsgen apply", restore, apply, ">= 2x")
	tb.row("lvsgen plan, nothing to do (cached)", plan...)
	tb.row("lvsgen plan, nothing to do (--no-cache)", planCold...)
	tb.row("ipvsadm -S -n", save...)
	tb.ratio("lvsgen plan (cached) / ipvsadm -S -n", plan, save, "<= 1.5x")
	tb.ratio("lvsgen plan (--no-cache) / ipvsadm -S -n", planCold, save, "")
	tb.row("lvsgen apply of one weight change (compiles)", change...)
	tb.ratio("lvsgen apply of one change / ipvsadm -S -n", change, save, "<= 1.5x")
	tb.note("where the time goes, one run each after the rounds (LVSGEN_TIMINGS):")
	tb.note("  plan, nothing to do: %s", phasesPlan)
	tb.note("  apply of one weight change: %s", phasesChange)
	tb.print(fmt.Sprintf("%d services x 10 destinations, whole processes in the e2e VM (qemu TCG, one vCPU), %d alternating rounds:", services, rounds))
}

// phases runs lvsgen with args in n's namespace with LVSGEN_TIMINGS=1
// and returns the line where it says how long each phase took.
func phases(b *testing.B, n *topo.Node, lvsgen string, args ...string) string {
	b.Helper()
	var stderr bytes.Buffer
	err := n.Do(func() error {
		cmd := exec.Command(lvsgen, args...)
		cmd.Env = append(os.Environ(), "LVSGEN_TIMINGS=1")
		cmd.Stderr = &stderr
		return cmd.Run()
	})
	if err != nil {
		b.Fatalf("%s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if t, ok := strings.CutPrefix(l, "lvsgen: timings: "); ok {
			return t
		}
	}
	b.Fatalf("%s: no timings on stderr: %s", strings.Join(args, " "), stderr.String())
	return ""
}

// onHost runs a command in the VM's own namespace and returns how long
// it ran.
func onHost(name string, args ...string) (time.Duration, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return d, nil
}

// director returns node lb1 of gen's config in a fresh namespace, with
// its eth0 address, and a function that deletes it.
func director(b *testing.B, services int) (*topo.Node, func()) {
	tp := topo.New(b)
	lan := tp.Subnet("lan", "10.0.0.0/16")
	n := tp.Node("lb1", lan, "10.0.0.2")
	return n, func() {
		tp.Close()
		time.Sleep(settle(services))
	}
}
