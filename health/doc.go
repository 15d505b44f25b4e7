// Package health decides whether each real server is up: it runs the
// health checks a config declares and turns their results into up and
// down, with reasons. It knows nothing of IPVS, configs or plans: its
// input is a list of Targets (a Key naming the service and real server,
// and a Spec saying how to check it), its output a state per Key and a
// Transition each time one changes. `lvsgen watch` runs one Checker per
// director, from the director's own network namespace, and overlays the
// states on the desired state: a down real server is quiesced or removed.
//
// # Deciding
//
// Each target starts up or down (Spec.InitialUp, keepalived's alpha is
// down). Fall consecutive failed checks take an up target down; rise
// consecutive passes bring a down one back. A result that does not cross
// its threshold changes nothing, and that is the whole flapping policy: a
// server that alternates between passing and failing never builds a run
// of two, so with rise and fall of 2 or more it stays where it was.
//
// # Reconciling
//
// Checker.Set takes the whole list each time the config changes. An
// unchanged target keeps its state and schedule; a changed one keeps its
// up or down state (an edit while a server is down does not bring it
// back) and counts afresh; a removed one stops.
//
// # Restarting
//
// The states are saved with WriteSnapshot (atomically, 0600) and read back
// with ReadSnapshot, which treats the file as untrusted input. Restore
// seeds the targets with them, so a restart of the director does not flap
// every real server back to its initial state; fresh results then count
// from the restored state.
//
// # Running
//
// Checker.Run runs one scheduler goroutine and a fixed pool of workers:
// goroutines do not grow with the number of targets. Each target is
// checked every Spec.Interval, at a phase derived from its Key so that
// thousands of targets spread over the interval; a target never has two
// checks at once, and a slow check holds one worker, never the others.
// Every check is bounded by Spec.Timeout.
//
// The probers (tcp, http, https, udp, dns, exec) are small types behind
// the Prober interface, and the clock is an interface, so the engine is
// tested with fake probers on a fake clock and the probers against real
// listeners on 127.0.0.1.
//
// # Wiring
//
// At start, watch does:
//
//	c := health.New(health.Options{OnTransition: send, Metrics: health.NewMetrics(reg)})
//	snap, err := health.ReadSnapshot(health.SnapshotPath(stateDir, host))
//	switch {
//	case err == nil:
//		c.Restore(snap) // before the first Set
//	case !errors.Is(err, health.ErrNoSnapshot):
//		log it and start from Spec.InitialUp: a bad file must not stop the balancer
//	}
//	c.Set(targets) // again on each config change
//	go c.Run(ctx)
//
// and on each transition (and at shutdown), health.WriteSnapshot(path,
// c.Snapshot()). Status and Lookup give the states to overlay on the
// desired state and to show in `lvsgen status`.
package health
