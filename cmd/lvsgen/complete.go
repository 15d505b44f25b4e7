package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/compiler"
)

// formatValues are the --format values of each command that has one, for
// shell completion.
var formatValues = map[string][]string{
	"validate": {"text", "json", "github"},
	"render":   {"text", "ipvsadm-save", "sysctl", "json", "keepalived-vrrp", "nft"},
	"plan":     {"text", "json"},
	"apply":    {"text", "json"},
	"version":  {"text", "json"},
	"status":   {"text", "json"},
	"diff":     {"text", "json", "markdown"},
	"graph":    {"mermaid", "dot"},
}

// registerCompletions completes --host with the managed hosts of the
// config directory already on the command line, and --format with the
// command's values, on every command that has those flags.
func registerCompletions(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Flags().Lookup("host") != nil {
			_ = c.RegisterFlagCompletionFunc("host", completeHosts)
		}
		if values, ok := formatValues[c.Name()]; ok && c.Flags().Lookup("format") != nil {
			_ = c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
		}
	}
}

// completeHosts lists the managed hosts of the config directory given as
// the command's argument. A config that does not compile completes
// nothing: completion must not print diagnostics into the shell.
func completeHosts(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	res, err := compiler.Compile(args[0])
	if err != nil || !res.Valid() {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var hosts []string
	for name := range res.Hosts {
		if strings.HasPrefix(name, prefix) {
			hosts = append(hosts, name)
		}
	}
	slices.Sort(hosts)
	return hosts, cobra.ShellCompDirectiveNoFileComp
}
