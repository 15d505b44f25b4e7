package compiler

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ConfigFiles lists the configuration files of dir, sorted. It is the one
// place that decides which files are configuration: Compile reads these,
// and lvsgen watch hashes these (and watches their directories), so what
// is compiled is exactly what a change is looked for in.
//
// It includes every file named *.cue at any depth below dir, and a
// symlink named *.cue to a file (read through the link). It excludes
//   - hidden files and directories (a name starting with "."), and
//     cue.mod: they hold tooling (.git, an editor's .x.cue.swp, CUE module
//     metadata), not configuration;
//   - symlinks to directories below dir, which are not followed: a link
//     could otherwise bring a directory in twice or loop;
//   - every other file.
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
		if strings.HasSuffix(d.Name(), ".cue") && !strings.HasPrefix(d.Name(), ".") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading config directory: %w", err)
	}
	slices.Sort(files)
	return files, nil
}

// IgnoredDir reports whether a directory named name below a config root
// holds no configuration: a hidden one (.git) or cue.mod. ConfigFiles
// skips them, and lvsgen watch watches nothing in them.
func IgnoredDir(name string) bool { return strings.HasPrefix(name, ".") || name == "cue.mod" }
