package graph

import (
	"fmt"
	"io"
	"strings"
)

// Colours of a status, the same in both renderings: green added, red
// removed, amber changed.
var colours = map[Status]struct{ fill, stroke string }{
	Added:   {"#d7f5d7", "#1a7f37"},
	Removed: {"#fbd6d6", "#cf222e"},
	Changed: {"#fff1c2", "#9a6700"},
}

// mermaidShape opens and closes a node of each kind.
var mermaidShape = map[string][2]string{
	KindCluster:  {"[[", "]]"},
	KindDirector: {"([", "])"},
	KindService:  {"[", "]"},
	KindReal:     {"(", ")"},
	KindSummary:  {"{{", "}}"},
}

// mermaidText escapes a label line: Mermaid reads entity codes inside a
// quoted label.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
}

// WriteMermaid prints g as a Mermaid flowchart, left to right: tunnels as
// dotted edges, summaries as hexagons, added, removed and changed nodes
// and edges coloured (removed ones dashed).
func WriteMermaid(w io.Writer, g *Graph) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	ids := make(map[string]string, len(g.Nodes))
	classes := map[Status][]string{}
	for i, n := range g.Nodes {
		id := fmt.Sprintf("n%d", i)
		ids[n.ID] = id
		lines := make([]string, len(n.Lines))
		for j, l := range n.Lines {
			lines[j] = mermaidText(l)
		}
		sh := mermaidShape[n.Kind]
		fmt.Fprintf(&b, "  %s%s\"%s\"%s\n", id, sh[0], strings.Join(lines, "<br>"), sh[1])
		if n.Status != Same {
			classes[n.Status] = append(classes[n.Status], id)
		}
	}
	links := map[Status][]string{}
	for i, e := range g.Edges {
		arrow := "-->"
		if e.Tunnel || strings.HasPrefix(e.To, "summary:") {
			arrow = "-.->"
		}
		label := ""
		if e.Label != "" {
			label = "|\"" + mermaidText(e.Label) + "\"|"
		}
		fmt.Fprintf(&b, "  %s %s%s %s\n", ids[e.From], arrow, label, ids[e.To])
		if e.Status != Same {
			links[e.Status] = append(links[e.Status], fmt.Sprint(i))
		}
	}
	for _, s := range []Status{Added, Removed, Changed} {
		c := colours[s]
		dash := ""
		if s == Removed {
			dash = ",stroke-dasharray:5 3"
		}
		if len(classes[s]) > 0 {
			fmt.Fprintf(&b, "  classDef %s fill:%s,stroke:%s,stroke-width:2px%s\n", s, c.fill, c.stroke, dash)
			fmt.Fprintf(&b, "  class %s %s\n", strings.Join(classes[s], ","), s)
		}
		if len(links[s]) > 0 {
			fmt.Fprintf(&b, "  linkStyle %s stroke:%s,stroke-width:3px%s\n", strings.Join(links[s], ","), c.stroke, dash)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// dotShape is a node's shape of each kind.
var dotShape = map[string]string{
	KindCluster:  "folder",
	KindDirector: "box3d",
	KindService:  "box",
	KindReal:     "ellipse",
	KindSummary:  "hexagon",
}

// dotText quotes s as a DOT string.
func dotText(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// WriteDOT prints g as a Graphviz digraph, with the same marks as
// WriteMermaid.
func WriteDOT(w io.Writer, g *Graph) error {
	var b strings.Builder
	b.WriteString("digraph lvsgen {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\"];\n")
	for _, n := range g.Nodes {
		attrs := fmt.Sprintf("label=%s shape=%s", dotText(strings.Join(n.Lines, "\n")), dotShape[n.Kind])
		if c, ok := colours[n.Status]; ok {
			attrs += fmt.Sprintf(" style=%s fillcolor=%s color=%s penwidth=2", dotStyle(n.Status, "filled"), dotText(c.fill), dotText(c.stroke))
		}
		fmt.Fprintf(&b, "  %s [%s];\n", dotText(n.ID), attrs)
	}
	for _, e := range g.Edges {
		var attrs []string
		if e.Label != "" {
			attrs = append(attrs, "label="+dotText(e.Label))
		}
		style := ""
		if e.Tunnel || strings.HasPrefix(e.To, "summary:") {
			style = "dotted"
		}
		if c, ok := colours[e.Status]; ok {
			attrs = append(attrs, "color="+dotText(c.stroke), "penwidth=2")
			if e.Status == Removed {
				style = "dashed"
			}
		}
		if style != "" {
			attrs = append(attrs, "style="+style)
		}
		fmt.Fprintf(&b, "  %s -> %s", dotText(e.From), dotText(e.To))
		if len(attrs) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(attrs, " "))
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// dotStyle is a filled node's style: dashed too when removed.
func dotStyle(s Status, base string) string {
	if s == Removed {
		return dotText(base + ",dashed")
	}
	return base
}
