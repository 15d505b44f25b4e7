package review

import (
	"fmt"
	"io"
	"strings"

	"github.com/lvsgen/lvsgen/plan"
)

// symbols are the plan's (planfmt): a review reads like the plans a
// deploy will show.
var symbols = map[plan.Action]string{plan.Create: "+", plan.Update: "~", plan.Delete: "-", plan.Drain: "=", plan.Wait: "="}

// Legend explains the symbols, and what Compare had to assume.
const Legend = "+ added, ~ changed (old → new), - removed, = drains: weight 0 now (a service: each of its real servers), deleted once " +
	"its connections end or the drain timeout passes (default 5m). Without a kernel the connections are unknown: " +
	"every leaving TCP/SCTP real server and service is shown draining."

// WriteText prints r for people: each touched host's changes, one line
// each with its reason, the host's summary line, the moves and the
// total.
func WriteText(w io.Writer, r *Review) error {
	fmt.Fprintf(w, "lvsgen diff %s → %s\n", r.Base, r.Head)
	if len(r.Hosts) == 0 {
		fmt.Fprintln(w, "no changes: every host's desired state is the same")
	}
	for i := range r.Hosts {
		h := &r.Hosts[i]
		fmt.Fprintf(w, "\nHost %s (%s):\n", h.Name, h.Status)
		if h.Note != "" {
			fmt.Fprintf(w, "  (%s)\n", h.Note)
		}
		for _, c := range h.Changes {
			fmt.Fprintf(w, "  %s\n      # %s\n", changeLine(&c), c.Reason)
		}
		for _, p := range h.Problems {
			fmt.Fprintf(w, "  ! %s\n", p)
		}
		fmt.Fprintf(w, "  %s: %s\n", h.Name, h.Counts.Sentence())
	}
	if len(r.Moves) > 0 {
		fmt.Fprintln(w, "\nMoves:")
		for _, m := range r.Moves {
			fmt.Fprintf(w, "  %s %s: %s → %s\n", m.Kind, m.Object, strings.Join(m.From, ", "), strings.Join(m.To, ", "))
		}
	}
	fmt.Fprintf(w, "\nTotal: %d of %d hosts touched; %s.\n", r.Total.HostsTouched, r.HostsTotal, r.Total.Sentence())
	_, err := fmt.Fprintf(w, "Legend: %s\n", Legend)
	return err
}

// changeLine is a change as a plan line: symbol, kind, object, detail and
// the lvsgen service in brackets.
func changeLine(c *Change) string {
	line := fmt.Sprintf("%s %-11s %s", symbols[c.Action], c.Kind, c.Object)
	if c.Detail != "" {
		line += "  " + c.Detail
	}
	if c.Service != "" {
		line += "  [" + c.Service + "]"
	}
	return line
}

// Sentence says n in words: "services 1 added, 0 changed, 0 removed;
// real servers 2 added, 0 changed, 1 removed (1 draining); 1 other
// change".
func (n Counts) Sentence() string {
	return fmt.Sprintf("services %d added, %d changed, %d removed; real servers %d added, %d changed, %d removed (%d draining); %d other %s",
		n.ServicesAdded, n.ServicesChanged, n.ServicesRemoved, n.RealsAdded, n.RealsChanged, n.RealsRemoved, n.RealsDraining,
		n.Other, plural(n.Other, "change", "changes"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
