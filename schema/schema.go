// Package schema embeds the CUE definitions of an lvsgen configuration:
// its shape (config.cue) and the topology and kernel rules of LVS
// (rules.cue). The compiler evaluates user files against them; the files are
// also the reference users read next to docs/CONFIG.md.
package schema

import "embed"

// Files holds the schema's .cue files.
//
//go:embed *.cue
var Files embed.FS
