// Package compiler turns a config directory into the typed model
// (model.Config), the desired state of every managed host (hoststate) and
// diagnostics. It never touches the OS beyond reading the files.
//
// A compile finds the .cue files (load.go), parses each (a syntax error is
// a diagnostic), leaves out policy directories inside the config, then
// evaluates the config by one of two paths, checks the policies the config
// enables, builds the host states and reports what the kernel would refuse
// or two services need of one host in contradiction. Problems in the
// config are diagnostics in the Result; an error is for a directory that
// cannot be read.
//
// # Two evaluation paths
//
// Whole-CUE evaluation is the reference: every file is unified into one
// CUE instance, hosts and clusters are decoded from it, and each service
// is unified with #Service on its own (compileService in service.go), so
// that one bad service does not hide another's problems. It handles any
// CUE: references, comprehensions, definitions, imports. It costs seconds
// at 10,000 services.
//
// The plain-data fast path (compiler/internal/plaindata; plain.go here)
// is taken when every file is plain data — structs, lists and literals —
// the files merge without a conflict, services is a struct and every
// service name is a valid #Name. Each file is read as a tree when it is
// parsed; the config without its services (hosts, clusters, policies, all
// small) is evaluated by CUE as before, and each service's tree is checked
// against #Service value by value, each literal once per distinct (field,
// literal), on every core with a CUE context each (compileServices).
// Anything else falls back to whole-CUE evaluation, which reports the
// mistake.
//
// Both paths then share the rest of a service's compile: resolving its
// cluster and real servers (resolveService), the LVS rules of rules.cue
// with verdicts kept by input (rules.go) — a real server by bare address
// by its class of address, what the rules read of it (addrclass.go,
// TestAddressClasses), and one given as a declared host by that and its
// host's facts without its name and addresses (hostclass.go,
// TestHostClasses) —, the address rules that need
// every host's addresses at once (addresses.go), one decoder (decodeRaw)
// and one build of the model. A diagnostic found against a host fact
// carries the fact's position as related; hosts and clusters are in the
// user's CUE value on both paths, so both find the same position. A
// service result with a related position is not reused (the fact's line
// may move while the hosts stay the same).
//
// The contract between them: for a plain-data config, the fast path gives
// the same model, host states and diagnostics (rule, path, position,
// message, hint) as whole-CUE evaluation. paths_test.go holds them equal
// on the examples, the e2e configs and a generated one, and
// invalid_test.go on broken configs; the one known difference is a
// service with both a misspelt field and an out-of-range value, where CUE
// stops at the value and the fast path reports both. The contract rests on
// the schema: a field's constraint in #Service reads no sibling field (the
// rule is written above #Service; plaindata's TestNoSiblingReads fails
// when it is broken), and decodeRaw reads every field
// (TestDecodeEveryField).
//
// # A long-lived Compiler
//
// Compile compiles once. A Compiler, as watch keeps, compiles the same
// directory again and again and reuses what has not changed; its results
// are always those of a fresh compile of the same files. It reuses:
//   - a file's parse and tree, while the file's bytes are unchanged;
//   - a service's result (model or diagnostics), on the fast path, while
//     its file is unchanged and the hosts, clusters and declared names it
//     was checked against are the same (a service compiled again to the
//     same model keeps its *model.Service, so that what is keyed by it
//     is reused too);
//   - a host's state, while the services it carries (by pointer) and the
//     hosts and clusters are the same; a service's director view, while
//     the service is;
//   - the rule checks' and shape checks' verdicts, literals' values and
//     valid service names, for any input seen before.
//
// memo.go keeps all of these in one type and says what bounds them: the
// config's own caches are replaced by every compile, the verdicts are
// forgotten together once they pass maxCached. Compile calls are
// serialized by the Compiler's mutex.
//
// Across processes, Options.Memo (a ServiceMemo, servicememo.go; the
// compile cache keeps one per config directory) does the same by
// content rather than by pointer: a service by its text, name and world
// (ServiceKey); a file that declares services alone by its bytes; a
// host by its world and the services it carries (HostKey), known to
// build without a conflict and so not built when another host is wanted
// (Options.Host); and the hosts and clusters by the files that make
// them (WorldKey). A compile that takes anything from it and finds an
// error, or a warning without its place in a file it read, is made
// again without it, so diagnostics are always a fresh compile's
// (Result.warnedInPlace).
package compiler
