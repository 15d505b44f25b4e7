// Package overlay lays the health of real servers over a director's
// desired state: it is the one place where health decides a weight. The
// config says what should be (hoststate.Build); the health engine says
// which real servers answer (package health); Apply returns the state to
// plan and apply, config + health, with the reason of each difference for
// the plan to show.
//
// It is pure: no clock, no I/O. Targets turns a desired state into the
// health engine's targets; Overlay.Apply turns the engine's statuses into
// a desired state. The only memory is the quorum state of each service,
// which has hysteresis and so depends on the calls before.
//
// # Rules
//
//   - A checked real server that is down gets weight 0 (onFailure
//     "quiesce", the default: its connections finish, no new ones) or is
//     left out (onFailure "remove": the plan deletes it at once).
//   - A real server with no status yet (no check finished, no snapshot)
//     is as its check's initial says: initial "up" keeps the config's
//     weight, "down" quiesces or removes it.
//   - Unchecked real servers are always up.
//   - The sorry server is added, weight 1, while no real server is up or
//     while the service's quorum is lost, and is out otherwise (the plan
//     drains it: its connections finish).
//   - Quorum (keepalived's quorum and hysteresis): the sum of the config
//     weights of the up real servers. The quorum is lost when the sum
//     falls below Quorum-Hysteresis and regained when it reaches
//     Quorum+Hysteresis; in between it stays as it was. While it is lost
//     and the service has a sorry server, the up real servers are
//     quiesced too, so that only the sorry server takes new connections:
//     keepalived's effect (it deletes them), done the gentle way — their
//     connections finish, and they come back by a weight change. Without
//     a sorry server a lost quorum changes nothing, as in keepalived.
package overlay
