package compiler

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/lvsgen/lvsgen/compiler/internal/plaindata"
	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/schema"
)

// schemaPrefix marks positions inside the embedded schema, so that they can
// be told apart from the user's files.
const schemaPrefix = "<lvsgen-schema>/"

// source is a parsed file with its original bytes.
type source struct {
	name string
	// file is the file as parsed; rest is it without its top-level
	// services fields.
	file, rest *ast.File
	// tree is the file as plain data, when it is (plaindata). The file's
	// syntax is not kept then (file is nil): it is most of a large
	// config's memory, and the tree holds what the services need. full
	// parses data again should the config be evaluated by CUE as a whole.
	tree *plaindata.Node
	data []byte
	// sum is the SHA-256 of data, when the compile has a memo; memo is
	// what the memo holds of a file of these bytes, when it is not read
	// (file, tree and the services of rest are nil then).
	sum  [sha256.Size]byte
	memo *FileServices
}

// full returns the file as parsed.
func (s source) full() (*ast.File, error) {
	if s.file != nil {
		return s.file, nil
	}
	f, err := parser.ParseFile(s.name, s.data)
	if err != nil {
		return nil, fmt.Errorf("parsing %s again: %w", s.name, err)
	}
	return f, nil
}

// parseFiles parses every file, reporting each syntax error as a
// diagnostic. Files that parse are returned even when others do not. A
// file whose bytes are those cache holds for it is not parsed again.
//
// With a memo, each source has the SHA-256 of its bytes (taken from sums,
// the sums of what read returns, when it holds the file's); with useFiles
// too, a file the memo knows by them (ServiceMemo.File) is not read: its
// source holds what the memo says of it, and rest is its package clause
// alone.
func parseFiles(names []string, read func(string) ([]byte, error), sums map[string][sha256.Size]byte, cache *fileCache, memo ServiceMemo, useFiles bool) ([]source, diag.List) {
	// Files parse independently: on all cores.
	out := make([]parsed, len(names))
	parallel(len(names), func(_, i int) {
		name := names[i]
		b, err := read(name)
		if err != nil {
			out[i].diags = diag.List{{Rule: "syntax", Pos: diag.Pos{File: name}, Message: err.Error()}}
			return
		}
		var sum [sha256.Size]byte
		if memo != nil {
			var ok bool
			if sum, ok = sums[name]; !ok {
				sum = sha256.Sum256(b)
			}
		}
		if memo != nil && useFiles {
			if fs := memo.File(sum); fs != nil {
				rest := &ast.File{Filename: name}
				if fs.Package != "" {
					rest.Decls = []ast.Decl{&ast.Package{Name: ast.NewIdent(fs.Package)}}
				}
				out[i] = parsed{src: source{name: name, rest: rest, data: b, sum: sum, memo: fs}, ok: true}
				return
			}
		}
		if p, ok := cache.get(name, b); ok {
			out[i] = p
		} else {
			out[i] = parseFile(name, b)
			cache.put(name, b, out[i])
		}
		out[i].src.sum = sum
	})
	cache.keep(names)
	var srcs []source
	var diags diag.List
	for _, p := range out {
		diags = append(diags, p.diags...)
		if p.ok {
			srcs = append(srcs, p.src)
		}
	}
	return srcs, diags
}

// fileCache keeps each file's parse by its bytes. A source's file and
// tree are not changed once parsed (plaindata.Merge copies what it merges
// into), so a parse can be handed out again.
type fileCache struct {
	mu sync.Mutex
	m  map[string]cachedFile
}

type cachedFile struct {
	data []byte
	p    parsed
}

func (c *fileCache) get(name string, b []byte) (parsed, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.m[name]
	if !ok || !bytes.Equal(f.data, b) {
		return parsed{}, false
	}
	return f.p, true
}

func (c *fileCache) put(name string, b []byte, p parsed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedFile{}
	}
	c.m[name] = cachedFile{data: b, p: p}
}

// keep forgets files other than names.
func (c *fileCache) keep(names []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	for name := range c.m {
		if !want[name] {
			delete(c.m, name)
		}
	}
}

// parsed is one file's outcome: its source, or its syntax errors.
type parsed struct {
	src   source
	diags diag.List
	ok    bool
}

func parseFile(name string, b []byte) (p parsed) {
	// A file of services written as plain data, as the files of a large
	// config are, is read without CUE's parser; anything else, and any
	// syntax error, is CUE's to read and report.
	if t, rest, ok := plaindata.ParseServices(name, b); ok {
		if excluded, err := excludedByTag(rest); err == nil && !excluded {
			p.src, p.ok = source{name: name, rest: rest, tree: t, data: b}, true
			return p
		}
	}
	if l, col := tooDeep(b); l > 0 {
		p.diags = diag.List{deepDiag(name, l, col)}
		return p
	}
	f, err := parser.ParseFile(name, b)
	if err != nil {
		for _, e := range errors.Errors(err) {
			p.diags = append(p.diags, diag.Diagnostic{
				Rule:    "syntax",
				Pos:     toPos(e.Position()),
				Message: cleanMessage(e),
				Hint:    "fix the CUE syntax; `cue fmt` points at the same place",
			})
		}
		return p
	}
	if excluded, err := excludedByTag(f); err != nil {
		p.diags = diag.List{{Rule: "syntax", Pos: toPos(err.pos), Message: err.msg, Hint: "lvsgen reads a file with @if(EXPR) when EXPR holds with the one tag lvsgen set, as `cue -t lvsgen` would: write @if(!lvsgen) for a file for CUE's tools alone"}}
		return p
	} else if excluded {
		// A file for CUE's tools alone (the schema module's link,
		// docs/CONFIG.md): not configuration.
		return p
	}
	p.src, p.ok = source{name: name, file: f, rest: plaindata.Without(f, "services"), data: b}, true
	// Read as plain data here, on the parsing core.
	if t, ok := plaindata.Read([]*ast.File{f}); ok {
		p.src.tree, p.src.file = t, nil
	}
	return p
}

