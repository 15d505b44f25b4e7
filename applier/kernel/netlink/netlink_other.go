//go:build !linux

package netlink

import (
	"fmt"
	"runtime"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// Kernel is the real kernel; it exists only on Linux.
type Kernel struct {
	kernel.Kernel
}

// New fails: IPVS and rtnetlink exist only on Linux.
func New(opts ...Option) (*Kernel, error) {
	return nil, fmt.Errorf("kernel netlink: not supported on %s: IPVS and rtnetlink are Linux only", runtime.GOOS)
}

// Close does nothing.
func (k *Kernel) Close() error { return nil }
