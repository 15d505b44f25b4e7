package planfmt

import (
	"errors"
	"io"
	"syscall"

	"github.com/lvsgen/lvsgen/plan"
)

// ApplyVersion is the version of the JSON document of an apply
// (WriteApplyJSON). It changes, like Version, only when a field changes
// meaning or goes; a new field does not change it.
const ApplyVersion = 1

// Outcome is how an apply ended, as its JSON document says.
type Outcome string

// The outcomes of an apply.
const (
	// NoChanges: the kernel already matched; the state and the rules and
	// sysctl files were written.
	NoChanges Outcome = "no-changes"
	// Applied: every operation was done, and the state and files written.
	Applied Outcome = "applied"
	// Invalid: the config did not compile; nothing was read or written
	// (the diagnostics are on stderr).
	Invalid Outcome = "invalid"
	// Refused: a guard refused the plan; nothing was written.
	Refused Outcome = "refused"
	// Cancelled: the operator did not answer "yes"; nothing was written.
	Cancelled Outcome = "cancelled"
	// Failed: anything else — the kernel refused an operation (the
	// results say which were done), the lock was held, the kernel could
	// not be read, a file could not be written.
	Failed Outcome = "failed"
)

// Status is what became of one operation of the plan.
type Status string

// The statuses of an operation, from applier.Result.
const (
	// OK: the kernel did it.
	OK Status = "ok"
	// Error: the kernel refused it (the result has the error).
	Error Status = "error"
	// Unknown: sent, but the kernel's answer was lost; the next plan
	// shows whether it was done.
	Unknown Status = "unknown"
	// NotDone: never sent (after a failure, or the plan was not applied).
	NotDone Status = "not-done"
)

// OpResult is the result of one operation: its status and, for Error,
// the kernel's error.
type OpResult struct {
	Status Status
	Err    error
}

// Apply is what WriteApplyJSON writes: the plan (nil when the run stopped
// before there was one), a result per operation of the plan in its order,
// the outcome and the error that ended the run, if any.
type Apply struct {
	Host    string
	Plan    *plan.Plan
	Results []OpResult
	Outcome Outcome
	Err     error
}

type jsonApply struct {
	Version int          `json:"version"`
	Host    string       `json:"host"`
	Outcome Outcome      `json:"outcome"`
	Error   string       `json:"error,omitempty"`
	Plan    *jsonPlan    `json:"plan"`
	Results []jsonResult `json:"results"`
}

type jsonResult struct {
	Action plan.Action `json:"action"`
	Kind   plan.Kind   `json:"kind"`
	Object string      `json:"object"`
	Result Status      `json:"result"`
	Error  string      `json:"error,omitempty"`
	Errno  string      `json:"errno,omitempty"`
}

// WriteApplyJSON writes a as one versioned JSON document: the plan as
// WriteJSON writes it, under "plan", and "results" in the plan's order,
// each naming its operation again so that a reader need not zip the two
// lists. `lvsgen apply --format json` writes it, and only it, to stdout.
func WriteApplyJSON(w io.Writer, a Apply) error {
	doc := jsonApply{Version: ApplyVersion, Host: a.Host, Outcome: a.Outcome, Results: []jsonResult{}}
	if a.Err != nil {
		doc.Error = a.Err.Error()
	}
	if a.Plan != nil {
		doc.Plan = planDoc(a.Plan)
		for i, o := range a.Plan.Ops {
			r := jsonResult{Action: o.Action, Kind: o.Kind(), Object: o.Object().String(), Result: NotDone}
			if i < len(a.Results) {
				r.Result = a.Results[i].Status
				if err := a.Results[i].Err; err != nil {
					r.Error = err.Error()
					r.Errno = errnoName(err)
				}
			}
			doc.Results = append(doc.Results, r)
		}
	}
	return writeJSON(w, doc)
}

// errnoName is the name of the errno err wraps ("EEXIST"), "" for none:
// a program matches on it rather than on the message, which is the C
// library's and may change.
func errnoName(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return ""
	}
	return errnoNames(errno)
}
