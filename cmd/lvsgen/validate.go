package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/diag"
)

func newValidate() *cobra.Command {
	var format string
	var policyDirs []string
	c := &cobra.Command{
		Use:   "validate DIR",
		Short: "Check a config directory against the schema and the LVS topology rules",
		Long: `validate reads every .cue file under DIR and reports every problem at once,
each with its file, line, field and a hint. It exits 0 when the config is
valid (warnings allowed), 1 when it is not, 64 on a usage error: an
unknown flag or format, or a DIR that does not exist or is not a
directory (with --format json or github reported in that format too).`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			write, err := diagWriter(format)
			if err != nil {
				return err
			}
			if err := checkConfigDir(args[0]); err != nil {
				// A program reading --format json gets a document,
				// not an empty stdout, whatever went wrong.
				if format != "text" {
					d := diag.Diagnostic{Rule: "usage", Pos: diag.Pos{File: args[0]}, Message: err.Error(), Hint: "name the directory that holds the config's .cue files"}
					if werr := write(cmd.OutOrStdout(), diag.List{d}); werr != nil {
						return werr
					}
				}
				return usageError{err}
			}
			res, err := compiler.CompileWith(args[0], compiler.Options{PolicyDirs: policyDirs})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := write(out, res.Diagnostics); err != nil {
				return err
			}
			if !res.Valid() {
				return exitError{1}
			}
			if format == "text" {
				fmt.Fprintf(out, "%s: valid (%d services, %d hosts)\n", args[0], len(res.Config.Services), len(res.Config.Hosts))
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text, json or github (workflow annotations)")
	c.Flags().StringArrayVar(&policyDirs, "policy", nil, "also check the policies in this directory (repeatable)")
	return c
}

// checkConfigDir says why dir cannot be a config directory: it does not
// exist or is not a directory.
func checkConfigDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("config directory %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("config directory: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory: validate reads a directory of .cue files", dir)
	}
	return nil
}

func diagWriter(format string) (func(io.Writer, diag.List) error, error) {
	switch format {
	case "text":
		return func(w io.Writer, l diag.List) error {
			if len(l) == 0 {
				return nil
			}
			return diag.WriteText(w, l)
		}, nil
	case "json":
		return diag.WriteJSON, nil
	case "github":
		return diag.WriteGitHub, nil
	}
	return nil, usageError{fmt.Errorf("unknown --format %q: want text, json or github", format)}
}
