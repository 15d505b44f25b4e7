// Package safefile reads the files lvsgen takes from places it does not
// control — a git checkout of the config, a policy directory, a capture,
// an include, its own state file — as untrusted input: regular files only,
// of bounded size, and never blocking.
//
// lvsgen runs as root. A config directory is whatever was committed to
// it, so a file named x.cue may be a FIFO (which would hang validate,
// apply before its lock, and watch, which then ignores SIGTERM), a
// symlink to /dev/zero (which would exhaust memory) or to a root-only
// file such as /etc/shadow (whose content would end up in diagnostics,
// the journal and CI annotations). Every read here opens without blocking
// (O_NONBLOCK: opening a FIFO does not wait for a writer), checks the
// open file — not the name, which may change in between — is a regular
// file, and reads at most the limit. Root confines symlinks to a
// directory.
package safefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// MaxConfigFile bounds a configuration or policy file. A generated config
// of 10,000 services is a few MiB in all; a single file past this is a
// mistake or an attack.
const MaxConfigFile = 32 << 20

// ErrNotRegular is wrapped by the error for a file that is not a regular
// file (a FIFO, a device, a socket, a directory).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the error for a file over the limit.
var ErrTooLarge = errors.New("file too large")

// ReadFile reads path, following symlinks: a regular file of at most max
// bytes.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(f, path, max)
}

// Open opens path, following symlinks, for a caller that reads it as a
// stream: without blocking, and only when it is a regular file. The
// caller bounds what it reads (io.LimitReader, a line scanner).
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is a %s, not a regular file: %w", path, typeName(fi.Mode()), ErrNotRegular)
	}
	return f, nil
}

// ReadAll reads a stream lvsgen does not control — standard input, given
// as "-" where a file is expected — to its end, up to max bytes: a pipe
// has no size to check first, so the bound is counted while reading.
// name is what the error calls the stream.
func ReadAll(r io.Reader, name string, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is more than the %d bytes lvsgen reads: %w", name, max, ErrTooLarge)
	}
	return b, nil
}

// ReadFileNoFollow is ReadFile for a file that must not be a symlink
// (lvsgen's own state): a symlink as the last component of path is
// refused (O_NOFOLLOW).
func ReadFileNoFollow(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is a symlink, which lvsgen does not follow here: %w", path, err)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(f, path, max)
}

// Root reads files below a directory, following a symlink only where it
// resolves inside the directory (os.Root): a link committed to a config
// tree cannot make lvsgen read a file outside it.
type Root struct {
	dir  string
	real string // dir with its symlinks resolved
	root *os.Root
}

// OpenRoot opens dir (following it, when it is itself a symlink, as
// git-sync's "current" link is) to read files below it.
func OpenRoot(dir string) (*Root, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(real)
	if err != nil {
		return nil, err
	}
	return &Root{dir: dir, real: real, root: r}, nil
}

// Close releases the directory.
func (r *Root) Close() error { return r.root.Close() }

// rel is name below the root; name is the root's path joined with a
// path below it, as compiler.ConfigFiles names files.
func (r *Root) rel(name string) (string, error) {
	rel, err := filepath.Rel(r.dir, name)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%s is not below %s", name, r.dir)
	}
	return rel, nil
}

// ReadFile reads name, a file below the root: a regular file of at most
// max bytes, reached through symlinks only inside the root.
func (r *Root) ReadFile(name string, max int64) ([]byte, error) {
	rel, err := r.inside(name)
	if err != nil {
		return nil, err
	}
	f, err := r.root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(f, name, max)
}

// Stat is os.Stat of name below the root, through symlinks inside it.
func (r *Root) Stat(name string) (fs.FileInfo, error) {
	rel, err := r.inside(name)
	if err != nil {
		return nil, err
	}
	return r.root.Stat(rel)
}

// inside returns the path below the root to open for name. os.Root
// follows a relative symlink that stays inside; one with an absolute
// target it refuses even when that target is inside too, so such a link
// is resolved here and allowed when it lands inside the root. Opening the
// resolved path through os.Root still refuses a link swapped in since.
func (r *Root) inside(name string) (string, error) {
	rel, err := r.rel(name)
	if err != nil {
		return "", err
	}
	if _, err := r.root.Lstat(rel); err != nil {
		return "", err
	}
	if _, err := r.root.Stat(rel); !escapes(err) {
		return rel, nil
	}
	target, err := filepath.EvalSymlinks(filepath.Join(r.real, rel))
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(r.real, target); err == nil && filepath.IsLocal(rel) {
		return rel, nil
	}
	return "", fmt.Errorf("%s: a symlink that leads outside the config directory (to %s), which lvsgen does not follow", name, target)
}

