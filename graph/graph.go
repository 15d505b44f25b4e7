package graph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lvsgen/lvsgen/model"
)

// Status is how a node or edge differs between two configs; "" is
// unchanged (or a graph of one config).
type Status string

// Statuses Compare gives.
const (
	Same    Status = ""
	Added   Status = "added"
	Removed Status = "removed"
	Changed Status = "changed"
)

// Node kinds.
const (
	KindCluster  = "cluster"
	KindDirector = "director"
	KindService  = "service"
	KindReal     = "real"
	// KindSummary stands for what Focus did not draw.
	KindSummary = "summary"
)

// Node is a cluster, director, service, real server or summary.
type Node struct {
	// ID is unique in a graph and the same for the same object in two
	// configs: "cluster:edge", "director:lb1", "service:edge-http",
	// "real:web1" (a host) or "real:10.0.0.60" (an address).
	ID    string
	Kind  string
	Lines []string
	// Cluster is the cluster a service or summary belongs to.
	Cluster string
	Status  Status
}

// Edge joins a cluster to its directors and services, and a service to
// its real servers.
type Edge struct {
	From, To string
	Label    string
	// Tunnel marks the edge of a real server behind an IPVS tunnel.
	Tunnel bool
	Status Status
}

// Graph is the picture of a config, as data: nodes and edges in a
// deterministic order (clusters by name, each with its directors then
// services by name, each service's real servers in the config's order).
type Graph struct {
	Nodes []Node
	Edges []Edge
}

// Build draws cfg.
func Build(cfg *model.Config) *Graph {
	g := &Graph{}
	seen := map[string]bool{}
	node := func(n Node) {
		if !seen[n.ID] {
			seen[n.ID] = true
			g.Nodes = append(g.Nodes, n)
		}
	}
	clusters := make([]string, 0, len(cfg.Clusters))
	for name := range cfg.Clusters {
		clusters = append(clusters, name)
	}
	slices.Sort(clusters)
	byCluster := map[string][]*model.Service{}
	for _, s := range cfg.Services {
		byCluster[s.Cluster] = append(byCluster[s.Cluster], s)
	}
	for _, cname := range clusters {
		c := cfg.Clusters[cname]
		cid := "cluster:" + cname
		lines := []string{"cluster " + cname}
		if c.NATGateway.IsValid() || c.NATGateway6.IsValid() {
			var gws []string
			for _, a := range []string{addrOrEmpty(c.NATGateway.String(), c.NATGateway.IsValid()), addrOrEmpty(c.NATGateway6.String(), c.NATGateway6.IsValid())} {
				if a != "" {
					gws = append(gws, a)
				}
			}
			lines = append(lines, "NAT gateway "+strings.Join(gws, ", "))
		}
		node(Node{ID: cid, Kind: KindCluster, Lines: lines, Cluster: cname})
		for _, d := range c.Directors {
			node(Node{ID: "director:" + d, Kind: KindDirector, Lines: []string{d}, Cluster: cname})
			g.Edges = append(g.Edges, Edge{From: cid, To: "director:" + d})
		}
		svcs := byCluster[cname]
		slices.SortFunc(svcs, func(a, b *model.Service) int { return strings.Compare(a.Name, b.Name) })
		for _, s := range svcs {
			sid := "service:" + s.Name
			node(Node{ID: sid, Kind: KindService, Lines: serviceLines(s), Cluster: cname})
			g.Edges = append(g.Edges, Edge{From: cid, To: sid})
			for _, r := range s.Reals {
				rid, label := "real:"+r.Address.String(), r.Address.String()
				if r.Host != "" {
					rid, label = "real:"+r.Host, r.Host
				}
				node(Node{ID: rid, Kind: KindReal, Lines: []string{label}})
				el := fmt.Sprintf("w%d", r.Weight)
				if r.Port != 0 && r.Port != s.Port {
					el += fmt.Sprintf(" :%d", r.Port)
				}
				g.Edges = append(g.Edges, Edge{From: sid, To: rid, Label: el, Tunnel: s.Forwarding == "tun"})
			}
		}
	}
	return g
}

