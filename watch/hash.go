package watch

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/internal/safefile"
)

// HashDirs is the content hash of a config: SHA-256 over the sorted names
// (relative to their directory, prefixed by the directory's position in
// dirs) and contents of the config files (compiler.ConfigFiles) of each
// directory. Two checkouts of the same commit hash the same wherever they
// are.
func HashDirs(dirs ...string) (string, error) {
	h := sha256.New()
	var n [8]byte
	for i, dir := range dirs {
		files, err := hashedFiles(dir)
		if err != nil {
			return "", err
		}
		// Read as the compiler reads them: a file it would refuse
		// must not hang or exhaust watch either.
		read, done, err := compiler.ReadConfigFiles(dir)
		if err != nil {
			return "", err
		}
		for _, f := range files {
			b, err := read(filepath.Join(dir, filepath.FromSlash(f)))
			if err != nil {
				done()
				return "", fmt.Errorf("hashing config: %w", err)
			}
			name := fmt.Sprintf("%d/%s", i, f)
			binary.BigEndian.PutUint64(n[:], uint64(len(name)))
			h.Write(n[:])
			h.Write([]byte(name))
			binary.BigEndian.PutUint64(n[:], uint64(len(b)))
			h.Write(n[:])
			h.Write(b)
		}
		done()
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashedFiles lists the config files of dir as HashDirs names them:
// relative to dir, with slashes.
func hashedFiles(dir string) ([]string, error) {
	files, err := compiler.ConfigFiles(dir)
	if err != nil {
		return nil, err
	}
	for i, f := range files {
		rel, err := filepath.Rel(dir, f)
		if err != nil {
			return nil, fmt.Errorf("reading config directory: %w", err)
		}
		files[i] = filepath.ToSlash(rel)
	}
	return files, nil
}

// GitCommit returns the commit checked out in the git work tree that holds
// dir, or "" when dir is not in one. It reads .git itself (HEAD, loose
// refs, packed-refs, and the .git file of a linked worktree, as git-sync
// makes): no git binary is needed.
func GitCommit(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("reading git commit: %w", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		dotgit := filepath.Join(d, ".git")
		st, err := os.Stat(dotgit)
		if err == nil {
			gitDir := dotgit
			if !st.IsDir() {
				if gitDir, err = readGitFile(dotgit); err != nil {
					return "", err
				}
			}
			return headCommit(gitDir)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("reading git commit: %w", err)
		}
		if filepath.Dir(d) == d {
			return "", nil
		}
	}
}

// maxGitFile bounds the small git files read for the commit (HEAD, a
// ref, commondir, a .git file): they hold a line. packed-refs is read a
// line at a time.
const maxGitFile = 64 << 10

// readGitFile follows a .git file ("gitdir: PATH") to the git directory.
func readGitFile(path string) (string, error) {
	b, err := safefile.ReadFile(path, maxGitFile)
	if err != nil {
		return "", fmt.Errorf("reading git commit: %w", err)
	}
	line := strings.TrimSpace(string(b))
	dir, ok := strings.CutPrefix(line, "gitdir: ")
	if !ok {
		return "", fmt.Errorf("reading git commit: %s is not a gitdir link", path)
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(path), dir)
	}
	return dir, nil
}

// headCommit resolves HEAD in gitDir. A linked worktree's own directory
// holds HEAD; its refs live in the common directory named by commondir.
func headCommit(gitDir string) (string, error) {
	common := gitDir
	if b, err := safefile.ReadFile(filepath.Join(gitDir, "commondir"), maxGitFile); err == nil {
		c := strings.TrimSpace(string(b))
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitDir, c)
		}
		common = c
	}
	b, err := safefile.ReadFile(filepath.Join(gitDir, "HEAD"), maxGitFile)
	if err != nil {
		return "", fmt.Errorf("reading git commit: %w", err)
	}
	head := strings.TrimSpace(string(b))
	for range 5 { // symbolic refs may point at symbolic refs
		ref, ok := strings.CutPrefix(head, "ref: ")
		if !ok {
			if !isObjectID(head) {
				return "", fmt.Errorf("reading git commit: HEAD in %s holds %q", gitDir, head)
			}
			return head, nil
		}
		if head, err = readRef(gitDir, common, ref); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("reading git commit: symbolic refs nest too deep in %s", gitDir)
}

// readRef reads a ref as a loose file (per-worktree, then common) or from
// packed-refs.
func readRef(gitDir, common, ref string) (string, error) {
	for _, d := range []string{gitDir, common} {
		b, err := safefile.ReadFile(filepath.Join(d, filepath.FromSlash(ref)), maxGitFile)
		if err == nil {
			return strings.TrimSpace(string(b)), nil
		}
	}
	f, err := safefile.Open(filepath.Join(common, "packed-refs"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("reading git commit: ref %s not found in %s", ref, common)
		}
		return "", fmt.Errorf("reading git commit: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "^") {
			continue
		}
		if id, name, ok := strings.Cut(line, " "); ok && name == ref {
			return id, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading git commit: %w", err)
	}
	return "", fmt.Errorf("reading git commit: ref %s not found in %s", ref, common)
}

// isObjectID reports whether s is a SHA-1 or SHA-256 object name.
func isObjectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
