package main

import (
	"fmt"
	"io"

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
valid (warnings allowed), 1 when it is not, 2 on a usage error.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			write, err := diagWriter(format)
			if err != nil {
				return err
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
