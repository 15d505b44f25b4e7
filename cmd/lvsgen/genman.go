package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/lvsgen/lvsgen/internal/version"
)

// newGenMan is the hidden `lvsgen gen-man DIR` that `make package` runs:
// the man pages come from the commands themselves, so that they never
// disagree with --help. SOURCE_DATE_EPOCH sets their date (cobra/doc
// reads it), for packages that build the same twice.
func newGenMan() *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write a man page of each command into DIR (for packaging)",
		Hidden: true,
		Args:   exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("creating the man directory: %w", err)
			}
			root := cmd.Root()
			// The page's own header says which lvsgen wrote it;
			// the "Auto generated" footer adds nothing.
			root.DisableAutoGenTag = true
			header := &doc.GenManHeader{
				Title:   "LVSGEN",
				Section: "1",
				Source:  "lvsgen " + version.Get().Version,
				Manual:  "lvsgen manual",
			}
			if err := doc.GenManTree(root, header, dir); err != nil {
				return fmt.Errorf("writing man pages to %s: %w", dir, err)
			}
			return nil
		},
	}
}
