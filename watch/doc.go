// Package watch keeps one host's kernel equal to a config directory that
// changes under it: the loop behind `lvsgen watch`.
//
// A Loop applies the config once at start, then waits. File events (from a
// Watcher, which follows the directory recursively and through symlink
// swaps) are debounced into one cycle: hash the config files, compile, and
// plan and apply through an Applier (applier.Runner) when the config is
// valid. An invalid config changes nothing: the last good one keeps running
// and keeps being maintained. A periodic resync re-plans the last good
// config, which repairs drift and finishes drains, and catches changes a
// file event missed. SIGHUP recompiles at once; SIGTERM and SIGINT stop the
// loop once the apply in flight, if any, has finished: an apply is never
// cancelled half-way by a signal.
//
// With a HealthChecker (health.Checker), the loop also runs the config's
// health checks for its life: every cycle plans the config with the health
// laid over it (package overlay), so that no cycle undoes a health
// decision, and each transition starts a cycle of its own ("health") at
// once. The health is saved to a file at each transition, every few
// seconds and at stop, and restored at start before the first check
// targets are set, so that a restart does not flap real servers.
//
// With Notify set (sd_notify under systemd's Type=notify), the loop tells
// the service manager READY=1 once the kernel first equals a config, the
// last result as STATUS=, and sends WATCHDOG=1 from its own select, so
// that a loop stuck in a cycle stops the pings (notify.go).
//
// Every dependency is an interface or a function — the clock, the compile
// step, the applier, the health checker, the event source, the signals and
// the logger — so the
// loop is tested with a fake clock and the in-memory kernel.
package watch