func addrOrEmpty(s string, ok bool) string {
	if ok {
		return s
	}
	return ""
}

// serviceLines label a service: its name, what it listens on, its mode
// and scheduler.
func serviceLines(s *model.Service) []string {
	proto := s.Protocol
	if proto == "" {
		proto = "tcp"
	}
	listen := fmt.Sprintf("%s %s", proto, netJoin(s.VIP.String(), s.Port))
	if s.FWMark != 0 {
		listen = fmt.Sprintf("fwmark %d", s.FWMark)
	}
	mode := s.Forwarding
	if s.Tunnel != nil {
		mode += " " + s.Tunnel.Type
	}
	mode += " " + s.Scheduler
	if s.Persistence != nil {
		mode += fmt.Sprintf(" persistent %ds", s.Persistence.Timeout)
	}
	return []string{s.Name, listen, mode}
}

// netJoin is addr:port, bracketing an IPv6 address.
func netJoin(addr string, port uint16) string {
	if strings.Contains(addr, ":") {
		return fmt.Sprintf("[%s]:%d", addr, port)
	}
	return fmt.Sprintf("%s:%d", addr, port)
}

// Compare is the union of base and head, each node and edge marked with
// how it differs: Added (only in head), Removed (only in base), Changed
// (its label differs, or a service's cluster) or Same. Head's order comes first, then what base
// alone has.
func Compare(base, head *Graph) *Graph {
	g := &Graph{}
	baseNodes := make(map[string]*Node, len(base.Nodes))
	for i := range base.Nodes {
		baseNodes[base.Nodes[i].ID] = &base.Nodes[i]
	}
	headNodes := make(map[string]bool, len(head.Nodes))
	for _, n := range head.Nodes {
		headNodes[n.ID] = true
		if b, ok := baseNodes[n.ID]; !ok {
			n.Status = Added
		} else if !slices.Equal(b.Lines, n.Lines) || b.Cluster != n.Cluster {
			n.Status = Changed
			n.Lines = slices.Clone(n.Lines)
			for i, l := range b.Lines {
				if i >= len(n.Lines) || n.Lines[i] != l {
					n.Lines = append(n.Lines, "was: "+l)
				}
			}
			if b.Cluster != n.Cluster && b.Cluster != "" {
				n.Lines = append(n.Lines, "was in cluster "+b.Cluster)
			}
		}
		g.Nodes = append(g.Nodes, n)
	}
	for _, n := range base.Nodes {
		if !headNodes[n.ID] {
			n.Status = Removed
			g.Nodes = append(g.Nodes, n)
		}
	}
	type ek struct{ from, to string }
	baseEdges := make(map[ek]*Edge, len(base.Edges))
	for i := range base.Edges {
		baseEdges[ek{base.Edges[i].From, base.Edges[i].To}] = &base.Edges[i]
	}
	headEdges := make(map[ek]bool, len(head.Edges))
	for _, e := range head.Edges {
		headEdges[ek{e.From, e.To}] = true
		if b, ok := baseEdges[ek{e.From, e.To}]; !ok {
			e.Status = Added
		} else if b.Label != e.Label || b.Tunnel != e.Tunnel {
			e.Status = Changed
			if b.Label != e.Label {
				e.Label = b.Label + " → " + e.Label
			}
		}
		g.Edges = append(g.Edges, e)
	}
	for _, e := range base.Edges {
		if !headEdges[ek{e.From, e.To}] {
			e.Status = Removed
			g.Edges = append(g.Edges, e)
		}
	}
	return g
}

// Changed reports whether anything in g differs.
func (g *Graph) Changed() bool {
	return slices.ContainsFunc(g.Nodes, func(n Node) bool { return n.Status != Same }) ||
		slices.ContainsFunc(g.Edges, func(e Edge) bool { return e.Status != Same })
}
