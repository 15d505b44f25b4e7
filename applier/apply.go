package applier

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/plan"
)

// Result is what Apply did, operation by operation. Every operation of the
// plan is in exactly one of Done, Failed, AlsoFailed, Unknown and NotDone.
type Result struct {
	// Done are the operations the kernel did, in plan order. When a
	// pipelined batch had a failure, the operations of that batch the
	// kernel did after it are here too.
	Done []plan.Op
	// Failed is the first operation that failed, nil if none did; the
	// ApplyError Apply returns is about it.
	Failed *plan.Op
	// AlsoFailed are the operations after Failed, in its batch, that
	// the kernel also refused: the kernel goes on with a batch after a
	// failed request, so the destinations of a service whose creation
	// failed fail too (ESRCH).
	AlsoFailed []OpError
	// Unknown are operations sent to the kernel whose answer never
	// came (the exchange was cancelled or timed out): each may or may
	// not have been done. A fresh Observe tells.
	Unknown []plan.Op
	// NotDone are the operations never sent, in plan order: everything
	// after the batch (or the single operation) that failed.
	NotDone []plan.Op
}

// OpError is an operation the kernel refused, with its error.
type OpError struct {
	Op  plan.Op
	Err error
}

// Undone are the operations that may not have been done: Failed,
// AlsoFailed, Unknown and NotDone.
func (r *Result) Undone() []plan.Op {
	var ops []plan.Op
	if r.Failed != nil {
		ops = append(ops, *r.Failed)
	}
	for _, f := range r.AlsoFailed {
		ops = append(ops, f.Op)
	}
	ops = append(ops, r.Unknown...)
	return append(ops, r.NotDone...)
}

// ApplyError is a kernel error in the middle of a plan. The operations
// before it are done, it and the ones after it are not; a new plan from a
// fresh observation converges.
type ApplyError struct {
	Op  plan.Op
	Err error
}

func (e *ApplyError) Error() string {
	msg := fmt.Sprintf("%s %s %s: %v", e.Op.Action, e.Op.Kind(), e.Op.Object(), e.Err)
	if s, ok := e.Op.After.(*plan.Service); ok && errors.Is(e.Err, syscall.ENOENT) {
		// ENOENT from a new or changed service means a missing module.
		msg += fmt.Sprintf(" (the kernel has no scheduler %q: module ip_vs_%s is missing", s.Scheduler, s.Scheduler)
		if s.PE != "" {
			msg += fmt.Sprintf(", or no persistence engine %q: module ip_vs_pe_%s", s.PE, s.PE)
		}
		if s.Scheduler == "twos" {
			msg += "; twos needs Linux 6.2 or later"
		}
		msg += ")"
	}
	if errors.Is(e.Err, syscall.EPERM) || errors.Is(e.Err, syscall.EACCES) {
		msg += " (lvsgen needs root or CAP_NET_ADMIN to change the kernel)"
	}
	return msg
}

func (e *ApplyError) Unwrap() error { return e.Err }

// batchSize bounds the IPVS writes Apply sends as one batch: it is the
// number of requests the netlink kernel sends in one sendmsg, so that a
// batch is one system call, and it bounds how much of a plan the kernel
// goes on with after a failed write.
const batchSize = 64

// Apply executes the plan's operations in order. It never re-decides: what
// runs is exactly what the plan shows.
//
// When k is a kernel.BatchWriter, consecutive IPVS service and destination
// operations go to the kernel in pipelined batches of up to batchSize
// writes, one batch at a time. A batch never mixes operations that add or
// change (service and destination creations and updates) with ones that
// take away (drains, destination and service deletions), so that a
// destination only leaves once every creation and change before it has
// succeeded. The other operations, and every operation without a
// BatchWriter, are sent one at a time.
//
// Apply stops at the first failure: after a failed operation, or after
// the batch that held one, nothing more is sent. Within that batch the
// kernel has gone on with the writes after the failure; Result says which
// it did and which it also refused. Apply may be called again with a new
// plan after a failure; Diff of a fresh observation picks up where this
// one stopped.
func Apply(ctx context.Context, k kernel.IPVS, p *plan.Plan) (*Result, error) {
	res := &Result{}
	bw, _ := k.(kernel.BatchWriter)
	ops := p.Ops
	for i := 0; i < len(ops); {
		if err := ctx.Err(); err != nil {
			res.NotDone = ops[i:]
			return res, fmt.Errorf("applying plan: %w", err)
		}
		op := ops[i]
		if bw == nil || !op.IsIPVS() {
			if err := applyOp(ctx, k, op); err != nil {
				failed := op
				res.Failed = &failed
				res.NotDone = ops[i+1:]
				return res, &ApplyError{Op: op, Err: err}
			}
			res.Done = append(res.Done, op)
			i++
			pauseForTest(ctx, len(res.Done))
			continue
		}
		end := batchEnd(ops, i)
		if err := applyBatch(ctx, bw, ops[i:end], res); err != nil {
			res.NotDone = append(res.NotDone, ops[end:]...)
			return res, err
		}
		i = end
		pauseForTest(ctx, len(res.Done))
	}
	return res, nil
}

