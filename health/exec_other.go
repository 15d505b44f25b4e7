//go:build !linux

package health

import (
	"context"
	"runtime"
)

// Probe fails: exec checks need Linux's process groups and credentials.
func (ExecProber) Probe(ctx context.Context, s *Spec) Result {
	return Result{Detail: "exec checks are not supported on " + runtime.GOOS}
}
