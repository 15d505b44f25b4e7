// Package applier makes one host's kernel match its desired state
// (hoststate.Host), safely: it observes the live kernel, diffs it into a
// plan — data, shown before anything changes — and applies the plan's
// operations in order.
//
// lvsgen changes only what it manages. What it created is recorded in a
// state file per host (State); an IPVS service it did not create and the
// config does not name is left alone and shown as unmanaged, unless the
// caller prunes. Drift inside managed objects (someone ran ipvsadm by hand)
// is repaired. A destination leaving a TCP service is drained: weight 0
// first, deleted once its active connections end or the drain timeout
// passes, across runs.
package applier
