//go:build !unix

package applier

import (
	"fmt"
	"runtime"
)

// Lock is not supported off unix: lvsgen applies only to Linux kernels.
func Lock(dir, host string) (func(), error) {
	return nil, fmt.Errorf("taking apply lock: not supported on %s", runtime.GOOS)
}
