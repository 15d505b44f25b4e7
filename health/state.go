package health

import (
	"fmt"
	"time"
)

// state is one target's health: what the Checker decided and the counts
// that lead to the next decision.
type state struct {
	up     bool
	since  time.Time // when up last changed (or was first set)
	last   Result    // the newest result; zero before the first
	lastAt time.Time // when it arrived; zero before the first

	// passes and fails count consecutive results; one of them is zero.
	passes, fails int
	checks        uint64 // results since the target appeared
	// restored: up and since come from a snapshot and no fresh result
	// has arrived yet.
	restored bool
}

// observe applies one result of a check of type t and returns the reason
// for a change of state, or "" when the state stays.
//
// The rule is rise/fall alone: fall consecutive failures take an up
// target down, rise consecutive passes bring a down one up, and a result
// that does not cross its threshold changes nothing. That is also the
// whole of the flapping policy: a server alternating pass/fail never
// reaches either count above 1, so with rise and fall at 2 or more it stays
// in whatever state it was, and it takes a steady run to move it. Nothing
// else (no backoff, no hold-down timer) is needed to keep the kernel from
// following a flapping server.
func (st *state) observe(r Result, at time.Time, t Type, rise, fall int) string {
	st.last, st.lastAt = r, at
	st.checks++
	st.restored = false
	if r.OK {
		st.passes++
		st.fails = 0
		if !st.up && st.passes >= rise {
			st.up, st.since = true, at
			return fmt.Sprintf("%d passed %s %s", st.passes, t, plural(st.passes, "check"))
		}
		return ""
	}
	st.fails++
	st.passes = 0
	if st.up && st.fails >= fall {
		st.up, st.since = false, at
		reason := fmt.Sprintf("%d failed %s %s", st.fails, t, plural(st.fails, "check"))
		if r.Detail != "" {
			reason += ": " + r.Detail
		}
		return reason
	}
	return ""
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
