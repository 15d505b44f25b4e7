package planfmt

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/plan"
)

// symbols of the human rendering, like terraform's.
var symbols = map[plan.Action]string{plan.Create: "+", plan.Update: "~", plan.Delete: "-", plan.Drain: "=", plan.Wait: "="}

// ANSI colours per action, used only on a terminal.
var colours = map[plan.Action]string{plan.Create: "\x1b[32m", plan.Update: "\x1b[33m", plan.Delete: "\x1b[31m", plan.Drain: "\x1b[36m", plan.Wait: "\x1b[36m"}

// WriteText prints p for people: one line per operation with its symbol,
// object, change and reason, then a summary. colour adds ANSI colours,
// for a terminal.
func WriteText(out io.Writer, p *plan.Plan, colour bool) error {
	// Buffered: a plan of a large config is a hundred thousand lines,
	// and a write per line to an unbuffered stdout is a system call
	// each, which under emulation took longer than the planning.
	w := bufio.NewWriterSize(out, 64<<10)
	fmt.Fprintf(w, "Plan for host %s:\n", p.Host)
	if len(p.Ops) == 0 {
		fmt.Fprintln(w, "  no changes: the kernel matches the config")
	}
	for _, o := range p.Ops {
		if colour {
			w.WriteString(colours[o.Action])
		}
		fmt.Fprintf(w, "  %s %-9s %s", symbols[o.Action], o.Kind(), o.Object())
		if d := o.Describe(); d != "" {
			w.WriteString("  ")
			w.WriteString(d)
		}
		if colour {
			w.WriteString("\x1b[0m")
		}
		w.WriteString("\n      # ")
		w.WriteString(o.Reason)
		w.WriteByte('\n')
	}
	for _, s := range p.Unmanaged {
		fmt.Fprintf(w, "  ? service   %s  unmanaged: not created by lvsgen and not in the config (--prune deletes it)\n", plan.ServiceName(s.ServiceKey))
	}
	for _, pr := range p.Problems {
		fmt.Fprintf(w, "  ! %s\n", pr)
	}
	counts := map[plan.Action]int{}
	for _, o := range p.Ops {
		counts[o.Action]++
	}
	fmt.Fprintf(w, "%d to create, %d to change, %d to delete, %d to drain, %d draining, %d unmanaged.\n",
		counts[plan.Create], counts[plan.Update], counts[plan.Delete], counts[plan.Drain], counts[plan.Wait], len(p.Unmanaged))
	return w.Flush()
}

// Version is the version of the JSON form of a plan.
const Version = 1

type jsonOp struct {
	Action plan.Action `json:"action"`
	Kind   plan.Kind   `json:"kind"`
	Object string      `json:"object"`
	// Service is the lvsgen service of an IPVS operation, as the text's
	// reason names it; absent for other kinds and unnamed services.
	Service string `json:"service,omitempty"`
	Before  any    `json:"before,omitempty"`
	After   any    `json:"after,omitempty"`
	Reason  string `json:"reason"`
}

// jsonSummary counts the operations by action, and the unmanaged
// services: the text's last line.
type jsonSummary struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Delete    int `json:"delete"`
	Drain     int `json:"drain"`
	Wait      int `json:"wait"`
	Unmanaged int `json:"unmanaged"`
}

// JSONObject is o's JSON form as a JSON plan gives it, nil for none; a
// service's carries the lvsgen name it is for. lvsgen diff's JSON uses it
// too, so that both documents show an object alike.
func JSONObject(o plan.Object, name string) any {
	if o == nil {
		return nil
	}
	j := o.JSON()
	if s, ok := j.(hoststate.Service); ok {
		s.Name = name
		return s
	}
	return j
}

// WriteJSON prints p as a versioned JSON document carrying what WriteText
// shows: the operations, each with its lvsgen service and its object's
// JSON form before and after, the unmanaged services, the problems and
// the counts. Fields are only ever added to it (Version says when one
// changes meaning).
func WriteJSON(w io.Writer, p *plan.Plan) error {
	return writeJSON(w, planDoc(p))
}

// jsonPlan is the JSON document of a plan.
type jsonPlan struct {
	Version   int         `json:"version"`
	Host      string      `json:"host"`
	Changes   int         `json:"changes"`
	Ops       []jsonOp    `json:"ops"`
	Unmanaged []string    `json:"unmanaged"`
	Problems  []string    `json:"problems"`
	Summary   jsonSummary `json:"summary"`
}

func planDoc(p *plan.Plan) *jsonPlan {
	ops := []jsonOp{}
	var sum jsonSummary
	counts := map[plan.Action]*int{plan.Create: &sum.Create, plan.Update: &sum.Update, plan.Delete: &sum.Delete, plan.Drain: &sum.Drain, plan.Wait: &sum.Wait}
	for _, o := range p.Ops {
		name := p.ServiceOf(o)
		ops = append(ops, jsonOp{o.Action, o.Kind(), o.Object().String(), name, JSONObject(o.Before, name), JSONObject(o.After, name), o.Reason})
		if c := counts[o.Action]; c != nil {
			*c++
		}
	}
	unmanaged := []string{}
	for _, s := range p.Unmanaged {
		unmanaged = append(unmanaged, plan.ServiceName(s.ServiceKey))
	}
	sum.Unmanaged = len(unmanaged)
	return &jsonPlan{Version, p.Host, p.Changes(), ops, unmanaged, append([]string{}, p.Problems...), sum}
}

// writeJSON writes doc indented, without HTML escapes (a reason may hold
// "->"), as every lvsgen document is.
func writeJSON(w io.Writer, doc any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}
