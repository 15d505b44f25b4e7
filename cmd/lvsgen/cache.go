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
	c := openCache(stderr, noCache)
	if c == nil {
		return compiler.CompileWith(dir, opts)
	}
	res, _, err := c.Compile(dir, opts)
	return res, err
}

// compileHostCached is compileCached for plan and apply of one host,
// which read the host's own entry of the cache (compilecache.CompileHost).
func compileHostCached(stderr io.Writer, dir, host string, opts compiler.Options, noCache bool) (*compilecache.HostResult, error) {
	if c := openCache(stderr, noCache); c != nil {
		res, _, err := c.CompileHost(dir, opts, host)
		return res, err
	}
	res, err := compiler.CompileWith(dir, opts)
	if err != nil {
		return nil, err
	}
	return compilecache.HostOf(res, host), nil
}

// openCache opens the compile cache, or returns nil when it is not to
// be used (noCache, LVSGEN_CACHE=off) or cannot be (a warning on
// stderr): the cache only saves time.
func openCache(stderr io.Writer, noCache bool) *compilecache.Cache {
	if noCache || compilecache.Disabled() {
		return nil
	}
	cdir, err := compilecache.Dir()
	if err != nil {
		fmt.Fprintf(stderr, "lvsgen: warning: no compile cache (%v); compiling\n", err)
		return nil
	}
	c, err := compilecache.Open(cdir)
	if err != nil {
		fmt.Fprintf(stderr, "lvsgen: warning: not using the compile cache: %v; compiling\n", err)
		return nil
	}
	return c
}
