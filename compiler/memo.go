package compiler

import (
	"github.com/lvsgen/lvsgen/compiler/internal/plaindata"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/model"
)

// memo is everything a Compiler keeps from one compile for the next, in
// one place so that what is kept, by what key, and until when can be read
// together. Nothing in it changes what a compile returns: a Compiler with
// an empty memo gives the same Result, only slower.
//
// It holds two kinds of cache.
//
// The config's own — replaced by every compile, so bounded by the size of
// the config being compiled:
//   - files: each file's parse, by name and bytes; files no longer in the
//     config are forgotten (fileCache.keep).
//   - services: each service's result, by name and plain-data tree (the
//     tree is the file's parse, so an unchanged file keeps its services'
//     results).
//   - hosts, views, invalid: the host states built from the previous
//     compile's services, each service's director view and what the
//     kernel would refuse; rebuilt from what is reused (hoststate.go).
//
// These are valid only against the hosts and clusters they were compiled
// with: world is the encoding of those, and a compile whose world differs
// drops services and hosts (newWorld).
//
// Verdicts — keyed by inputs ever seen, so they grow as a long-running
// watch sees new values:
//   - pool: the evaluators (CUE contexts with the schema loaded; at most
//     maxEvaluators, one per core the services keep busy), with the
//     shape verdicts each has learned (plain-data literals checked against
//     a field's constraint);
//   - verdicts: the rule checks' verdicts by input;
//   - values: the Go value of each literal;
//   - validNames: service names found valid;
//   - clusterIDs, realIDs: the numbers that stand for cluster and
//     real-server facts in verdict keys (they must live exactly as long as
//     verdicts, whose keys hold them).
//
// These are bounded by maxCached together: once a compile starts with
// more than that (or more than 8 per service of the last compile, when
// the config alone needs more), they are all forgotten at once
// (forgetVerdicts) and rebuilt by that compile.
//
// What lasts one compile only (the facts of clusters and real servers
// given to the rule checks, factsMemo) lives on the compilation, not here.
//
// A memo belongs to one Compiler, whose mutex serializes compiles; within
// a compile the parts shared by goroutines (files, verdicts, values) lock
// themselves.
type memo struct {
	files fileCache

	world    string
	services map[serviceKey]serviceResult
	// hosts are the host states of the previous compile, with what
	// they were built from.
	hosts map[string]hostEntry
	// views are the services as directors see them, by service;
	// invalid names those the kernel would refuse.
	views   map[*model.Service]*hoststate.View
	invalid map[string]error

	// pool are the evaluators services are compiled with, with the
	// verdicts and values they share.
	pool                []*evaluator
	verdicts            *checkVerdicts
	values              *plaindata.Values
	validNames          map[string]bool
	clusterIDs, realIDs map[string]int
}

// maxCached bounds the verdicts and literal values a Compiler keeps
// between compiles, unless the config is so large that one compile needs
// more (about two per service); past it, it starts afresh.
const maxCached = 200_000

// forgetVerdicts (also a new memo's start) forgets every verdict and value, and the evaluators that
// hold shape verdicts: they only grow with new inputs, and a long-running
// watch sees many. The config's own caches are kept.
func (m *memo) forgetVerdicts() {
	m.pool, m.validNames = nil, nil
	m.verdicts = &checkVerdicts{}
	m.values = plaindata.NewValues()
	m.clusterIDs, m.realIDs = map[string]int{}, map[string]int{}
}

// verdictsKept counts the verdicts and values kept.
func (m *memo) verdictsKept() int {
	n := m.verdicts.size() + m.values.Len() + len(m.validNames)
	for _, ev := range m.pool {
		n += ev.shapes.Leaves()
	}
	return n
}

// bound forgets the verdicts when they are past their bound; called at
// the start of each compile.
func (m *memo) bound() {
	if m.verdictsKept() > max(maxCached, 8*len(m.services)) {
		m.forgetVerdicts()
	}
}

// newWorld records the world (hosts, clusters and declared names) this
// compile's services are checked against; what was built against another
// cannot be reused.
func (m *memo) newWorld(w string) {
	if w != m.world {
		m.world, m.services, m.hosts = w, nil, nil
	}
}
