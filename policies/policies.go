// Package policies holds the bundled policy packs: organisation rules
// written in CUE that constrain the compiled, normalised model of a config
// (docs/POLICIES.md describes what a rule sees). A config enables packs by
// name in its `policies` list; users add their own directories the same
// way or with --policy DIR.
//
// A pack is a directory of .cue files of one package that add rules:
//
//	rules: "RULE-ID": {
//		severity: "deny" | "warn"
//		message:  "what the rule requires"
//		violations: [for s in model.services if ... {service: s.name, path: "reals", detail: "..."}]
//	}
//
// The compiler provides `model` (the config) and `settings` (its
// policySettings) to every pack.
package policies

import (
	"embed"
	"io/fs"
	"slices"
)

//go:embed */*.cue
var packs embed.FS

// Bundled returns the files of the bundled pack name, and false when no
// such pack exists.
func Bundled(name string) (fs.FS, bool) {
	sub, err := fs.Sub(packs, name)
	if err != nil {
		return nil, false
	}
	if entries, err := fs.ReadDir(sub, "."); err != nil || len(entries) == 0 {
		return nil, false
	}
	return sub, true
}

// Names lists the bundled packs.
func Names() []string {
	entries, _ := fs.ReadDir(packs, ".")
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}
