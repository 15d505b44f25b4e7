package compiler

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/internal/safefile"
	"github.com/lvsgen/lvsgen/model"
	"github.com/lvsgen/lvsgen/policies"
)

// Rule is one policy rule in force.
type Rule struct {
	ID       string `json:"id"`
	Severity string `json:"severity"` // deny or warn
	Message  string `json:"message"`
	// Source is where the rule came from: "bundled pack ha" or a
	// directory.
	Source string `json:"source"`
	// File and Line locate the rule's definition.
	File string `json:"file"`
	Line int    `json:"line"`
}

// pack is a policy pack to evaluate.
type pack struct {
	source string // for people
	srcs   []source
	// ref is the entry of the config's policies list (or the --policy
	// flag) that enabled the pack, for error positions.
	ref string
}

// policyRefs reads the `policies` entries of the config files straight
// from their syntax: a policy directory inside the config directory must
// be known before the config is built, so that its files are not read as
// configuration.
func policyRefs(srcs []source) []string {
	var refs []string
	for _, s := range srcs {
		for _, d := range s.rest.Decls {
			f, ok := d.(*ast.Field)
			if !ok {
				continue
			}
			if name, _, _ := ast.LabelName(f.Label); name != "policies" {
				continue
			}
			list, ok := f.Value.(*ast.ListLit)
			if !ok {
				continue
			}
			for _, e := range list.Elts {
				if lit, ok := e.(*ast.BasicLit); ok {
					if v, err := literalString(lit); err == nil {
						refs = append(refs, v)
					}
				}
			}
		}
	}
	return refs
}

func literalString(lit *ast.BasicLit) (string, error) {
	var s string
	err := json.Unmarshal([]byte(lit.Value), &s)
	return s, err
}

// bundledPrefix starts the file names of the bundled packs, which are
// embedded in the binary.
const bundledPrefix = "<lvsgen-policy>/"

