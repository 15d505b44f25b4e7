// Package schema embeds the CUE definitions of an lvsgen configuration:
// its shape (config.cue) and the topology and kernel rules of LVS
// (rules.cue). The compiler evaluates user files against them; the files are
// also the reference users read next to docs/CONFIG.md. With cue.mod, the
// directory is a CUE module (ModulePath) that CUE's own tools check a
// config with.
package schema

import "embed"

// Files holds the schema's .cue files.
//
//go:embed *.cue
var Files embed.FS

// ModuleFile is the module's cue.mod/module.cue.
//
//go:embed cue.mod/module.cue
var ModuleFile []byte

// ModulePath is the CUE module path of the schema (cue.mod/module.cue),
// and ImportPath what a config package imports it as.
const (
	ModulePath = "github.com/lvsgen/lvsgen/schema@v0"
	ImportPath = "github.com/lvsgen/lvsgen/schema"
)
