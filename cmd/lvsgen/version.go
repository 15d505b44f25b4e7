package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/internal/version"
)

// newVersion is `lvsgen version`; `lvsgen --version` prints its text line.
func newVersion() *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print lvsgen's version, commit and Go version",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := version.Get()
			switch format {
			case "text":
				_, err := fmt.Fprintln(cmd.OutOrStdout(), info)
				return err
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			return usageError{fmt.Errorf("--format %q: want text or json", format)}
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return c
}
