package review

import (
	"fmt"
	"io"
	"strings"
)

// Limits of a pull-request comment: GitHub refuses a comment over 65,536
// characters, so a change to thousands of services is listed in part,
// the rest counted (the text and JSON forms have it all).
const (
	// MaxLinesPerHost is the most changes a host's section lists.
	MaxLinesPerHost = 60
	// MaxTableRows is the most hosts the summary table has a row for.
	MaxTableRows = 100
	// sectionBudget is where the host sections stop: room is left for
	// the moves, the picture (a few hundred edges) and the legend.
	sectionBudget = 36_000
	// maxPicture bounds the Mermaid picture; a larger one is left out
	// with a pointer to lvsgen graph.
	maxPicture = 24_000
)

// WriteMarkdown prints r for a pull-request comment: a summary table
// (one row per touched host and the total), one collapsible section per
// host with its changes as a diff block (within the limits above), the moves, the Mermaid picture
// of what changed (mermaid, a flowchart, or "" for none) and the legend.
func WriteMarkdown(w io.Writer, r *Review, mermaid string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### lvsgen diff: %d of %d hosts touched\n\n", r.Total.HostsTouched, r.HostsTotal)
	fmt.Fprintf(&b, "`%s` → `%s`: %s.\n\n", mdCode(r.Base), mdCode(r.Head), r.Total.Sentence())
	if len(r.Hosts) == 0 {
		b.WriteString("No changes: every host's desired state is the same.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("| host | status | services + / ~ / − | real servers + / ~ / − | draining | other |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	row := func(name, status string, n Counts) {
		fmt.Fprintf(&b, "| %s | %s | %d / %d / %d | %d / %d / %d | %d | %d |\n", name, status,
			n.ServicesAdded, n.ServicesChanged, n.ServicesRemoved, n.RealsAdded, n.RealsChanged, n.RealsRemoved, n.RealsDraining, n.Other)
	}
	for i, h := range r.Hosts {
		if i == MaxTableRows {
			fmt.Fprintf(&b, "| … %d more hosts | | | | | |\n", len(r.Hosts)-i)
			break
		}
		row("`"+mdCode(h.Name)+"`", h.Status, h.Counts)
	}
	row("**total**", fmt.Sprintf("%d hosts", r.Total.HostsTouched), r.Total)
	b.WriteString("\n")
	for i, h := range r.Hosts {
		if b.Len() > sectionBudget {
			fmt.Fprintf(&b, "… and %d more hosts: `lvsgen diff` (text or json) lists them.\n\n", len(r.Hosts)-i)
			break
		}
		fmt.Fprintf(&b, "<details><summary><code>%s</code> (%s): %s</summary>\n\n", htmlText(h.Name), h.Status, htmlText(h.Counts.Sentence()))
		if h.Note != "" {
			fmt.Fprintf(&b, "%s.\n\n", htmlText(h.Note))
		}
		b.WriteString("```diff\n")
		for j, c := range h.Changes {
			if j == MaxLinesPerHost {
				fmt.Fprintf(&b, "# … and %d more changes: `lvsgen diff` (text or json) lists them\n", len(h.Changes)-j)
				break
			}
			fmt.Fprintf(&b, "%s\n      # %s\n", fence(changeLine(&c)), fence(c.Reason))
		}
		for _, p := range h.Problems {
			fmt.Fprintf(&b, "! %s\n", fence(p))
		}
		b.WriteString("```\n\n</details>\n\n")
	}
	if len(r.Moves) > 0 {
		b.WriteString("**Moves**\n\n")
		for _, m := range r.Moves {
			fmt.Fprintf(&b, "- %s `%s`: %s → %s\n", m.Kind, mdCode(m.Object), mdCode(strings.Join(m.From, ", ")), mdCode(strings.Join(m.To, ", ")))
		}
		b.WriteString("\n")
	}
	if len(mermaid) > maxPicture {
		b.WriteString("The picture of what changed is too large for a comment: `lvsgen graph` with the same arguments draws it.\n\n")
		mermaid = ""
	}
	if mermaid != "" {
		b.WriteString("<details open><summary>What changed, as a picture</summary>\n\n```mermaid\n")
		b.WriteString(mermaid)
		b.WriteString("```\n\n</details>\n\n")
	}
	fmt.Fprintf(&b, "<sub>%s</sub>\n", htmlText(Legend))
	_, err := io.WriteString(w, b.String())
	return err
}

// mdCode keeps s inside a code span and a table cell.
func mdCode(s string) string { return strings.NewReplacer("`", "'", "|", "\\|", "\n", " ").Replace(s) }

// htmlText escapes s for HTML.
func htmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// fence keeps s from closing a fenced block.
func fence(s string) string { return strings.ReplaceAll(s, "```", "'''") }
