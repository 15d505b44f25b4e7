package applier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// Result is what Apply did.
type Result struct {
	// Done are the operations that succeeded, in order.
	Done []Op
	// Failed is the operation that failed, nil if none did.
	Failed *Op
	// NotDone are the operations after the failed one, not attempted.
	NotDone []Op
}

// ApplyError is a kernel error in the middle of a plan. The operations
// before it are done, it and the ones after it are not; a new plan from a
// fresh observation converges.
type ApplyError struct {
	Op  Op
	Err error
}

func (e *ApplyError) Error() string {
	msg := fmt.Sprintf("%s %s %s: %v", e.Op.Action, e.Op.Kind, e.Op.Object(), e.Err)
	if s, ok := e.Op.After.(*ipvs.Service); ok && e.Op.Kind == KindService && errors.Is(e.Err, syscall.ENOENT) {
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

// Apply executes the plan's operations in order and stops at the first
// error. It never re-decides: what runs is exactly what the plan shows.
// Apply may be called again with a new plan after a failure; Diff of a
// fresh observation picks up where this one stopped.
func Apply(ctx context.Context, k kernel.Kernel, p *Plan) (*Result, error) {
	res := &Result{}
	for i, op := range p.Ops {
		if err := ctx.Err(); err != nil {
			res.NotDone = p.Ops[i:]
			return res, fmt.Errorf("applying plan: %w", err)
		}
		if err := applyOp(ctx, k, op); err != nil {
			failed := op
			res.Failed = &failed
			res.NotDone = p.Ops[i+1:]
			return res, &ApplyError{Op: op, Err: err}
		}
		res.Done = append(res.Done, op)
	}
	return res, nil
}

func applyOp(ctx context.Context, k kernel.Kernel, op Op) error {
	switch op.Kind {
	case KindService:
		switch op.Action {
		case Create:
			return k.AddService(ctx, *op.After.(*ipvs.Service))
		case Update:
			return k.UpdateService(ctx, *op.After.(*ipvs.Service))
		case Delete:
			return k.DelService(ctx, op.Before.(*ipvs.Service).ServiceKey)
		}
	case KindDestination:
		switch op.Action {
		case Create:
			return k.AddDestination(ctx, op.Service, *op.After.(*ipvs.Destination))
		case Update, Drain:
			return k.UpdateDestination(ctx, op.Service, *op.After.(*ipvs.Destination))
		case Delete:
			return k.DelDestination(ctx, op.Service, *op.Before.(*ipvs.Destination))
		case Wait:
			return nil
		}
	case KindTimeouts:
		return k.SetTimeouts(ctx, *op.After.(*kernel.Timeouts))
	case KindLink:
		switch op.Action {
		case Create:
			return k.AddLink(ctx, *op.After.(*kernel.Link))
		case Update:
			l := op.After.(*kernel.Link)
			if l.Mode != "" {
				// A fallback tunnel device's mode: AddLink sets it.
				return k.AddLink(ctx, *l)
			}
			return k.SetLinkUp(ctx, l.Name)
		case Delete:
			return k.DelLink(ctx, op.Before.(*kernel.Link).Name)
		}
	case KindAddress:
		switch op.Action {
		case Create:
			return k.AddAddress(ctx, *op.After.(*kernel.Address))
		case Delete:
			return k.DelAddress(ctx, *op.Before.(*kernel.Address))
		}
	case KindRoute:
		switch op.Action {
		case Create:
			return k.AddRoute(ctx, *op.After.(*kernel.Route))
		case Update:
			// The kernel interface has no replace: delete, then add.
			// For a default route that leaves a moment without one.
			if err := k.DelRoute(ctx, *op.Before.(*kernel.Route)); err != nil {
				return err
			}
			return k.AddRoute(ctx, *op.After.(*kernel.Route))
		case Delete:
			return k.DelRoute(ctx, *op.Before.(*kernel.Route))
		}
	case KindFOU:
		switch op.Action {
		case Create:
			return k.AddFOU(ctx, *op.After.(*kernel.FOU))
		case Delete:
			return k.DelFOU(ctx, *op.Before.(*kernel.FOU))
		}
	case KindSysctl:
		return k.SetSysctl(ctx, op.Key, *op.After.(*string))
	}
	return fmt.Errorf("no way to %s a %s", op.Action, op.Kind)
}

// Summary counts operations by kind and action, e.g. "2 service create,
// 20 destination create".
func Summary(ops []Op) string {
	type key struct {
		k Kind
		a Action
	}
	counts := map[key]int{}
	var order []key
	for _, o := range ops {
		k := key{o.Kind, o.Action}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	var parts []string
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%d %s %s", counts[k], k.k, k.a))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}
