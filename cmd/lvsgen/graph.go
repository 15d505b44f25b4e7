package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/graph"
)

func newGraph() *cobra.Command {
	var format, baseRev string
	var policyDirs []string
	var maxEdges int
	c := &cobra.Command{
		Use:   "graph DIR | graph BASE HEAD | graph --base REV [DIR]",
		Short: "Draw a config: clusters, directors, VIPs and real servers",
		Long: `graph draws a config: each cluster with its directors and its services (VIP,
forwarding mode, scheduler; NAT gateways and tunnels marked), and each
service's real servers (weight). Given two configs (BASE HEAD, or DIR at a git
revision with --base), what was added, removed or changed is coloured.
A config with more than --max-edges edges is summarised: what changed is
drawn, the rest counted per cluster.
  --format mermaid   a Mermaid flowchart (renders inline in GitHub and GitLab markdown)
  --format dot       a Graphviz digraph (dot -Tsvg)`,
		Args: func(c *cobra.Command, args []string) error {
			if baseRev != "" {
				return diffArgs(&baseRev)(c, args)
			}
			if len(args) < 1 || len(args) > 2 {
				return usageError{fmt.Errorf("%s takes one or two directories, got %d", c.CommandPath(), len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			write := map[string]func(*cobra.Command, *graph.Graph) error{
				"mermaid": func(c *cobra.Command, g *graph.Graph) error { return graph.WriteMermaid(c.OutOrStdout(), g) },
				"dot":     func(c *cobra.Command, g *graph.Graph) error { return graph.WriteDOT(c.OutOrStdout(), g) },
			}[format]
			if write == nil {
				return usageError{fmt.Errorf("unknown --format %q: want mermaid or dot", format)}
			}
			var g *graph.Graph
			if baseRev == "" && len(args) == 1 {
				res, err := compiler.CompileWith(args[0], compiler.Options{PolicyDirs: policyDirs})
				if err != nil {
					return err
				}
				if err := reportInvalid(cmd.OutOrStdout(), cmd.ErrOrStderr(), "text", &compiled{label: args[0], res: res}); err != nil {
					return err
				}
				g = graph.Build(res.Config)
			} else {
				base, head, done, err := loadSides(cmd.Context(), args, baseRev, policyDirs)
				if err != nil {
					return err
				}
				defer done()
				if err := reportInvalid(cmd.OutOrStdout(), cmd.ErrOrStderr(), "text", base, head); err != nil {
					return err
				}
				g = graph.Compare(graph.Build(base.res.Config), graph.Build(head.res.Config))
			}
			return write(cmd, graph.Focus(g, maxEdges, false))
		},
	}
	c.Flags().StringVar(&format, "format", "mermaid", "output format: mermaid or dot")
	c.Flags().StringVar(&baseRev, "base", "", "compare DIR with itself at this git revision, changes coloured")
	c.Flags().IntVar(&maxEdges, "max-edges", graph.MaxEdges, "summarise a graph with more edges than this")
	c.Flags().StringArrayVar(&policyDirs, "policy", nil, "also check the policies in this directory (repeatable)")
	return c
}
