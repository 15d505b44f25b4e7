package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lvsgen/lvsgen/applier"
	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/safefile"
	"github.com/lvsgen/lvsgen/plan"
	"github.com/lvsgen/lvsgen/plan/planfmt"
)

// openKernel opens the live kernel; a variable so tests can substitute
// the in-memory twin.
var openKernel = openNetlinkKernel

// planFlags are shared by plan and apply.
type planFlags struct {
	host         string
	format       string
	stateDir     string
	prune        bool
	drainTimeout time.Duration
	maxDeletes   int
	// maxDeleteFraction is --max-delete-fraction (applier.Runner).
	maxDeleteFraction float64
	detailedExit      bool
	observed          string
	timeout           time.Duration
	policyDirs        []string
	// checkPerms is set by apply, which writes the kernel as root, unless
	// --allow-unsafe-permissions.
	checkPerms bool
	noCache    bool
}

func (f *planFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.host, "host", "", "the host to plan for (required)")
	c.Flags().StringVar(&f.format, "format", "text", "text or json")
	c.Flags().StringVar(&f.stateDir, "state-dir", applier.DefaultStateDir, "where lvsgen records what it owns on this host")
	c.Flags().BoolVar(&f.prune, "prune", false, "also delete IPVS services lvsgen did not create and the config does not name")
	c.Flags().DurationVar(&f.drainTimeout, "drain-timeout", plan.DefaultDrainTimeout, "how long a leaving TCP/SCTP real server drains at weight 0 before deletion (0: delete at once)")
	c.Flags().IntVar(&f.maxDeletes, "max-deletes", -1, "refuse a plan that deletes or drains more than N services and destinations (-1: no limit)")
	c.Flags().Float64Var(&f.maxDeleteFraction, "max-delete-fraction", applier.DefaultMaxDeleteFraction, "refuse a plan that deletes more than this fraction of the managed services, one always allowed (1: no limit)")
	c.Flags().BoolVar(&f.detailedExit, "detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are, 1 on error")
	c.Flags().DurationVar(&f.timeout, "timeout", 2*time.Minute, "bound on the whole run's kernel calls")
	c.Flags().StringArrayVar(&f.policyDirs, "policy", nil, "also check the policies in this directory (repeatable)")
	c.Flags().BoolVar(&f.noCache, "no-cache", false, noCacheUsage)
}

// compile checks --format and compiles dir for --host: what plan and
// apply do before they touch a kernel. Diagnostics go to stderr.
func (f *planFlags) compile(stderr io.Writer, dir string) (*hoststate.Host, error) {
	if f.format != "text" && f.format != "json" {
		return nil, usageError{fmt.Errorf("unknown --format %q: want text or json", f.format)}
	}
	if f.maxDeleteFraction <= 0 || f.maxDeleteFraction > 1 {
		return nil, usageError{fmt.Errorf("--max-delete-fraction %g: want more than 0 and at most 1 (1: no limit)", f.maxDeleteFraction)}
	}
	return compileHost(stderr, dir, f.host, compiler.Options{PolicyDirs: f.policyDirs, CheckPermissions: f.checkPerms}, f.noCache)
}

// lockLiveKernel takes the lock of the kernel openKernel opens: one per
// network namespace (applier.LockNetNS); a variable, like openKernel, so
// tests that substitute the kernel substitute its lock's directory too.
var lockLiveKernel = func() (func(), error) { return applier.LockNetNS(applier.DefaultRunDir) }

// lockKernel takes host's apply lock in stateDir and the kernel's own
// lock, and then opens the kernel, so that apply and watch only write
// while they hold both: the first keeps two runs for one host apart, the
// second two runs for different hosts (or state directories) that would
// write the same kernel. The caller calls unlock when done; on an error
// nothing is held.
func lockKernel(stateDir, host string) (k kernel.Kernel, unlock func(), err error) {
	unlockHost, err := applier.Lock(stateDir, host)
	if err != nil {
		return nil, nil, err
	}
	unlockKernel, err := lockLiveKernel()
	if err != nil {
		unlockHost()
		return nil, nil, err
	}
	unlock = func() { unlockKernel(); unlockHost() }
	if k, err = openKernel(); err != nil {
		unlock()
		return nil, nil, err
	}
	return k, unlock, nil
}

