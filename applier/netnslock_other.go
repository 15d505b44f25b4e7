//go:build !linux

package applier

import (
	"fmt"
	"runtime"
)

// DefaultRunDir holds the kernel locks: one per network namespace.
const DefaultRunDir = "/run/lvsgen"

// LockNetNS is not supported off Linux, which has no IPVS.
func LockNetNS(runDir string) (func(), error) {
	return nil, fmt.Errorf("taking kernel lock: not supported on %s", runtime.GOOS)
}
