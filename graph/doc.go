// Package graph draws an lvsgen config as a picture: clusters, their
// directors and their virtual services (VIP, mode, scheduler), and each
// service's real servers (weight), tunnels and NAT gateways marked. Build
// makes the graph of one config as data, Compare marks what differs
// between two, Focus keeps what changed (summarising the rest, so that a
// 10,000-service config gives a readable picture), and Mermaid and DOT
// render it: Mermaid renders inline in GitHub and GitLab markdown, DOT
// through Graphviz.
package graph
