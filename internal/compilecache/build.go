package compilecache

import (
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/lvsgen/lvsgen/internal/version"
)

// BuildID names the running build of lvsgen for the cache key: its
// version line and the Go build ID the linker writes into the
// executable's .note.go.buildid section, a hash of everything the
// binary was built from. The version alone would not do: every build of
// a work tree without VCS information is "(devel) unknown", and one with
// uncommitted changes names only the commit. Without a build ID (a
// build with -ldflags=-buildid=, or a system without ELF) it is the
// SHA-256 of the executable's bytes, which costs a read of the binary.
// Computed once per process.
func BuildID() (string, error) {
	buildOnce.Do(func() { buildID, buildErr = readBuildID() })
	return buildID, buildErr
}

var (
	buildOnce sync.Once
	buildID   string
	buildErr  error
)

func readBuildID() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the executable: %w", err)
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("opening the executable: %w", err)
	}
	defer f.Close()
	v := version.Get().String()
	if id, err := goBuildID(f); err == nil && id != "" {
		return v + " buildid " + id, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing the executable: %w", err)
	}
	return fmt.Sprintf("%s sha256 %x", v, h.Sum(nil)), nil
}

// goBuildID reads the Go build ID note of an ELF executable: a note named
// "Go\x00\x00" of type 4 (cmd/internal/buildid).
func goBuildID(r io.ReaderAt) (string, error) {
	ef, err := elf.NewFile(r)
	if err != nil {
		return "", err
	}
	s := ef.Section(".note.go.buildid")
	if s == nil {
		return "", errors.New("no .note.go.buildid section")
	}
	b, err := s.Data()
	if err != nil {
		return "", err
	}
	if len(b) < 16 {
		return "", errors.New("short build ID note")
	}
	bo := ef.ByteOrder
	namesz, descsz, typ := bo.Uint32(b), bo.Uint32(b[4:]), bo.Uint32(b[8:])
	if namesz != 4 || typ != 4 || string(b[12:16]) != "Go\x00\x00" || uint64(descsz) > uint64(len(b)-16) {
		return "", errors.New("not a Go build ID note")
	}
	return string(b[16 : 16+descsz]), nil
}
