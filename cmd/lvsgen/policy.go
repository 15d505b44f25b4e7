package main

import (
	"encoding/json"
	"fmt"
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
		Use:   "list DIR",
		Short: "List the policy rules in force for a config and where each comes from",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := compiler.CompileWith(args[0], compiler.Options{PolicyDirs: policyDirs})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if res.Config == nil && len(res.Rules) == 0 {
				_ = diag.WriteText(cmd.ErrOrStderr(), res.Diagnostics)
				return fmt.Errorf("%s must be valid before its policies can be listed", args[0])
			}
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				rules := res.Rules
				if rules == nil {
					rules = []compiler.Rule{}
				}
				return enc.Encode(rules)
			}
			if len(res.Rules) == 0 {
				fmt.Fprintf(out, "No policy rules in force. Bundled packs: %v; enable them with policies: [...] in the config.\n", policies.Names())
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "RULE\tSEVERITY\tSOURCE\tREQUIRES")
			for _, r := range res.Rules {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Source, r.Message)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&format, "format", "text", "text or json")
	list.Flags().StringArrayVar(&policyDirs, "policy", nil, "also load the policies in this directory (repeatable)")
	c.AddCommand(list)
	return c
}
