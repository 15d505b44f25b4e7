// Package applier makes one host's kernel match its desired state
// (hoststate.Host), safely: it observes the live kernel (Observe), has
// package plan diff it into a plan — data, shown before anything changes
// — and executes the plan's operations in order (Apply), stopping at the
// first failure and saying what was and was not done.
//
// It holds what touches the OS around a plan: the kernel reads and
// writes, the state file that records what lvsgen owns on a host
// (LoadState, SaveState; the State type is plan's), the per-host lock
// (Lock), the files that make the applied state survive a reboot
// (Persist), and a saved capture loaded as a kernel to plan against
// (LoadCapture). Runner ties them into the loop `lvsgen apply` and
// `lvsgen watch` share.
//
// What is planned, and in which order, is package plan's; how a plan is
// shown is package planfmt's. Apply decides nothing: it makes each
// operation's kernel call.
package applier
