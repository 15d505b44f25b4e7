package main

import (
	"fmt"
	"io"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/internal/compilecache"
)

// noCacheUsage is the help of --no-cache, on every command that reads
// the compile cache.
const noCacheUsage = "compile the config even when the compile cache holds it (also LVSGEN_CACHE=off)"

// compileCached compiles dir with opts through the compile cache
// (internal/compilecache, docs/OPERATIONS.md) unless noCache or
// LVSGEN_CACHE=off. A cache that cannot be used — no place for it, a
// directory others can write — is a warning on stderr, and the compile
// goes on without it: the cache only saves time.
func compileCached(stderr io.Writer, dir string, opts compiler.Options, noCache bool) (*compiler.Result, error) {
	if noCache || compilecache.Disabled() {
		return compiler.CompileWith(dir, opts)
	}
	cdir, err := compilecache.Dir()
	if err != nil {
		fmt.Fprintf(stderr, "lvsgen: warning: no compile cache (%v); compiling\n", err)
		return compiler.CompileWith(dir, opts)
	}
	c, err := compilecache.Open(cdir)
	if err != nil {
		fmt.Fprintf(stderr, "lvsgen: warning: not using the compile cache: %v; compiling\n", err)
		return compiler.CompileWith(dir, opts)
	}
	res, _, err := c.Compile(dir, opts)
	return res, err
}
