package vm

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// cpioWriter writes a "newc" (SVR4, no CRC) cpio archive, the format the
// kernel unpacks as an initramfs. Parent directories are emitted on demand so
// callers can add files in any order.
type cpioWriter struct {
	w    *bufio.Writer
	ino  uint32
	dirs map[string]bool
	err  error
}

func newCpioWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: bufio.NewWriterSize(w, 1<<20), ino: 1, dirs: map[string]bool{".": true, "": true}}
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeLink = 0o120000
)

// header writes one entry header and the padded name.
func (c *cpioWriter) header(name string, mode uint32, size int64) {
	if c.err != nil {
		return
	}
	nlink := 1
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	c.ino++
	h := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name)+1, 0)
	if _, err := c.w.WriteString(h); err != nil {
		c.err = err
		return
	}
	if _, err := c.w.WriteString(name + "\x00"); err != nil {
		c.err = err
		return
	}
	c.pad(int64(len(h) + len(name) + 1))
}

func (c *cpioWriter) pad(n int64) {
	if c.err != nil {
		return
	}
	if r := n % 4; r != 0 {
		_, c.err = c.w.Write(make([]byte, 4-r))
	}
}

// clean turns a guest path into an archive name: relative, no leading slash.
func clean(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// mkdirAll emits the directory and its missing parents.
func (c *cpioWriter) mkdirAll(dir string) {
	dir = clean(dir)
	if c.dirs[dir] {
		return
	}
	c.mkdirAll(path.Dir(dir))
	c.header(dir, modeDir|0o755, 0)
	c.dirs[dir] = true
}

// Dir adds a directory (and its parents).
func (c *cpioWriter) Dir(name string) error {
	c.mkdirAll(name)
	return c.err
}

// Bytes adds a regular file with the given contents and permission bits.
func (c *cpioWriter) Bytes(name string, perm fs.FileMode, data []byte) error {
	name = clean(name)
	c.mkdirAll(path.Dir(name))
	c.header(name, modeFile|uint32(perm.Perm()), int64(len(data)))
	if c.err == nil {
		_, c.err = c.w.Write(data)
	}
	c.pad(int64(len(data)))
	return c.err
}

// File adds the host file src as name, following symlinks.
func (c *cpioWriter) File(name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	name = clean(name)
	c.mkdirAll(path.Dir(name))
	// Never group- or world-writable in the guest, whatever the umask of
	// the checkout: lvsgen apply refuses a config others can change.
	c.header(name, modeFile|uint32(st.Mode().Perm()&^0o022), st.Size())
	if c.err == nil {
		var n int64
		n, c.err = io.Copy(c.w, f)
		if c.err == nil && n != st.Size() {
			c.err = fmt.Errorf("cpio: %s changed size while archiving", src)
		}
	}
	c.pad(st.Size())
	return c.err
}

// Symlink adds a symbolic link name pointing at target.
func (c *cpioWriter) Symlink(name, target string) error {
	name = clean(name)
	c.mkdirAll(path.Dir(name))
	c.header(name, modeLink|0o777, int64(len(target)))
	if c.err == nil {
		_, c.err = c.w.WriteString(target)
	}
	c.pad(int64(len(target)))
	return c.err
}

// Tree adds the host directory src under the guest directory dst, keeping
// symlinks as symlinks. Entries are added in sorted order so archives are
// reproducible.
func (c *cpioWriter) Tree(dst, src string) error {
	var paths []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cpio: walk %s: %w", src, err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return fmt.Errorf("cpio: %w", err)
		}
		name := path.Join(dst, filepath.ToSlash(rel))
		st, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("cpio: %w", err)
		}
		switch {
		case st.IsDir():
			err = c.Dir(name)
		case st.Mode()&fs.ModeSymlink != 0:
			var target string
			target, err = os.Readlink(p)
			if err == nil {
				err = c.Symlink(name, target)
			}
		case st.Mode().IsRegular():
			err = c.File(name, p)
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("cpio: add %s: %w", p, err)
		}
	}
	return nil
}

// Close writes the trailer and flushes; it does not close the underlying
// writer.
func (c *cpioWriter) Close() error {
	c.header("TRAILER!!!", 0, 0)
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}
