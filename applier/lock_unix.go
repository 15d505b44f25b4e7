//go:build unix

package applier

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Lock takes the per-host apply lock under dir, so that two applies (an
// operator's and a watch's) never interleave their writes. It fails at
// once when another process holds it.
func Lock(dir, host string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("taking apply lock: %w", err)
	}
	path := filepath.Join(dir, host+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("taking apply lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("taking apply lock %s: another lvsgen apply or watch is running for host %s", path, host)
		}
		return nil, fmt.Errorf("taking apply lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
