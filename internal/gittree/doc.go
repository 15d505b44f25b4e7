// Package gittree reads a directory of a git repository as it is at a
// revision, into a temporary directory that the compiler can read like
// any config directory: `lvsgen diff --base REV DIR`.
//
// It runs git itself, rather than a Go git library (go-git, a large
// dependency tree for three read-only commands): wherever a config
// repository is checked out — a CI runner, a reviewer's machine — git is
// installed, and it reads every repository format git writes (packs,
// alternates, partial clones, sha256), which a reimplementation may not.
// This is not kernel work, which lvsgen never shells out for: only the
// read-only plumbing commands rev-parse, ls-tree and cat-file run, with
// no shell, the revision checked not to be an option and resolved to an
// object id first, and hooks, fsmonitor and optional locks turned off.
//
// What a tree holds is untrusted, like any file lvsgen reads: only
// regular files are written, each at most safefile.MaxConfigFile and all
// together at most MaxTotal; a symbolic link is followed only to a file
// inside the directory read, never out of it; submodules are skipped.
package gittree