// compileHost compiles dir (through the compile cache unless noCache)
// and returns host's desired state; diagnostics go to stderr.
func compileHost(stderr io.Writer, dir, host string, opts compiler.Options, noCache bool) (*hoststate.Host, error) {
	if host == "" {
		return nil, usageError{errors.New("--host NAME is required")}
	}
	res, err := compileHostCached(stderr, dir, host, opts, noCache)
	if err != nil {
		return nil, err
	}
	if !res.Valid() {
		_ = diag.WriteText(stderr, res.Diagnostics)
		return nil, exitError{1}
	}
	if len(res.Diagnostics) > 0 {
		_ = diag.WriteText(stderr, res.Diagnostics)
	}
	if res.Host == nil {
		if res.Declared {
			return nil, fmt.Errorf("host %q is not managed (managed: false)", host)
		}
		return nil, fmt.Errorf("no host %q in %s", host, dir)
	}
	return res.Host, nil
}

func (f *planFlags) runner(k kernel.Kernel) *applier.Runner {
	return &applier.Runner{Kernel: k, StateDir: f.stateDir, Prune: f.prune, DrainTimeout: f.drainTimeout, MaxDeletes: f.maxDeletes, MaxDeleteFraction: f.maxDeleteFraction}
}

func writePlan(w io.Writer, p *plan.Plan, format string) error {
	if format == "json" {
		return planfmt.WriteJSON(w, p)
	}
	return planfmt.WriteText(w, p, isTerminal(w))
}

// showPlan plans want with r and writes the plan to w in format. A plan
// refused by a guard is written too, so the operator sees what was
// refused; the error returned is the write's, else the planning's.
func showPlan(ctx context.Context, w io.Writer, r *applier.Runner, want *hoststate.Host, format string, tm *timings) (*plan.Plan, error) {
	p, err := r.Plan(ctx, want)
	tm.mark("read and plan")
	if p != nil {
		if werr := writePlan(w, p, format); werr != nil {
			return nil, werr
		}
		tm.mark("print plan")
	}
	return p, err
}

// isTerminal says whether w is a terminal that takes colour (NO_COLOR
// unset).
func isTerminal(w io.Writer) bool {
	return isTTY(w) && os.Getenv("NO_COLOR") == ""
}