// insideDir reports whether ref, a policy directory the config names,
// is inside the config directory dir — lexically (no "..", not absolute)
// and once symlinks are resolved — so that it is part of what is
// committed, confined and watched with the config.
func insideDir(dir, ref string) bool {
	if !filepath.IsLocal(ref) {
		return false
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	target, err := filepath.EvalSymlinks(filepath.Join(dir, ref))
	if err != nil {
		// A missing directory is reported when it is read.
		return true
	}
	rel, err := filepath.Rel(root, target)
	return err == nil && filepath.IsLocal(rel)
}

// readPolicy reads a policy file on disk: untrusted input, like the
// config, so bounded and regular only (a FIFO must not hang the compile),
// unless Options.ReadFile reads for the compile.
func (c *compilation) readPolicy(name string) ([]byte, error) {
	if c.cc != nil && c.cc.opts.ReadFile != nil {
		return c.cc.opts.ReadFile(name)
	}
	return safefile.ReadFile(name, safefile.MaxConfigFile)
}

// isPolicyDir reports whether ref names a directory rather than a bundled
// pack.
func isPolicyDir(ref string) bool {
	return strings.ContainsAny(ref, `/\`) || strings.HasPrefix(ref, ".")
}

// loadPacks reads the packs the config and the caller enable. A missing
// pack or unreadable directory is a diagnostic at the config's policies
// entry.
func (c *compilation) loadPacks(dir string, refs []string, extraDirs []string) []pack {
	var packs []pack
	seen := map[string]bool{}
	add := func(ref, path string, fsys fs.FS, from string) {
		if seen[from] {
			return
		}
		seen[from] = true
		entries, err := fs.ReadDir(fsys, ".")
		if err != nil {
			c.errorf("policy", cue.MakePath(cue.Str("policies")), "", "point policies at a directory of .cue policy files, relative to the config directory", "reading policy %q: %v", ref, err)
			return
		}
		p := pack{source: from, ref: ref}
		if !strings.HasPrefix(path, bundledPrefix) {
			c.policyDirs = append(c.policyDirs, path)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".cue") {
				continue
			}
			var b []byte
			var err error
			if strings.HasPrefix(path, bundledPrefix) {
				b, err = fs.ReadFile(fsys, e.Name())
			} else {
				// A directory on disk: untrusted input, like the
				// config (a FIFO must not hang the compile).
				b, err = c.readPolicy(filepath.Join(path, e.Name()))
			}
			if err != nil {
				c.errorf("policy", cue.MakePath(cue.Str("policies")), "", "", "reading policy %q: %v", ref, err)
				return
			}
			name := filepath.Join(path, e.Name())
			if l, col := tooDeep(b); l > 0 {
				c.diags = append(c.diags, deepDiag(name, l, col))
				return
			}
			f, err := parser.ParseFile(name, b, parser.ParseComments)
			if err != nil {
				c.diags = append(c.diags, diag.Diagnostic{Rule: "policy", Pos: diag.Pos{File: name}, Message: "parsing policy: " + err.Error(), Hint: "fix the CUE syntax of the policy file"})
				return
			}
			p.srcs = append(p.srcs, source{name: name, file: f})
		}
		if len(p.srcs) == 0 {
			c.errorf("policy", cue.MakePath(cue.Str("policies")), "", "a policy directory holds .cue files", "policy %q has no .cue files", ref)
			return
		}
		packs = append(packs, p)
	}
	for _, ref := range refs {
		if isPolicyDir(ref) {
			path := filepath.Join(dir, ref)
			if !insideDir(dir, ref) {
				c.errorf("policy", cue.MakePath(cue.Str("policies")), "", "put the policy directory inside the config directory, or name it with --policy DIR (which lvsgen watch watches too)",
					"policy directory %q is outside the config directory: lvsgen would neither confine it nor see it change", ref)
				continue
			}
			add(ref, path, os.DirFS(path), path)
			continue
		}
		fsys, ok := policies.Bundled(ref)
		if !ok {
			c.errorf("policy", cue.MakePath(cue.Str("policies")), "", "bundled packs: "+strings.Join(policies.Names(), ", ")+"; a directory starts with ./", "no bundled policy pack %q", ref)
			continue
		}
		add(ref, bundledPrefix+ref, fsys, "bundled pack "+ref)
	}
	for _, d := range extraDirs {
		add(d, d, os.DirFS(d), d)
	}
	return packs
}

// prelude declares what every pack may refer to, in the pack's package.
const prelude = `
model:    _
settings: _
rules: [string]: {
	severity: "deny" | "warn"
	message:  string
	violations: [...{
		service?: string
		cluster?: string
		host?:    string
		path:     *"" | string
		detail?:  string
	}]
}
`

type rawViolation struct {
	Service string `json:"service"`
	Cluster string `json:"cluster"`
	Host    string `json:"host"`
	Path    string `json:"path"`
	Detail  string `json:"detail"`
}

// checkPolicies evaluates every pack against the model and reports each
// violation at the user's offending value. Waived violations are reported
// as info with their recorded reason.
func (c *compilation) checkPolicies(cfg *model.Config, packs []pack) []Rule {
	// The model as a CUE value only when a pack needs it: for a large
	// config it is the most expensive value of the compile.
	// (Without packs, the config's CUE value is not read: a compile
	// whose world came from the memo has none.)
	var modelVal, settings cue.Value
	if len(packs) > 0 {
		modelJSON, err := json.Marshal(cfg)
		if err != nil {
			c.errorf("internal", cue.Path{}, "", "", "encoding the model for policies: %v", err)
			return nil
		}
		modelVal = c.ctx.CompileBytes(modelJSON)
		settings = c.user.LookupPath(cue.ParsePath("policySettings"))
	}
	var rules []Rule
	waivable := map[string]bool{}
	for _, p := range packs {
		pkg := p.srcs[0].file.PackageName()
		pre, err := parser.ParseFile(p.source+"/<prelude>", "package "+pkg+"\n"+prelude)
		if err != nil {
			c.errorf("internal", cue.Path{}, "", "", "policy prelude: %v", err)
			continue
		}
		srcs := append([]source{{name: "<prelude>", file: pre}}, p.srcs...)
		v, diags := buildInstance(c.ctx, p.source, srcs)
		if len(diags) > 0 {
			c.diags = append(c.diags, diags...)
			continue
		}
		// Rule ids come from the pack before the model is filled in: a
		// rule that fails on this model must be reported, and the field
		// iterator skips fields in error.
		var ids []string
		if it, err := v.LookupPath(cue.ParsePath("rules")).Fields(); err == nil {
			for it.Next() {
				ids = append(ids, it.Selector().Unquoted())
			}
		}
		v = v.FillPath(cue.ParsePath("model"), modelVal)
		if settings.Exists() {
			v = v.FillPath(cue.ParsePath("settings"), settings)
		} else {
			v = v.FillPath(cue.ParsePath("settings"), c.ctx.CompileString("{}"))
		}
		for _, id := range ids {
			rv := v.LookupPath(cue.MakePath(cue.Str("rules"), cue.Str(id)))
			var r struct {
				Severity   string         `json:"severity"`
				Message    string         `json:"message"`
				Violations []rawViolation `json:"violations"`
			}
			pos := packPos(rv)
			rule := Rule{ID: id, Source: p.source, File: pos.Filename(), Line: pos.Line()}
			if err := rv.Decode(&r); err != nil {
				c.diags = append(c.diags, diag.Diagnostic{Rule: id, Pos: toPos(pos), Message: fmt.Sprintf("policy rule %s (%s) could not be evaluated: %v", id, p.source, err), Hint: "a bug in the policy: test it against this config"})
				rules = append(rules, rule)
				continue
			}
			rule.Severity, rule.Message = r.Severity, r.Message
			rules = append(rules, rule)
			waivable[id] = true
			for _, vi := range r.Violations {
				c.policyViolation(cfg, rule, vi)
			}
		}
	}
	c.checkWaivers(cfg, waivable)
	return rules
}

// packPos is where a rule is defined in its pack, not in the prelude.
func packPos(v cue.Value) token.Pos {
	if p := v.Pos(); p.IsValid() && !strings.HasSuffix(p.Filename(), "<prelude>") {
		return p
	}
	_, args := v.Expr()
	for _, a := range args {
		if p := a.Pos(); p.IsValid() && !strings.HasSuffix(p.Filename(), "<prelude>") {
			return p
		}
	}
	return v.Pos()
}

func (c *compilation) policyViolation(cfg *model.Config, rule Rule, vi rawViolation) {
	sev := diag.Error
	if rule.Severity == "warn" {
		sev = diag.Warning
	}
	var base cue.Path
	var who string
	var waive map[string]string
	switch {
	case vi.Service != "":
		base, who = cue.MakePath(cue.Str("services"), cue.Str(vi.Service)), "service "+vi.Service
		if i := slices.IndexFunc(cfg.Services, func(s *model.Service) bool { return s.Name == vi.Service }); i >= 0 {
			waive = cfg.Services[i].Waive
		}
	case vi.Cluster != "":
		base, who = cue.MakePath(cue.Str("clusters"), cue.Str(vi.Cluster)), "cluster "+vi.Cluster
		if cl := cfg.Clusters[vi.Cluster]; cl != nil {
			waive = cl.Waive
		}
	case vi.Host != "":
		base, who = cue.MakePath(cue.Str("hosts"), cue.Str(vi.Host)), "host "+vi.Host
	default:
		who = "config"
	}
	msg := fmt.Sprintf("policy %s: %s: %s", rule.ID, who, rule.Message)
	if vi.Detail != "" {
		msg += " (" + vi.Detail + ")"
	}
	hint := fmt.Sprintf("from %s; fix it, or waive it with waive: {%q: \"why\"} on the %s", rule.Source, rule.ID, strings.SplitN(who, " ", 2)[0])
	if reason, ok := waive[rule.ID]; ok {
		c.addIssue(diag.Info, rule.ID, base, vi.Path, msg+" — waived: "+reason, "waived in the config")
		return
	}
	c.addIssue(sev, rule.ID, base, vi.Path, msg, hint)
}

// checkWaivers warns about a waiver that names no rule in force: a typo
// would otherwise waive nothing, silently.
func (c *compilation) checkWaivers(cfg *model.Config, known map[string]bool) {
	for _, s := range cfg.Services {
		for _, id := range sortedKeys(s.Waive) {
			if !known[id] {
				c.addIssue(diag.Warning, "waive", cue.MakePath(cue.Str("services"), cue.Str(s.Name), cue.Str("waive")), "", fmt.Sprintf("waiver for %q names no policy rule in force", id), "check the rule id with `lvsgen policy list`")
			}
		}
	}
	for _, name := range sortedKeys(cfg.Clusters) {
		for _, id := range sortedKeys(cfg.Clusters[name].Waive) {
			if !known[id] {
				c.addIssue(diag.Warning, "waive", cue.MakePath(cue.Str("clusters"), cue.Str(name), cue.Str("waive")), "", fmt.Sprintf("waiver for %q names no policy rule in force", id), "check the rule id with `lvsgen policy list`")
			}
		}
	}
}

// BundledRules lists the rules of every bundled pack, as `lvsgen policy
// list` shows them without a config: each pack is evaluated against an
// empty config with no settings. The diagnostics say which pack could not
// be read (a bug in lvsgen); what a pack finds wrong with the empty
// config (the ranges pack wants its settings) is left out.
func BundledRules() ([]Rule, diag.List) {
	ctx := cuecontext.New()
	c := &compilation{ctx: ctx, user: ctx.CompileString("{}")}
	packs := c.loadPacks("", policies.Names(), nil)
	empty := &model.Config{
		Hosts:          map[string]*model.Host{},
		Clusters:       map[string]*model.Cluster{},
		Services:       []*model.Service{},
		Policies:       []string{},
		PolicySettings: map[string]any{},
	}
	rules := c.checkPolicies(empty, packs)
	var errs diag.List
	for _, d := range c.diags {
		if d.Rule == "policy" || d.Rule == "internal" {
			errs = append(errs, d)
		}
	}
	return rules, errs
}
