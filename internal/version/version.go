// Package version says which build of lvsgen is running: the module
// version, the commit it was built from and whether the work tree had
// changes, and the Go version — read from the binary's build information
// (runtime/debug.ReadBuildInfo), which `go build` and `go install` fill
// in from the module and from git.
//
// A packager that builds outside a git checkout (from a release tarball)
// sets them at link time instead:
//
//	go build -ldflags "-X github.com/lvsgen/lvsgen/internal/version.version=v0.3.0 \
//	  -X github.com/lvsgen/lvsgen/internal/version.commit=0123abcd" ./cmd/lvsgen
//
// A value set at link time wins over the build information.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time (-ldflags -X); empty means "from the build information".
var (
	version string
	commit  string
)

// Info is what a build says of itself.
type Info struct {
	// Version is the module version ("v0.3.0"), or "(devel)" for a build
	// of a work tree, as the go command reports it.
	Version string `json:"version"`
	// Commit is the VCS revision, "unknown" when neither git nor the
	// linker gave one.
	Commit string `json:"commit"`
	// Dirty is set when the work tree had uncommitted changes.
	Dirty bool `json:"dirty"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"goVersion"`
}

// Get returns the running binary's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return from(bi, version, commit)
}

// from builds an Info from build information (which may be nil) and the
// link-time overrides.
func from(bi *debug.BuildInfo, linkVersion, linkCommit string) Info {
	info := Info{Version: "(devel)", Commit: "unknown", GoVersion: runtime.Version()}
	if bi != nil {
		if bi.Main.Version != "" {
			info.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.modified":
				info.Dirty = s.Value == "true"
			}
		}
	}
	if linkVersion != "" {
		info.Version = linkVersion
	}
	if linkCommit != "" {
		info.Commit = linkCommit
		// A commit given at link time comes from a clean release
		// build; the build information's flag is about another tree.
		info.Dirty = false
	}
	return info
}

// String is the one line `lvsgen --version` prints:
// "lvsgen v0.3.0 (commit 0123abcd, go1.26.8)", with ", dirty" after the
// commit for a work tree with changes.
func (i Info) String() string {
	c := i.Commit
	if i.Dirty {
		c += ", dirty"
	}
	return fmt.Sprintf("lvsgen %s (commit %s, %s)", i.Version, c, i.GoVersion)
}
