// Package hoststate is the desired state of one host: everything lvsgen
// wants its kernel to hold — IPVS services and destinations, IPVS timeouts,
// sysctls, links, addresses, fou listeners and routes — each item with the
// reasons (services) that need it.
//
// Build computes it from a validated model.Config, purely: it reads the
// model and nothing else, so that it can be tested, and reused by the
// compiler, without files or a kernel. The compiler only caches it
// (compiler.Compiler keeps each host's state while the host's inputs are
// unchanged and builds hosts on every core); Inputs is the per-host entry
// point that cache calls.
//
// The state is plain data, rendered here in each of its forms: the human
// text of `lvsgen render` (WriteText), a sysctl.d fragment (WriteSysctl),
// the IPVS rules in ipvsadm-save form (WriteSave) and JSON (WriteJSON).
// The JSON form is a stable, versioned interface (see docs/CONFIG.md) that
// other tools may read. The applier diffs the state against what it observes: links,
// addresses, fou ports, routes and timeouts embed applier/kernel's values,
// which are what the applier creates.
//
// A director's services also carry their health checks (Service.Checks,
// Sorry, Quorum, Hysteresis): what the health engine checks and the
// health overlay applies on top of the configured destinations. The
// state itself is the config's: a sorry server is not a destination, and
// every destination has its configured weight.
//
// hoststate depends on model, ipvs and applier/kernel's value types only.
package hoststate
