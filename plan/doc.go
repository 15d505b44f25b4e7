// Package plan is what lvsgen will do to one host's kernel, as data: the
// ordered operations (Op) of a Plan, and Diff, which computes them from
// the desired state (hoststate.Host), what the kernel holds (Observed)
// and what lvsgen owns there (State). Like terraform's plans, a plan is
// computed, shown and then applied exactly as shown: package applier
// observes the kernel and executes a plan, package planfmt renders it.
//
// The package is pure: no OS access and no kernel call. Diff is
// deterministic, never changes its inputs, and orders its operations by
// the rules written above it, with their reasons.
//
// lvsgen changes only what it manages. State records what it created; an
// IPVS service it did not create and the config does not name is left
// alone and listed as unmanaged, unless Options.Prune. A destination
// leaving a TCP or SCTP service is drained: weight 0 first, deleted once
// its active connections end or the drain timeout passes, across runs.
//
// # Object kinds
//
// Each kind of kernel object is one type implementing Object, in its own
// file: service.go, destination.go, timeouts.go, link.go, address.go,
// route.go, fou.go, sysctl.go, nft.go, syncdaemon.go. The type knows its Kind, its name for
// people (String), what creating it sets (Attrs), what changed from a
// previous value (Changes), its JSON form, which of it lvsgen still owns
// after an apply that stopped early (keepUndone), and, for the host's
// objects, its own diff step. Nothing else switches on kinds, but the
// executor in package applier, which makes the kernel call of each.
//
// The fields of ipvs.Service and ipvs.Destination are compared (kernel
// against want by Diff, want against want by EqualServices) and shown
// through one table per type (serviceFields, destFields); a test fails
// when a field of either struct is in neither the table nor the list of
// fields not compared.
//
// # Adding an object kind
//
// As nft.go did for FULLNAT's nftables tables:
//
//  1. Add a file, nft.go, with its Kind constant, its type implementing
//     Object, and its diff step, func (d *differ) nftTables(), which
//     appends to d.setup what to create or change and to d.teardown what
//     to remove, and records ownership in d.next.
//  2. Put the step in its place in hostKinds and, if lvsgen ever removes
//     it, its rank in teardownRank (diff.go): where a kind goes among the
//     others is a safety rule, decided next to the other rules and their
//     reasons rather than in the kind's file.
//  3. Unavoidably, the data has a field for it: Observed (what the kernel
//     has) and, if lvsgen owns such objects, State (what it made, in the
//     state file), with its line in State's clone and Sort.
//
// Outside this package, applier observes the kind and makes its kernel
// calls; planfmt needs nothing.
package plan
