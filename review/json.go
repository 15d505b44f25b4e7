package review

import (
	"encoding/json"
	"io"

	"github.com/lvsgen/lvsgen/plan"
)

// Format and Version name the JSON form of a review (docs/DIFF.md). Fields
// are only added to it; Version changes when one is removed or changes
// meaning.
const (
	Format  = "lvsgen-diff"
	Version = 1
)

type jsonReview struct {
	Format     string     `json:"format"`
	Version    int        `json:"version"`
	Base       string     `json:"base"`
	Head       string     `json:"head"`
	HostsTotal int        `json:"hostsTotal"`
	Total      Counts     `json:"total"`
	Hosts      []jsonHost `json:"hosts"`
	Moves      []jsonMove `json:"moves"`
	Legend     string     `json:"legend"`
}

type jsonHost struct {
	Host     string       `json:"host"`
	Status   string       `json:"status"`
	Note     string       `json:"note,omitempty"`
	Counts   Counts       `json:"counts"`
	Changes  []jsonChange `json:"changes"`
	Problems []string     `json:"problems"`
}

type jsonChange struct {
	Action  plan.Action `json:"action"`
	Kind    plan.Kind   `json:"kind"`
	Object  string      `json:"object"`
	Service string      `json:"service,omitempty"`
	Detail  string      `json:"detail,omitempty"`
	Reason  string      `json:"reason"`
	Before  any         `json:"before,omitempty"`
	After   any         `json:"after,omitempty"`
}

type jsonMove struct {
	Kind   plan.Kind `json:"kind"`
	Object string    `json:"object"`
	From   []string  `json:"from"`
	To     []string  `json:"to"`
}

// WriteJSON prints r as a versioned JSON document ("format":
// "lvsgen-diff", "version": 1), described in docs/DIFF.md. Lists are
// empty, never null.
func WriteJSON(w io.Writer, r *Review) error {
	doc := jsonReview{Format: Format, Version: Version, Base: r.Base, Head: r.Head, HostsTotal: r.HostsTotal,
		Total: r.Total, Hosts: []jsonHost{}, Moves: []jsonMove{}, Legend: Legend}
	for _, h := range r.Hosts {
		jh := jsonHost{Host: h.Name, Status: h.Status, Note: h.Note, Counts: h.Counts, Changes: []jsonChange{}, Problems: append([]string{}, h.Problems...)}
		for _, c := range h.Changes {
			jh.Changes = append(jh.Changes, jsonChange(c))
		}
		doc.Hosts = append(doc.Hosts, jh)
	}
	for _, m := range r.Moves {
		doc.Moves = append(doc.Moves, jsonMove(m))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}