// PauseEnv names a test-only hook: with LVSGEN_TEST_PAUSE_AFTER_OPS=N,
// Apply stops for good once N operations are done (after the batch that
// holds the Nth), saying so on stderr, until its context ends (apply's
// --timeout): the real-kernel test of issue 17 SIGKILLs apply there,
// between its first kernel write and its final state save. It changes
// nothing Apply writes, only when; unset, it costs one look-up per run.
const PauseEnv = "LVSGEN_TEST_PAUSE_AFTER_OPS"

// pauseAfter is PauseEnv's value, 0 when unset or not a number.
var pauseAfter = sync.OnceValue(func() int {
	n, _ := strconv.Atoi(os.Getenv(PauseEnv))
	return n
})

// paused is set once Apply has paused: a process pauses once.
var paused atomic.Bool

// pauseForTest pauses, once per process, when done reaches PauseEnv.
func pauseForTest(ctx context.Context, done int) {
	n := pauseAfter()
	if n <= 0 || done < n || paused.Swap(true) {
		return
	}
	fmt.Fprintf(os.Stderr, "lvsgen: %s=%d: paused after %d operations (test only)\n", PauseEnv, n, done)
	<-ctx.Done()
}

// removes reports whether op takes something away from a service.
func removes(op plan.Op) bool {
	return op.Action == plan.Delete || op.Action == plan.Drain || op.Action == plan.Wait
}

// batchEnd returns the end of the batch that starts at ops[i]: the
// following IPVS operations of the same direction (adding or removing),
// up to batchSize kernel writes.
func batchEnd(ops []plan.Op, i int) int {
	writes := 0
	j := i
	for ; j < len(ops) && ops[j].IsIPVS() && removes(ops[j]) == removes(ops[i]); j++ {
		if !ops[j].Writes() {
			continue
		}
		if writes == batchSize {
			break
		}
		writes++
	}
	return j
}

// applyBatch sends the writes of ops as one batch and records in res what
// became of each operation. A Wait, or a service's Drain, writes nothing:
// it is done once its batch is sent. It returns the error that stops
// Apply: an ApplyError for the first write the kernel refused, else the
// exchange's own error.
func applyBatch(ctx context.Context, bw kernel.BatchWriter, ops []plan.Op, res *Result) error {
	ws := make([]kernel.IPVSWrite, 0, len(ops))
	for _, op := range ops {
		if op.Writes() {
			ws = append(ws, ipvsWrite(op))
		}
	}
	errs, xerr := bw.WriteBatch(ctx, ws)
	if len(errs) != len(ws) {
		// A kernel that breaks the contract: nothing is known.
		res.Unknown = append(res.Unknown, ops...)
		return fmt.Errorf("applying plan: the kernel answered %d of %d writes: %w", len(errs), len(ws), errors.Join(xerr, kernel.ErrNoAnswer))
	}
	var first *ApplyError
	w := 0
	for _, op := range ops {
		if !op.Writes() {
			res.Done = append(res.Done, op)
			continue
		}
		err := errs[w]
		w++
		switch {
		case err == nil:
			res.Done = append(res.Done, op)
		case errors.Is(err, kernel.ErrNotSent):
			res.NotDone = append(res.NotDone, op)
		case errors.Is(err, kernel.ErrNoAnswer):
			res.Unknown = append(res.Unknown, op)
		case first == nil:
			failed := op
			res.Failed = &failed
			first = &ApplyError{Op: op, Err: err}
		default:
			res.AlsoFailed = append(res.AlsoFailed, OpError{Op: op, Err: err})
		}
	}
	if xerr != nil {
		xerr = fmt.Errorf("applying plan: %d operations sent without an answer, %d not sent: %w", len(res.Unknown), len(res.NotDone), xerr)
	}
	switch {
	case first != nil && xerr != nil:
		return errors.Join(first, xerr)
	case first != nil:
		return first
	}
	return xerr
}

