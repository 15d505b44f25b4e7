package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/graph"
	"github.com/lvsgen/lvsgen/internal/gittree"
	"github.com/lvsgen/lvsgen/review"
)

func newDiff() *cobra.Command {
	var format, baseRev string
	var policyDirs []string
	c := &cobra.Command{
		Use:   "diff BASE HEAD | diff --base REV [DIR]",
		Short: "Show what a config change does to every host, without a kernel",
		Long: `diff compiles two configs — two directories, or DIR (default .) as it is and
as it was at the git revision REV — and prints, per host, what deploying the
second onto hosts running the first changes: IPVS services and real servers
(weights, schedulers, flags), sysctls, VIPs, links, routes, fou ports; '='
marks a real server that will drain. A summary line per host, and a total.
  --format text       for people (default)
  --format json       versioned, for scripts (docs/DIFF.md)
  --format markdown   for a pull-request comment: a table, a section per host
                      and a Mermaid picture of what changed
An invalid side is reported as validate reports it, and diff exits 1.`,
		Args: diffArgs(&baseRev),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" && format != "markdown" {
				return usageError{fmt.Errorf("unknown --format %q: want text, json or markdown", format)}
			}
			base, head, done, err := loadSides(cmd.Context(), args, baseRev, policyDirs)
			if err != nil {
				return err
			}
			defer done()
			out := cmd.OutOrStdout()
			if err := reportInvalid(out, cmd.ErrOrStderr(), format, base, head); err != nil {
				return err
			}
			r := review.Compare(base.side(), head.side())
			switch format {
			case "json":
				return review.WriteJSON(out, r)
			case "markdown":
				var pic bytes.Buffer
				if g := graph.Compare(graph.Build(base.res.Config), graph.Build(head.res.Config)); g.Changed() {
					if err := graph.WriteMermaid(&pic, graph.Focus(g, graph.MaxEdges, true)); err != nil {
						return err
					}
				}
				return review.WriteMarkdown(out, r, pic.String())
			}
			return review.WriteText(out, r)
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text, json or markdown")
	c.Flags().StringVar(&baseRev, "base", "", "compare DIR with itself at this git revision (a commit, branch or tag)")
	c.Flags().StringArrayVar(&policyDirs, "policy", nil, "also check the policies in this directory (repeatable)")
	return c
}

// diffArgs takes BASE HEAD, or with --base an optional DIR.
func diffArgs(baseRev *string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if *baseRev != "" {
			if len(args) > 1 {
				return usageError{fmt.Errorf("%s --base REV takes at most one directory, got %d", c.CommandPath(), len(args))}
			}
			return nil
		}
		return exactArgs(2)(c, args)
	}
}

// compiled is one side of a comparison.
type compiled struct {
	label string
	res   *compiler.Result
}

func (c *compiled) side() *review.Side {
	return &review.Side{Label: c.label, Hosts: c.res.Hosts, Config: c.res.Config}
}

// loadSides compiles the two configs: args[0] and args[1], or, with
// rev, the directory (args[0], default .) at rev and as it is. One
// compiler compiles both, so that the head reuses the base's verdicts.
// done removes what reading the revision wrote.
func loadSides(ctx context.Context, args []string, rev string, policyDirs []string) (base, head *compiled, done func(), err error) {
	cc := compiler.NewCompiler(compiler.Options{PolicyDirs: policyDirs})
	done = func() {}
	baseDir, headDir := "", ""
	var rename func(diag.List)
	if rev != "" {
		headDir = "."
		if len(args) == 1 {
			headDir = args[0]
		}
		if ctx == nil {
			ctx = context.Background()
		}
		tree, err := gittree.Read(ctx, headDir, rev)
		if err != nil {
			return nil, nil, nil, err
		}
		done = func() { _ = tree.Remove() }
		baseDir = tree.Dir
		// Diagnostics name the files as git does: REV:path.
		rename = func(l diag.List) {
			for i := range l {
				if rel, err := filepath.Rel(tree.Dir, l[i].Pos.File); err == nil && !strings.HasPrefix(rel, "..") {
					l[i].Pos.File = rev + ":" + tree.Prefix + filepath.ToSlash(rel)
				}
			}
		}
	} else {
		baseDir, headDir = args[0], args[1]
	}
	compile := func(dir, label string) (*compiled, error) {
		res, err := cc.Compile(dir)
		if err != nil {
			return nil, err
		}
		return &compiled{label: label, res: res}, nil
	}
	baseLabel := baseDir
	if rev != "" {
		baseLabel = rev + ":" + filepath.ToSlash(headDir)
	}
	if base, err = compile(baseDir, baseLabel); err != nil {
		done()
		return nil, nil, nil, err
	}
	if rename != nil {
		rename(base.res.Diagnostics)
	}
	if head, err = compile(headDir, headDir); err != nil {
		done()
		return nil, nil, nil, err
	}
	return base, head, done, nil
}

// reportInvalid prints the diagnostics of each invalid side as validate
// would (text, or validate's JSON document for --format json) and
// returns exit 1; nil when both are valid.
func reportInvalid(out, errOut io.Writer, format string, sides ...*compiled) error {
	invalid := false
	for _, s := range sides {
		if s.res.Valid() {
			continue
		}
		invalid = true
		fmt.Fprintf(errOut, "lvsgen: %s is not a valid config\n", s.label)
		switch format {
		case "json":
			if err := diag.WriteJSON(out, s.res.Diagnostics); err != nil {
				return err
			}
		case "markdown":
			fmt.Fprintf(out, "### lvsgen diff: `%s` is not a valid config\n\n```\n", strings.ReplaceAll(s.label, "`", "'"))
			if err := diag.WriteText(out, s.res.Diagnostics); err != nil {
				return err
			}
			fmt.Fprint(out, "```\n\n")
		default:
			fmt.Fprintf(out, "%s is not a valid config:\n", s.label)
			if err := diag.WriteText(out, s.res.Diagnostics); err != nil {
				return err
			}
		}
	}
	if invalid {
		return exitError{1}
	}
	return nil
}
