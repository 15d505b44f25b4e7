package gittree

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lvsgen/lvsgen/internal/safefile"
)

// MaxTotal bounds the bytes of all files read from one tree; MaxFiles
// their number.
const (
	MaxTotal = 512 << 20
	MaxFiles = 100_000
)

// Tree is a directory of a revision, written out.
type Tree struct {
	// Dir is the temporary directory holding the files; Remove deletes
	// it.
	Dir string
	// Rev is the revision as given, Commit its commit id, and Prefix
	// the directory's path in the repository ("" for its top, else
	// ending in "/").
	Rev, Commit, Prefix string
}

// Remove deletes the temporary directory.
func (t *Tree) Remove() error { return os.RemoveAll(t.Dir) }

// entry is one file of a ls-tree listing.
type entry struct {
	mode, typ, oid string
	size           int64
	// target is a symbolic link's, once read.
	target string
	// data is a regular file's content, once read.
	data []byte
}

// Read writes out dir (a directory inside a git work tree) as it is at
// rev in its repository.
func Read(ctx context.Context, dir, rev string) (*Tree, error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return nil, fmt.Errorf("revision %q: not a revision", rev)
	}
	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("finding the git repository of %s: %w", dir, err)
	}
	prefix, err := git(ctx, dir, "rev-parse", "--show-prefix")
	if err != nil {
		return nil, fmt.Errorf("finding %s in its git repository: %w", dir, err)
	}
	commit, err := git(ctx, dir, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("revision %q is not a commit of %s: %w", rev, strings.TrimSpace(string(top)), err)
	}
	t := &Tree{Rev: rev, Commit: strings.TrimSpace(string(commit)), Prefix: strings.TrimSpace(string(prefix))}
	args := []string{"ls-tree", "-r", "-l", "-z", "--full-tree", t.Commit}
	if t.Prefix != "" {
		// git refuses an empty pathspec: none lists the whole tree.
		args = append(args, "--", t.Prefix)
	}
	list, err := git(ctx, dir, args...)
	if err != nil {
		return nil, fmt.Errorf("listing %s at %s: %w", dir, rev, err)
	}
	files, err := parseList(list, t.Prefix)
	if err != nil {
		return nil, fmt.Errorf("listing %s at %s: %w", dir, rev, err)
	}
	if t.Dir, err = os.MkdirTemp("", "lvsgen-diff-"); err != nil {
		return nil, err
	}
	if err := t.write(ctx, dir, files); err != nil {
		t.Remove()
		return nil, fmt.Errorf("reading %s at %s: %w", dir, rev, err)
	}
	return t, nil
}

// parseList reads `git ls-tree -r -l -z` output: the files under prefix,
// by their path relative to it.
func parseList(out []byte, prefix string) (map[string]*entry, error) {
	files := map[string]*entry{}
	for rec := range bytes.SplitSeq(out, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		meta, name, ok := strings.Cut(string(rec), "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 || !strings.HasPrefix(name, prefix) {
			return nil, fmt.Errorf("unexpected ls-tree line %q", rec)
		}
		e := entry{mode: f[0], typ: f[1], oid: f[2]}
		if e.typ == "blob" {
			n, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("unexpected ls-tree size in %q", rec)
			}
			e.size = n
		}
		files[strings.TrimPrefix(name, prefix)] = &e
		if len(files) > MaxFiles {
			return nil, fmt.Errorf("more than %d files", MaxFiles)
		}
	}
	return files, nil
}

// resolve follows a symbolic link at name to the regular file it names
// inside the tree: "" when it leads out of the tree, to nothing, or
// round in circles.
func resolve(files map[string]*entry, name string) string {
	for range 40 {
		e, ok := files[name]
		switch {
		case !ok:
			return ""
		case e.mode == "100644" || e.mode == "100755":
			return name
		case e.mode != "120000":
			return ""
		}
		target := e.target
		if path.IsAbs(target) {
			return ""
		}
		next := path.Join(path.Dir(name), target)
		if next == ".." || strings.HasPrefix(next, "../") {
			return ""
		}
		name = next
	}
	return ""
}

// maxLink bounds a symbolic link's target (PATH_MAX).
const maxLink = 4096

// write reads the blobs of the regular files and links in one cat-file
// run, and writes each regular file, and each link that resolves to one
// inside the tree, as a regular file under t.Dir.
func (t *Tree) write(ctx context.Context, dir string, files map[string]*entry) error {
	var want []*entry
	var total int64
	for name, e := range files {
		switch e.mode {
		case "100644", "100755":
			if e.size > safefile.MaxConfigFile {
				return fmt.Errorf("%s: %d bytes, over the limit of %d", name, e.size, safefile.MaxConfigFile)
			}
			total += e.size
		case "120000":
			if e.size > maxLink {
				return fmt.Errorf("%s: a symbolic link of %d bytes", name, e.size)
			}
		default:
			continue // a submodule
		}
		if total > MaxTotal {
			return fmt.Errorf("over %d bytes of files", MaxTotal)
		}
		want = append(want, e)
	}
	if err := catFiles(ctx, dir, want); err != nil {
		return err
	}
	for name := range files {
		src := resolve(files, name)
		if src == "" {
			continue
		}
		p := filepath.Join(t.Dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[src].data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// catFiles reads the blobs of es through one `git cat-file --batch`.
func catFiles(ctx context.Context, dir string, es []*entry) error {
	if len(es) == 0 {
		return nil
	}
	var in bytes.Buffer
	for _, e := range es {
		in.WriteString(e.oid + "\n")
	}
	cmd := gitCmd(ctx, dir, "cat-file", "--batch")
	cmd.Stdin = &in
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	r := bufio.NewReader(out)
	readErr := func() error {
		for _, e := range es {
			head, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("cat-file: %w", err)
			}
			f := strings.Fields(head)
			if len(f) != 3 || f[0] != e.oid || f[1] != "blob" || f[2] != strconv.FormatInt(e.size, 10) {
				return fmt.Errorf("cat-file: unexpected %q for %s", strings.TrimSpace(head), e.oid)
			}
			data := make([]byte, e.size+1)
			if _, err := io.ReadFull(r, data); err != nil {
				return fmt.Errorf("cat-file: %w", err)
			}
			if e.mode == "120000" {
				e.target = string(data[:e.size])
			} else {
				e.data = data[:e.size]
			}
		}
		return nil
	}()
	if readErr != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return readErr
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git cat-file: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// gitCmd is git run in dir with the settings that keep a read from
// running anything of the repository's: no hooks, no fsmonitor, no
// optional locks, no prompt, no pager.
func gitCmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	args = append([]string{"-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "--no-pager"}, args...)
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0", "GIT_TERMINAL_PROMPT=0")
	return cmd
}

// git runs a git command and returns its standard output; the error
// carries its standard error.
func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := gitCmd(ctx, dir, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && stderr.Len() > 0 {
			return nil, fmt.Errorf("git %s: %s", args[0], strings.TrimSpace(stderr.String()))
		}
		return nil, fmt.Errorf("git %s: %w", args[0], err)
	}
	return out, nil
}
