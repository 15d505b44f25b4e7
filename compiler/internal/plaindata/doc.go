// Package plaindata is the compiler's fast path: it reads a configuration
// written as plain data (structs, lists and literals, as large configs
// are) straight from the parsed files, and checks its services against
// #Service value by value, without CUE evaluating the whole config.
//
// It has two parts. Read and Merge turn parsed files into a tree of Nodes,
// declining anything that is not plain data (references, comprehensions,
// definitions, disjunctions, interpolations, imports, conflicting
// duplicates): the compiler then evaluates the config with CUE as a
// whole. ParseServices gives the same tree for a file of services without
// CUE's parser, for the files that make a large config large, and
// declines anything it is unsure of (parse.go). Shapes check a service's
// tree against #Service: each literal is unified, by CUE, with its own
// field's constraint once per distinct (field, literal) — or, for #IP,
// once per class of address (addrclass.go) — closedness and required
// fields come from the schema, and Data and WithDefaults give the service
// as CUE would decode it, with the schema's defaults.
//
// What it promises: for plain data, the same issues (paths and CUE's own
// messages) and the same data as unifying the service with #Service.
// That holds only while a field's constraint in #Service reads no sibling
// field (the schema says so above #Service; TestNoSiblingReads fails when
// it does not), and the compiler's paths_test.go holds the whole compile
// to it. Positions are the user's, as written.
//
// Trees are not changed once read, so the compiler keeps a file's tree
// while the file is unchanged. Shapes belong to one CUE context and one
// goroutine at a time; Values, the Go values of literals, are shared.
package plaindata