// isTTY says whether f, a stream of the command, is a terminal: only an
// *os.File can be.
func isTTY(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newPlan() *cobra.Command {
	var f planFlags
	c := &cobra.Command{
		Use:   "plan DIR --host NAME",
		Short: "Show what apply would change on a host, without changing it",
		Long: `plan compiles DIR, reads the host's live kernel state (or, with
--observed, a saved 'ipvsadm-save -n' capture) and prints the operations that
would make it match: + create, ~ change (old → new), - delete, = draining,
each with its reason. Services lvsgen did not create are listed as unmanaged.

Against the live kernel, the health 'lvsgen watch' saved in --state-dir
(HOST.health.json) is laid over the config: a down real server is planned at
weight 0 (or deleted), the sorry server in while none is up, each with a
"health: ..." reason, so that plan shows watch's decisions and apply keeps them.

With --observed only the IPVS table is compared (a capture holds nothing
else), health is not read, no root is needed, and services in the capture count as unmanaged
unless --prune: CI in git can show what a change would do to a real host.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			oneShotGC()
			tm := newTimings(cmd.ErrOrStderr())
			defer tm.report()
			want, err := f.compile(cmd.ErrOrStderr(), args[0])
			tm.mark("compile")
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			var k kernel.IPVS
			r := f.runner(nil)
			if f.observed != "" {
				in, name, err := openInput(cmd, f.observed, safefile.MaxConfigFile)
				if err != nil {
					return fmt.Errorf("reading --observed: %w", err)
				}
				if k, err = applier.ReadCapture(ctx, in, name); err != nil {
					return err
				}
				want = applier.CaptureWant(want)
				r.NoState = true // a capture comes with no ownership
			} else if k, err = openKernel(); err != nil {
				return err
			} else {
				// The live kernel carries watch's health decisions;
				// a capture is compared with the config alone.
				want = withHealth(cmd.ErrOrStderr(), f.stateDir, want)
			}
			r.Kernel = k
			p, err := showPlan(ctx, cmd.OutOrStdout(), r, want, f.format, tm)
			if err != nil {
				return err
			}
			if f.detailedExit && p.Changes() > 0 {
				return exitError{exitChanges}
			}
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&f.observed, "observed", "", "plan against this ipvsadm-save -n capture (- for stdin) instead of the live kernel")
	return c
}

func newApply() *cobra.Command {
	var f planFlags
	var autoApprove, allowUnsafePerms, adopt bool
	var files persistFiles
	c := &cobra.Command{
		Use:   "apply DIR --host NAME",
		Short: "Make a host's kernel match the config",
		Long: `apply validates DIR completely, plans (as 'lvsgen plan'), shows the plan,
asks for confirmation on a terminal (--auto-approve otherwise), applies it in
order and prints what it did. Nothing is written when the config is invalid
or the plan is refused. A kernel error stops the apply and reports what was
and was not done; the next apply converges. Afterwards the host's rules are
written to --rules-file (restored at boot by Debian's ipvsadm service), its
sysctls to --sysctl-file, and the nftables tables of fullnat services to
--nft-file (for /etc/nftables.conf to include; docs/OPERATIONS.md).

The state file in --state-dir records what lvsgen made, so that it removes
only that; it is written before the first kernel write (what the plan will
create) and after the last. When it is lost or corrupt, --adopt claims the
kernel objects that equal the config as lvsgen's and writes a new one;
sysctls adopted so keep their values at removal (the ones before lvsgen are
unknown), and default routes are not adopted.

--format json writes one JSON document to stdout: the plan, the result of
each operation (ok, error with its errno, unknown, not-done) and the outcome;
the prompt and progress go to stderr (docs/APPLY.md).`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			oneShotGC()
			f.checkPerms = !allowUnsafePerms
			if f.format != "json" {
				_, err := f.apply(cmd, args[0], autoApprove, adopt, files)
				return err
			}
			doc, err := f.apply(cmd, args[0], autoApprove, adopt, files)
			var ue usageError
			if errors.As(err, &ue) && doc.Plan == nil {
				return err // a bad invocation: no document
			}
			doc.Host = f.host
			if err != nil {
				doc.Err = err
				var ee exitError
				if errors.As(err, &ee) && doc.Outcome == planfmt.Invalid {
					doc.Err = errors.New("the config is invalid: the diagnostics are on stderr")
				}
			}
			if werr := planfmt.WriteApplyJSON(cmd.OutOrStdout(), doc); werr != nil {
				return errors.Join(err, werr)
			}
			return err
		},
	}
	f.register(c)
	c.Flags().BoolVar(&autoApprove, "auto-approve", false, "apply without asking")
	c.Flags().BoolVar(&adopt, "adopt", false, "claim the kernel objects that equal the config as lvsgen's: after the state file was lost or corrupt")
	c.Flags().BoolVar(&allowUnsafePerms, "allow-unsafe-permissions", false, "apply a config that users other than root and this one can change (refused by default)")
	files.register(c.Flags(), "after applying")
	return c
}

// persistFiles are the files apply and watch write after a successful
// apply, so that the host's state survives a reboot (applier.Persist).
type persistFiles struct{ rules, sysctl, nft string }

func (p *persistFiles) register(fl *pflag.FlagSet, when string) {
	fl.StringVar(&p.rules, "rules-file", applier.DefaultRulesFile, "write the host's IPVS rules here "+when+" (empty: don't)")
	fl.StringVar(&p.sysctl, "sysctl-file", applier.DefaultSysctlFile, "write the host's sysctls here "+when+" (empty: don't)")
	fl.StringVar(&p.nft, "nft-file", applier.DefaultNFTFile, "write the host's nftables tables (fullnat) here "+when+", as an nft script (empty: don't)")
}

// apply is apply's run: it compiles dir, plans, asks, applies, and
// returns what happened as apply's JSON document says it (planfmt.Apply,
// without its host and error) with the error that ends the run. With
// --format json, the plan and result are the document's alone: the
// prompt and the progress lines go to stderr, so that stdout holds one
// JSON document.
func (f *planFlags) apply(cmd *cobra.Command, dir string, autoApprove, adopt bool, files persistFiles) (planfmt.Apply, error) {
	doc := planfmt.Apply{Outcome: planfmt.Failed}
	out, planOut := cmd.OutOrStdout(), cmd.OutOrStdout()
	if f.format == "json" {
		out, planOut = cmd.ErrOrStderr(), io.Discard
	}
	tm := newTimings(cmd.ErrOrStderr())
	defer tm.report()
	want, err := f.compile(cmd.ErrOrStderr(), dir)
	tm.mark("compile")
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			doc.Outcome = planfmt.Invalid
		}
		return doc, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	k, unlock, err := lockKernel(f.stateDir, f.host)
	if err != nil {
		return doc, err
	}
	defer unlock()
	tm.mark("lock")
	// Read under the lock: watch writes the snapshot before it applies a
	// health change.
	want = withHealth(cmd.ErrOrStderr(), f.stateDir, want)
	r := f.runner(k)
	r.RulesFile, r.SysctlFile, r.NFTFile = files.rules, files.sysctl, files.nft
	r.Adopt = adopt
	if tm != nil {
		r.Mark = tm.mark
	}
	p, err := showPlan(ctx, planOut, r, want, f.format, tm)
	doc.Plan = p
	if err != nil {
		if errors.Is(err, applier.ErrRefused) {
			doc.Outcome = planfmt.Refused
		}
		return doc, err
	}
	if len(r.Adopted) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "Adopting as lvsgen's (--adopt): %s.\n", strings.Join(r.Adopted, ", "))
	}
	if p.Changes() > 0 && !autoApprove {
		if !isTTY(cmd.InOrStdin()) {
			doc.Outcome = planfmt.Cancelled
			return doc, usageError{errors.New("not a terminal: pass --auto-approve to apply without confirmation")}
		}
		fmt.Fprint(out, "Apply these changes? Only 'yes' is accepted: ")
		answer, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if strings.TrimSpace(answer) != "yes" {
			fmt.Fprintln(out, "Apply cancelled; nothing changed.")
			doc.Outcome = planfmt.Cancelled
			return doc, exitError{1}
		}
	}
	start := time.Now()
	res, err := r.Apply(ctx, want, p)
	doc.Results = opResults(p, res, err)
	if p.Changes() > 0 {
		fmt.Fprintf(out, "Applied %d of %d operations in %s: %s.\n", len(res.Done), len(p.Ops), time.Since(start).Round(time.Millisecond), plan.Summary(res.Done))
	}
	if err != nil && res != nil && len(res.Undone()) > 0 {
		reportStopped(out, res, err)
		return doc, fmt.Errorf("apply stopped: %w", err)
	}
	if err == nil {
		doc.Outcome = planfmt.Applied
		if p.Changes() == 0 {
			doc.Outcome = planfmt.NoChanges
		}
	}
	return doc, err
}

// opResults is the result of each of p's operations, in p's order, from
// what Apply said of them (res) and the error it returned (the failed
// operation's). Ops are compared by value: Apply hands back the plan's
// own, whose objects are pointers. A plan with nothing but waits for
// draining is not sent to the kernel, and a wait writes nothing: they are
// done.
func opResults(p *plan.Plan, res *applier.Result, err error) []planfmt.OpResult {
	results := make([]planfmt.OpResult, len(p.Ops))
	status := make(map[plan.Op]planfmt.OpResult, len(p.Ops))
	if res != nil {
		if p.Changes() == 0 && err == nil {
			for _, o := range p.Ops {
				status[o] = planfmt.OpResult{Status: planfmt.OK}
			}
		}
		for _, o := range res.Done {
			status[o] = planfmt.OpResult{Status: planfmt.OK}
		}
		if res.Failed != nil {
			r := planfmt.OpResult{Status: planfmt.Error, Err: err}
			if ae := (*applier.ApplyError)(nil); errors.As(err, &ae) {
				r.Err = ae.Err
			}
			status[*res.Failed] = r
		}
		for _, f := range res.AlsoFailed {
			status[f.Op] = planfmt.OpResult{Status: planfmt.Error, Err: f.Err}
		}
		for _, o := range res.Unknown {
			status[o] = planfmt.OpResult{Status: planfmt.Unknown}
		}
	}
	for i, o := range p.Ops {
		r, ok := status[o]
		if !ok {
			r.Status = planfmt.NotDone
		}
		results[i] = r
	}
	return results
}

// reportStopped says what an apply that stopped did not do: the failed
// operation, the ones the kernel also refused in the same batch, the ones
// sent without an answer, and the ones never sent.
func reportStopped(out io.Writer, res *applier.Result, err error) {
	var ae *applier.ApplyError
	if errors.As(err, &ae) {
		fmt.Fprintf(out, "Failed: %v\n", ae)
	}
	if n := len(res.AlsoFailed); n > 0 {
		ops := make([]plan.Op, n)
		for i, f := range res.AlsoFailed {
			ops[i] = f.Op
		}
		fmt.Fprintf(out, "Also failed in the same batch: %s (first: %v).\n", plan.Summary(ops), res.AlsoFailed[0].Err)
	}
	if len(res.Unknown) > 0 {
		fmt.Fprintf(out, "Sent, but the kernel's answer was lost (done or not; the next plan shows): %s.\n", plan.Summary(res.Unknown))
	}
	fmt.Fprintf(out, "Not done: %s. Run apply again once the cause is fixed; it plans from the kernel as it is.\n", plan.Summary(res.NotDone))
}
