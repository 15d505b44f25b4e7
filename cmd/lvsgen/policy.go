package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/policies"
)

func newPolicy() *cobra.Command {
	c := &cobra.Command{
		Use:   "policy",
		Short: "Inspect the policy rules a config is checked against",
	}
	var format string
	var policyDirs []string
	list := &cobra.Command{
		Use:   "list [DIR]",
		Short: "List the policy rules in force for a config and where each comes from",
		Long: `list shows the policy rules in force for the config in DIR, each with its
severity, its source and what it requires. Without DIR it lists the rules
of every bundled pack, to choose which to enable.`,
		Args: func(c *cobra.Command, args []string) error {
			if err := cobra.MaximumNArgs(1)(c, args); err != nil {
				return usageError{fmt.Errorf("%s: %w", c.CommandPath(), err)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if len(args) == 0 {
				if len(policyDirs) > 0 {
					return usageError{fmt.Errorf("%s: --policy needs a config DIR", cmd.CommandPath())}
				}
				rules, diags := compiler.BundledRules()
				if len(diags) > 0 {
					_ = diag.WriteText(cmd.ErrOrStderr(), diags)
					return fmt.Errorf("a bundled policy pack could not be read; this is a bug in lvsgen")
				}
				return writeRules(out, format, rules)
			}
			res, err := compiler.CompileWith(args[0], compiler.Options{PolicyDirs: policyDirs})
			if err != nil {
				return err
			}
			if res.Config == nil && len(res.Rules) == 0 {
				_ = diag.WriteText(cmd.ErrOrStderr(), res.Diagnostics)
				return fmt.Errorf("%s must be valid before its policies can be listed", args[0])
			}
			if format == "text" && len(res.Rules) == 0 {
				fmt.Fprintf(out, "No policy rules in force. Bundled packs: %v; enable them with policies: [...] in the config.\n", policies.Names())
				return nil
			}
			return writeRules(out, format, res.Rules)
		},
	}
	list.Flags().StringVar(&format, "format", "text", "text or json")
	list.Flags().StringArrayVar(&policyDirs, "policy", nil, "also load the policies in this directory (repeatable)")
	c.AddCommand(list)
	return c
}

// writeRules prints policy rules as a table or as JSON (a list, [] for
// none).
func writeRules(out io.Writer, format string, rules []compiler.Rule) error {
	switch format {
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if rules == nil {
			rules = []compiler.Rule{}
		}
		return enc.Encode(rules)
	case "text":
	default:
		return usageError{fmt.Errorf("unknown --format %q: want text or json", format)}
	}
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tSEVERITY\tSOURCE\tREQUIRES")
	for _, r := range rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Source, r.Message)
	}
	return tw.Flush()
}
