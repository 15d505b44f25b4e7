//go:build unix

package health

import (
	"os"
	"syscall"
)

// openNoFollow opens path for reading, refusing a symlink at its last
// component (ELOOP) and not blocking on a FIFO planted there.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
}
