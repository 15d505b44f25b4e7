package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/schema"
)

func newSchema() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "schema [--dir DIR]",
		Short: "Print the CUE schema of a config, or write it as a CUE module",
		Long: `schema prints the CUE files of the schema lvsgen checks a config against
(the shape, #Config, and the LVS rules), each after a comment naming it.

--dir DIR writes them as the CUE module ` + schema.ModulePath + `
instead: DIR/cue.mod/module.cue and DIR/*.cue, replacing what an earlier run
wrote. For CUE's own tools on a config (cue vet, cue lsp), write it under the
config's cue.mod/pkg:

  lvsgen schema --dir config/cue.mod/pkg/` + schema.ImportPath + `

docs/CONFIG.md ("CUE's tools") has the rest. lvsgen's own checks stay the
authority: the module gives the shape and editor help, not the topology rules.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			names, err := fs.Glob(schema.Files, "*.cue")
			if err != nil {
				return err
			}
			if dir == "" {
				out := cmd.OutOrStdout()
				for i, name := range names {
					b, err := fs.ReadFile(schema.Files, name)
					if err != nil {
						return err
					}
					if i > 0 {
						fmt.Fprintln(out)
					}
					fmt.Fprintf(out, "// schema/%s (module %s)\n", name, schema.ModulePath)
					if _, err := out.Write(b); err != nil {
						return err
					}
				}
				return nil
			}
			if err := os.MkdirAll(filepath.Join(dir, "cue.mod"), 0o755); err != nil {
				return fmt.Errorf("schema: %w", err)
			}
			if err := os.WriteFile(filepath.Join(dir, "cue.mod", "module.cue"), schema.ModuleFile, 0o644); err != nil {
				return fmt.Errorf("schema: %w", err)
			}
			for _, name := range names {
				b, err := fs.ReadFile(schema.Files, name)
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					return fmt.Errorf("schema: %w", err)
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "lvsgen: wrote the CUE module %s to %s\n", schema.ModulePath, dir)
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "write the schema as a CUE module into this directory instead of printing it")
	return c
}