// lvsgenTag is the one build tag set when lvsgen reads a config: a file
// with @if(!lvsgen) is for CUE's tools alone (cue vet, cue lsp), such as
// the file that applies the schema module to a config package.
const lvsgenTag = "lvsgen"

// tagError is a build attribute lvsgen cannot evaluate.
type tagError struct {
	pos token.Pos
	msg string
}

// excludedByTag says whether f's build attribute (@if(EXPR) before the
// package clause) leaves it out of the config: EXPR is false when the
// only tag set is lvsgenTag, as CUE's loader decides with -t lvsgen.
func excludedByTag(f *ast.File) (bool, *tagError) {
	for _, d := range f.Decls {
		a, ok := d.(*ast.Attribute)
		if !ok {
			if _, pkg := d.(*ast.Package); pkg {
				break
			}
			continue
		}
		key, body := a.Split()
		if key != "if" {
			continue
		}
		expr, err := parser.ParseExpr("@if", body)
		if err != nil {
			return false, &tagError{a.Pos(), fmt.Sprintf("build attribute %s: %v", a.Text, err)}
		}
		holds, ok := evalTag(expr)
		if !ok {
			return false, &tagError{a.Pos(), fmt.Sprintf("build attribute %s: want tags combined with !, && and ||", a.Text)}
		}
		return !holds, nil
	}
	return false, nil
}

// evalTag evaluates a build attribute's expression with lvsgenTag set and
// no other tag; ok is false for an expression a build attribute may not
// hold.
func evalTag(e ast.Expr) (holds, ok bool) {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == lvsgenTag, true
	case *ast.ParenExpr:
		return evalTag(e.X)
	case *ast.UnaryExpr:
		if e.Op != token.NOT {
			return false, false
		}
		v, ok := evalTag(e.X)
		return !v, ok
	case *ast.BinaryExpr:
		x, okx := evalTag(e.X)
		y, oky := evalTag(e.Y)
		switch e.Op {
		case token.LAND:
			return x && y, okx && oky
		case token.LOR:
			return x || y, okx && oky
		}
	}
	return false, false
}

// buildInstance unifies files into one CUE value, as one package: files may
// refer to each other's fields.
func buildInstance(ctx *cue.Context, dir string, srcs []source) (cue.Value, diag.List) {
	inst := build.NewContext().NewInstance(dir, nil)
	var diags diag.List
	for _, s := range srcs {
		if err := inst.AddSyntax(s.file); err != nil {
			for _, e := range errors.Errors(err) {
				diags = append(diags, diag.Diagnostic{
					Rule:    "syntax",
					Pos:     toPos(e.Position()),
					Message: cleanMessage(e),
					Hint:    "every file of a config directory must have the same package clause (or none)",
				})
			}
		}
	}
	if len(diags) > 0 {
		return cue.Value{}, diags
	}
	v := ctx.BuildInstance(inst)
	return v, nil
}

// loadSchema compiles the embedded schema into ctx.
func loadSchema(ctx *cue.Context) (cue.Value, error) {
	entries, err := fs.ReadDir(schema.Files, ".")
	if err != nil {
		return cue.Value{}, fmt.Errorf("reading embedded schema: %w", err)
	}
	var srcs []source
	for _, e := range entries {
		b, err := fs.ReadFile(schema.Files, e.Name())
		if err != nil {
			return cue.Value{}, fmt.Errorf("reading embedded schema: %w", err)
		}
		f, err := parser.ParseFile(schemaPrefix+e.Name(), b)
		if err != nil {
			return cue.Value{}, fmt.Errorf("parsing embedded schema: %w", err)
		}
		srcs = append(srcs, source{name: e.Name(), file: f})
	}
	v, diags := buildInstance(ctx, "schema", srcs)
	if len(diags) > 0 {
		return cue.Value{}, fmt.Errorf("building embedded schema: %s", diags[0])
	}
	// v.Err() is not checked: definitions evaluated without data report
	// incomplete values that are no fault of the schema.
	return v, nil
}

// toPos converts a CUE position.
func toPos(p token.Pos) diag.Pos {
	if !p.IsValid() {
		return diag.Pos{}
	}
	return diag.Pos{File: p.Filename(), Line: p.Line(), Column: p.Column()}
}

// isUserPos reports whether p lies in a user's file (not the schema).
func isUserPos(p token.Pos) bool {
	return p.IsValid() && p.Filename() != "" && !strings.HasPrefix(p.Filename(), schemaPrefix)
}

// cleanMessage returns a CUE error's message without its path prefix, which
// the diagnostic carries separately.
func cleanMessage(e errors.Error) string {
	format, args := e.Msg()
	return fmt.Sprintf(format, args...)
}
