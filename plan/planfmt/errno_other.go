//go:build !unix

package planfmt

import "syscall"

// errnoNames has no names for errnos where there is no unix.ErrnoName:
// lvsgen applies only on Linux.
func errnoNames(syscall.Errno) string { return "" }
