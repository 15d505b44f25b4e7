//go:build unix

package planfmt

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// errnoNames is unix.ErrnoName, the kernel's name of an errno.
func errnoNames(e syscall.Errno) string { return unix.ErrnoName(e) }
