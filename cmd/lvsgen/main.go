// Command lvsgen compiles a directory of CUE files that describes Linux IPVS
// load balancers into the desired state of each host, and validates it.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/internal/version"
)

// exitError carries an exit code out of a command without printing more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Exit codes, one meaning each (README.md has the table): 0 done, 1 an
// error (invalid config, refused plan, kernel error), exitChanges for
// --detailed-exitcode's "the plan has changes" (2, as terraform), and
// exitUsage for a bad invocation — 64, sysexits' EX_USAGE, so that a CI
// step running plan --detailed-exitcode never reads a typo as "changes".
const (
	exitChanges = 2
	exitUsage   = 64
)

// usageError marks a bad invocation (exit exitUsage).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func main() {
	os.Exit(run(os.Args[1:]))
}

// run runs the CLI on the process's standard streams.
func run(args []string) int { return runIO(args, os.Stdin, os.Stdout, os.Stderr) }

// runIO runs the CLI with args on the given streams and returns the exit
// code. Every command reads and writes only through cobra's InOrStdin,
// OutOrStdout and ErrOrStderr, so a test can drive it with buffers.
func runIO(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "lvsgen:", ue.err)
		return exitUsage
	default:
		fmt.Fprintln(stderr, "lvsgen:", err)
		return 1
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "lvsgen",
		Short:         "Compile, validate and apply declarative Linux IPVS (LVS) load balancer configs",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Get().String(),
	}
	// --version prints the same line as `lvsgen version`.
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\n%s", err, c.UsageString())}
	})
	root.AddCommand(newValidate(), newRender(), newPlan(), newApply(), newPolicy())
	root.AddCommand(newWatch(), newStatus())
	root.AddCommand(newImport())
	root.AddCommand(newDiff(), newGraph())
	root.AddCommand(newVersion())
	root.AddCommand(newSchema())
	root.AddCommand(newGenMan())
	registerCompletions(root)
	return root
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(c, args); err != nil {
			return usageError{fmt.Errorf("%s: %w", c.CommandPath(), err)}
		}
		return nil
	}
}