// escapes reports whether err is os.Root's refusal of a path that
// leads out of it.
func escapes(err error) bool {
	var pe *fs.PathError
	return err != nil && errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent"
}

// read checks the open file f and reads it whole, up to max bytes.
func read(f *os.File, name string, max int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is a %s, not a regular file: %w", name, typeName(fi.Mode()), ErrNotRegular)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d lvsgen reads: %w", name, fi.Size(), max, ErrTooLarge)
	}
	// Read into a buffer of the size stat gave, plus what ReadFrom needs
	// free to see the end (or a file that grew): io.ReadAll grows its
	// buffer step by step, copying and clearing it each time, which for
	// the compile cache's entries of tens of megabytes cost more than
	// decoding them.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, max+1)); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if int64(len(b)) > max {
		// It grew while being read.
		return nil, fmt.Errorf("%s is more than the %d bytes lvsgen reads: %w", name, max, ErrTooLarge)
	}
	return b, nil
}

// typeName names a file type for people.
func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	}
	return "special file (" + m.Type().String() + ")"
}

// ErrUnsafePermissions is wrapped by CheckPermissions' error.
var ErrUnsafePermissions = errors.New("unsafe permissions")

// CheckPermissions requires that no one but root and the effective user
// can change what root will read as the config in dir: dir, every
// directory above it, every directory that holds one of files, and each
// of files (through its symlinks), must be owned by root or the effective
// user and not writable by group or others — as sshd's StrictModes does
// for authorized_keys. A directory above dir that others may write is
// allowed when it is sticky (/tmp): others cannot rename or remove what is
// in it then.
func CheckPermissions(dir string, files []string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		if err := checkOwner(d, "directory above the config", true); err != nil {
			return err
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	checked := map[string]bool{}
	check := func(path, what string) error {
		if checked[path] {
			return nil
		}
		checked[path] = true
		return checkOwner(path, what, false)
	}
	if err := check(real, "config directory"); err != nil {
		return err
	}
	for _, f := range files {
		target, err := filepath.EvalSymlinks(f)
		if err != nil {
			return err
		}
		for d := filepath.Dir(target); len(d) > len(real); d = filepath.Dir(d) {
			if err := check(d, "config directory"); err != nil {
				return err
			}
		}
		if err := check(target, "config file"); err != nil {
			return err
		}
	}
	return nil
}

// checkOwner checks one path for CheckPermissions.
func checkOwner(path, what string, stickyOK bool) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s %s is owned by uid %d, neither root nor this user: whoever owns it reprograms this balancer as root (chown it, or pass --allow-unsafe-permissions): %w", what, path, st.Uid, ErrUnsafePermissions)
	}
	perm := fi.Mode().Perm()
	if perm&0o022 != 0 && !(stickyOK && fi.Mode()&os.ModeSticky != 0) {
		return fmt.Errorf("%s %s is writable by group or others (mode %v): anyone who can write it reprograms this balancer as root (chmod go-w it, or pass --allow-unsafe-permissions): %w", what, path, perm, ErrUnsafePermissions)
	}
	return nil
}

// CheckPrivateDir requires dir to be a directory (not a link to one)
// owned by the effective user and not writable by group or others.
func CheckPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	return checkPrivate(dir, fi, true)
}

// CheckPrivateFile requires the open file f to be a regular file owned by
// the effective user and not writable by group or others: checked on the
// open file, so that the name cannot be swapped in between.
func CheckPrivateFile(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return checkPrivate(f.Name(), fi, false)
}

// checkPrivate is CheckPrivateDir's and CheckPrivateFile's check of fi,
// the information of name: a directory when dir, else a regular file.
func checkPrivate(name string, fi fs.FileInfo, dir bool) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case dir && !fi.IsDir():
		return fmt.Errorf("%s is not a directory (%v)", name, fi.Mode().Type())
	case !dir && !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file (%v)", name, fi.Mode().Type())
	case !ok || int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%s is not owned by uid %d", name, os.Geteuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by group or others (mode %v): chmod go-w it", name, fi.Mode().Perm())
	}
	return nil
}
