package compiler

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lvsgen/lvsgen/internal/safefile"
)

// ConfigFiles lists the configuration files of dir, sorted. It is the one
// place that decides which files are configuration: Compile reads these,
// and lvsgen watch hashes these (and watches their directories), so what
// is compiled is exactly what a change is looked for in.
//
// It includes every file named *.cue at any depth below dir, and a
// symlink named *.cue to a regular file inside dir (read through the
// link). A *.cue that is anything else — a FIFO, a device, a socket, a
// symlink that leads out of dir or to something other than a regular
// file — is an error naming it: the tree is untrusted input, and such a
// file would hang or exhaust lvsgen, or show a file from outside the tree
// in its diagnostics (see internal/safefile). It excludes
//   - hidden files and directories (a name starting with "."), and
//     cue.mod: they hold tooling (.git, an editor's .x.cue.swp, CUE module
//     metadata), not configuration;
//   - symlinks to directories below dir, which are not followed: a link
//     could otherwise bring a directory in twice or loop;
//   - every other file.
//
// A listed file whose build attribute leaves it out under the tag lvsgen
// (@if(!lvsgen): a file for CUE's tools alone, docs/CONFIG.md) is read and
// hashed but not compiled (excludedByTag).
//
// dir itself is followed when it is a symlink — git-sync swaps a
// "current" link to each checkout — and may be hidden. When dir is a .cue
// file, that file is the config. The names are dir joined with each file's
// path below it, so that diagnostics name files as the user wrote dir.
func ConfigFiles(dir string) ([]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("reading config directory: %w", err)
	}
	if !st.IsDir() {
		if strings.HasSuffix(dir, ".cue") {
			return []string{dir}, nil
		}
		return nil, fmt.Errorf("reading config directory: %s is not a directory", dir)
	}
	root, err := safefile.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("reading config directory: %w", err)
	}
	defer root.Close()
	var files []string
	// A trailing separator makes the walk follow dir when it is a symlink;
	// the names it reports still start with dir as the user wrote it.
	// Below dir, WalkDir reports a symlink as a file, never descending.
	err = filepath.WalkDir(dir+string(filepath.Separator), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if filepath.Clean(path) != filepath.Clean(dir) && IgnoredDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".cue") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		name := path
		switch t := d.Type(); {
		case t&fs.ModeSymlink != 0:
			fi, err := root.Stat(name)
			if err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%s leads to a %v, not a regular file: %w", name, fi.Mode().Type(), safefile.ErrNotRegular)
			}
		case !t.IsRegular():
			return fmt.Errorf("%s is not a regular file (%v): %w", name, t, safefile.ErrNotRegular)
		}
		files = append(files, path)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading config directory: %w", err)
	}
	slices.Sort(files)
	return files, nil
}

// ReadConfigFiles returns a reader of the files ConfigFiles(dir) lists:
// regular files of at most safefile.MaxConfigFile bytes, through symlinks
// only inside dir, never blocking. Close it when done.
func ReadConfigFiles(dir string) (read func(name string) ([]byte, error), close func() error, err error) {
	root := dir
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		root = filepath.Dir(dir)
	}
	r, err := safefile.OpenRoot(root)
	if err != nil {
		return nil, nil, fmt.Errorf("reading config directory: %w", err)
	}
	return func(name string) ([]byte, error) { return r.ReadFile(name, safefile.MaxConfigFile) }, r.Close, nil
}

// IgnoredDir reports whether a directory named name below a config root
// holds no configuration: a hidden one (.git) or cue.mod. ConfigFiles
// skips them, and lvsgen watch watches nothing in them.
func IgnoredDir(name string) bool { return strings.HasPrefix(name, ".") || name == "cue.mod" }
