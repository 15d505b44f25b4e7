package main

import (
	"fmt"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/applier/kernel/netlink"
)

// openNetlinkKernel opens the live kernel of the current network namespace
// through netlink. The process exits after one command, which closes the
// sockets.
func openNetlinkKernel() (kernel.Kernel, error) {
	k, err := netlink.New()
	if err != nil {
		return nil, fmt.Errorf("opening the kernel: %w", err)
	}
	return k, nil
}
