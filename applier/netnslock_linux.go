package applier

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/internal/safefile"
)

// DefaultRunDir holds the kernel locks: one per network namespace.
const DefaultRunDir = "/run/lvsgen"

// LockNetNS takes the lock of the kernel lvsgen is about to write: the
// IPVS table, devices, addresses, routes and sysctls of the calling
// thread's network namespace. Lock (per host, under the state directory)
// keeps two runs for one host apart; this keeps apart two runs that write
// the same kernel under different --host names or --state-dir, which
// would otherwise interleave their writes and each delete what the other
// made. The lock file is named after the namespace's inode, under runDir,
// which must be a directory owned by the effective user and writable by
// no one else (anyone who could replace the lock file could make two
// applies run at once). It fails at once when another process holds it.
func LockNetNS(runDir string) (unlock func(), err error) {
	var ns unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &ns); err != nil {
		return nil, fmt.Errorf("taking kernel lock: identifying the network namespace: %w", err)
	}
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return nil, fmt.Errorf("taking kernel lock: %w", err)
	}
	if err := safefile.CheckPrivateDir(runDir); err != nil {
		return nil, fmt.Errorf("taking kernel lock: %w", err)
	}
	path := filepath.Join(runDir, fmt.Sprintf("netns-%d-%d.lock", ns.Dev, ns.Ino))
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("taking kernel lock %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	if err := safefile.CheckPrivateFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("taking kernel lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("taking kernel lock %s: another lvsgen apply or watch is writing this kernel (network namespace net:[%d]), whatever its --host or --state-dir", path, ns.Ino)
		}
		return nil, fmt.Errorf("taking kernel lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
