package graph

import (
	"fmt"
	"strings"
)

// MaxEdges is the most edges Focus draws by default: a few hundred
// edges is what a Mermaid diagram in a pull request stays readable (and
// renderable: GitHub refuses large diagrams) with.
const MaxEdges = 300

// Focus is the part of g worth drawing, with at most maxEdges edges of
// it: g itself when it is that small and onlyChanged is false; else what
// changed (every node and edge not Same, with each changed service's
// cluster, the cluster's directors and the service's real servers for
// context) — or, with nothing changed, the
// clusters and their directors — and, per cluster, one summary node
// counting the services left out. Changes beyond maxEdges are counted in
// a last summary node rather than drawn.
func Focus(g *Graph, maxEdges int, onlyChanged bool) *Graph {
	if !onlyChanged && len(g.Edges) <= maxEdges {
		return g
	}
	byID := make(map[string]*Node, len(g.Nodes))
	for i := range g.Nodes {
		byID[g.Nodes[i].ID] = &g.Nodes[i]
	}
	keep := map[string]bool{}
	for _, n := range g.Nodes {
		if n.Status != Same || (!onlyChanged && (n.Kind == KindCluster || n.Kind == KindDirector)) {
			keep[n.ID] = true
		}
	}
	var edges []Edge
	for _, e := range g.Edges {
		if e.Status != Same {
			edges = append(edges, e)
			keep[e.From], keep[e.To] = true, true
		}
	}
	// Context: the cluster of a service that changed (or whose real
	// servers did), and the cluster's directors.
	clusters := map[string]bool{}
	for id := range keep {
		if n := byID[id]; n != nil && n.Cluster != "" {
			clusters[n.Cluster] = true
		}
	}
	var context []Edge
	for _, e := range g.Edges {
		if e.Status != Same {
			continue
		}
		from, to := byID[e.From], byID[e.To]
		if from == nil || to == nil || from.Kind != KindCluster || !clusters[from.Cluster] {
			continue
		}
		if to.Kind == KindDirector || keep[e.To] {
			context = append(context, e)
			keep[e.From], keep[e.To] = true, true
		}
	}
	// And the real servers of a service that changed.
	for _, e := range g.Edges {
		if from := byID[e.From]; e.Status == Same && from != nil && from.Kind == KindService && from.Status != Same {
			context = append(context, e)
			keep[e.To] = true
		}
	}
	edges = append(context, edges...)
	left := 0
	if len(edges) > maxEdges {
		left = len(edges) - maxEdges
		edges = edges[:maxEdges]
	}
	used := map[string]bool{}
	for _, e := range edges {
		used[e.From], used[e.To] = true, true
	}
	out := &Graph{}
	rest := map[string]int{}
	var order []string
	for _, n := range g.Nodes {
		switch {
		case used[n.ID] || (keep[n.ID] && n.Kind == KindCluster):
			out.Nodes = append(out.Nodes, n)
		case n.Kind == KindService && clusters[n.Cluster] || (n.Kind == KindService && !onlyChanged):
			if rest[n.Cluster] == 0 {
				order = append(order, n.Cluster)
			}
			rest[n.Cluster]++
		}
	}
	out.Edges = edges
	for _, c := range order {
		id := "summary:" + c
		word := "unchanged service"
		if !onlyChanged {
			word = "service not drawn"
		}
		if rest[c] != 1 {
			word = strings.Replace(word, "service", "services", 1)
		}
		out.Nodes = append(out.Nodes, Node{ID: id, Kind: KindSummary, Lines: []string{fmt.Sprintf("%d %s", rest[c], word)}, Cluster: c})
		out.Edges = append(out.Edges, Edge{From: "cluster:" + c, To: id})
	}
	if left > 0 {
		out.Nodes = append(out.Nodes, Node{ID: "summary:more", Kind: KindSummary,
			Lines: []string{fmt.Sprintf("%d more changed edges not drawn", left), "see the changes per host"}})
	}
	return out
}
