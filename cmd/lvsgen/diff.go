package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
// rev, the directory (args[0], default .) at rev and as it is. done
// removes what reading the revision wrote.
func loadSides(ctx context.Context, args []string, rev string, policyDirs []string) (base, head *compiled, done func(), err error) {
	var tmp []string
	done = func() {
		for _, d := range tmp {
			_ = os.RemoveAll(d)
		}
	}
	base, head = &compiled{}, &compiled{}
	var baseDir, headDir string
	// names maps a side's directory to how its diagnostics name it.
	var baseNames func(string) string
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
		tmp = append(tmp, tree.Dir)
		baseDir = tree.Dir
		base.label = rev + ":" + filepath.ToSlash(headDir)
		// Diagnostics name the files as git does: REV:path.
		baseNames = func(rel string) string { return rev + ":" + tree.Prefix + filepath.ToSlash(rel) }
	} else {
		baseDir, headDir = args[0], args[1]
		base.label = baseDir
		baseNames = func(rel string) string { return filepath.Join(baseDir, rel) }
	}
	head.label = headDir
	headNames := func(rel string) string { return filepath.Join(headDir, rel) }

	// One compiler compiles both sides, through one path: a link to the
	// base, then to the head. The compiler keeps what it parsed and
	// built by file name and content, so the head costs what differs
	// from the base — a one-service change to a 10,000-service config
	// compiles that service again, not the config — and a host nothing
	// changed for keeps the same state, which Compare then skips.
	cc := compiler.NewCompiler(compiler.Options{PolicyDirs: policyDirs})
	via := ""
	if isDir(baseDir) && isDir(headDir) {
		d, err := os.MkdirTemp("", "lvsgen-diff-")
		if err != nil {
			return nil, nil, nil, err
		}
		tmp = append(tmp, d)
		via = filepath.Join(d, "config")
	}
	compile := func(c *compiled, dir string, names func(string) string) error {
		path := dir
		if via != "" {
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			_ = os.Remove(via)
			if err := os.Symlink(abs, via); err != nil {
				return err
			}
			path = via
		}
		res, err := cc.Compile(path)
		if err != nil {
			if via != "" {
				return errors.New(strings.ReplaceAll(err.Error(), via, dir))
			}
			return err
		}
		for i := range res.Diagnostics {
			f := res.Diagnostics[i].Pos.File
			if rel, err := filepath.Rel(path, f); err == nil && f != "" && !strings.HasPrefix(rel, "..") {
				res.Diagnostics[i].Pos.File = names(rel)
			}
		}
		c.res = res
		return nil
	}
	if err := compile(base, baseDir, baseNames); err != nil {
		done()
		return nil, nil, nil, err
	}
	if err := compile(head, headDir, headNames); err != nil {
		done()
		return nil, nil, nil, err
	}
	return base, head, done, nil
}

// isDir reports whether path is a directory (or a link to one).
func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
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