// ipvsWrite is the kernel write of an IPVS operation that writes.
// The object is After, or Before for a deletion.
func ipvsWrite(op plan.Op) kernel.IPVSWrite {
	switch o := op.Object().(type) {
	case *plan.Service:
		switch op.Action {
		case plan.Create:
			return kernel.IPVSWrite{Op: kernel.AddService, Service: o.Service}
		case plan.Update:
			return kernel.IPVSWrite{Op: kernel.UpdateService, Service: o.Service}
		case plan.Delete:
			return kernel.IPVSWrite{Op: kernel.DelService, Service: ipvs.Service{ServiceKey: o.ServiceKey}}
		}
	case *plan.Destination:
		svc := ipvs.Service{ServiceKey: o.Service}
		switch op.Action {
		case plan.Create:
			return kernel.IPVSWrite{Op: kernel.AddDestination, Service: svc, Dest: o.Destination}
		case plan.Update, plan.Drain:
			return kernel.IPVSWrite{Op: kernel.UpdateDestination, Service: svc, Dest: o.Destination}
		case plan.Delete:
			return kernel.IPVSWrite{Op: kernel.DelDestination, Service: svc, Dest: o.Destination}
		}
	}
	// Diff makes no other IPVS operation; an invalid op fails in the
	// kernel layer as an unknown write.
	return kernel.IPVSWrite{}
}

// applyOp makes the kernel call of one operation. The IPVS table's own
// operations need only k; the host's objects need all of a kernel.Kernel.
func applyOp(ctx context.Context, k kernel.IPVS, op plan.Op) error {
	if !op.Writes() {
		return nil
	}
	switch o := op.Object().(type) {
	case *plan.Service, *plan.Destination:
		return kernel.Do(ctx, k, ipvsWrite(op))
	case *plan.Timeouts:
		return k.SetTimeouts(ctx, o.Timeouts)
	}
	hk, ok := k.(kernel.Kernel)
	if !ok {
		return fmt.Errorf("%s %s %s: %w", op.Action, op.Kind(), op.Object(), ErrIPVSOnly)
	}
	return applyHostOp(ctx, hk, op)
}

// applyHostOp makes the kernel call of an operation on a host object:
// a link, address, route, fou port, sysctl, nftables table or sync
// daemon.
func applyHostOp(ctx context.Context, k kernel.Kernel, op plan.Op) error {
	switch o := op.Object().(type) {
	case *plan.Link:
		switch op.Action {
		case plan.Create:
			return k.AddLink(ctx, o.Link)
		case plan.Update:
			if o.Mode != "" {
				// A fallback tunnel device's mode: AddLink sets it.
				return k.AddLink(ctx, o.Link)
			}
			return k.SetLinkUp(ctx, o.Name)
		case plan.Delete:
			return k.DelLink(ctx, o.Name)
		}
	case *plan.Address:
		switch op.Action {
		case plan.Create:
			return k.AddAddress(ctx, o.Address)
		case plan.Update:
			return k.ReplaceAddress(ctx, o.Address)
		case plan.Delete:
			return k.DelAddress(ctx, o.Address)
		}
	case *plan.Route:
		switch op.Action {
		case plan.Create:
			return k.AddRoute(ctx, o.Route)
		case plan.Update:
			// In one step: a NAT real server's default route is never
			// missing. A route of another metric (a DHCP default route)
			// cannot be changed in place; it is deleted and added, as
			// before, which leaves a moment without it.
			err := k.ChangeRoute(ctx, o.Route)
			if !errors.Is(err, syscall.ENOENT) {
				return err
			}
			if err := k.DelRoute(ctx, op.Before.(*plan.Route).Route); err != nil {
				return err
			}
			return k.AddRoute(ctx, o.Route)
		case plan.Delete:
			return k.DelRoute(ctx, o.Route)
		}
	case *plan.FOU:
		switch op.Action {
		case plan.Create:
			return k.AddFOU(ctx, o.FOU)
		case plan.Delete:
			return k.DelFOU(ctx, o.FOU)
		}
	case *plan.Sysctl:
		return k.SetSysctl(ctx, o.Key, o.Value)
	case *plan.NFTable:
		switch op.Action {
		case plan.Create, plan.Update:
			return k.ReplaceNFTable(ctx, o.NFTTable)
		case plan.Delete:
			return k.DelNFTable(ctx, o.Family, o.Name)
		}
	case *plan.SyncDaemon:
		switch op.Action {
		case plan.Create:
			return k.AddSyncDaemon(ctx, o.SyncDaemon)
		case plan.Update:
			// The kernel changes no parameter of a running daemon.
			if err := k.DelSyncDaemon(ctx, op.Before.(*plan.SyncDaemon).State); err != nil && !errors.Is(err, syscall.ESRCH) {
				return err
			}
			return k.AddSyncDaemon(ctx, o.SyncDaemon)
		case plan.Delete:
			return k.DelSyncDaemon(ctx, o.State)
		}
	}
	return fmt.Errorf("no way to %s a %s", op.Action, op.Kind())
}
