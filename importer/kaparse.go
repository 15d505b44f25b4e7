package importer

// This file reads keepalived's configuration syntax (keepalived.conf(5),
// keepalived 2.2): lines of words, blocks in braces, comments from '#' or
// '!' to the end of the line, quoted strings, `include` with globs and
// brace expansion relative to the including file, conditional lines
// (@id, @^id), parameters ($NAME=VALUE, $NAME, ${NAME}, multi-line
// definitions ending lines with '\') and ~SEQ/~SEQx lines. It builds a tree
// of statements; keepalived.go and the ka*.go files beside it give them
// meaning.

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/lvsgen/lvsgen/internal/safefile"
)

// Files reads the configuration and the files it includes.
type Files interface {
	// ReadFile returns the contents of a file.
	ReadFile(name string) ([]byte, error)
	// Glob returns the files matching a filepath.Match pattern, sorted.
	Glob(pattern string) ([]string, error)
}

// OSFiles reads the local file system.
type OSFiles struct{}

// ReadFile reads a file: a regular file of at most maxWork bytes, opened
// without blocking, so that an include matching a FIFO or a device is an
// error rather than a hang or an endless read.
func (OSFiles) ReadFile(name string) ([]byte, error) { return safefile.ReadFile(name, maxWork) }

// RealPath resolves the symbolic links in an absolute path, as keepalived
// does for ${_PWD}; a path it cannot resolve stays as it is.
func (OSFiles) RealPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// Glob matches a pattern against the file system.
func (OSFiles) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// MapFiles is an in-memory file system for tests: file names to contents.
type MapFiles map[string]string

// ReadFile returns a file's contents or fs.ErrNotExist.
func (m MapFiles) ReadFile(name string) ([]byte, error) {
	s, ok := m[filepath.Clean(name)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return []byte(s), nil
}

// Glob matches pattern against the file names.
func (m MapFiles) Glob(pattern string) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	var out []string
	for name := range m {
		if ok, _ := filepath.Match(filepath.Clean(pattern), name); ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Limits that keep a hostile or looping configuration from running away.
const (
	maxIncludeDepth = 32
	// maxIncludeFiles bounds the files one include pattern may name.
	maxIncludeFiles  = 4096
	maxBlockDepth    = 64
	maxSubstitutions = 64
	maxLineLength    = 1 << 20
	maxLines         = 1 << 20
	maxSeqSteps      = 65536
	// maxWork bounds the bytes the reader handles, expansions included.
	maxWork = 64 << 20
)

// kaPos is a position in the configuration: the file as read (for
// errors), the file as comments name it (relative to the main file's
// directory) and the line.
type kaPos struct {
	file string
	disp string
	line int
}

// String renders the position for comments, e.g. "conf.d/web.conf:12".
func (p kaPos) String() string {
	f := p.disp
	if f == "" {
		f = p.file
	}
	return f + ":" + strconv.Itoa(p.line)
}

// kaStmt is a statement: a keyword with its arguments and, for a block,
// the statements inside its braces.
type kaStmt struct {
	pos      kaPos
	words    []string
	hasBlock bool
	block    []*kaStmt
}

func (s *kaStmt) keyword() string { return s.words[0] }

// text is the statement as written, for comments.
func (s *kaStmt) text() string {
	var b strings.Builder
	for i, w := range s.words {
		if i > 0 {
			b.WriteByte(' ')
		}
		if w == "" || strings.ContainsAny(w, " \t{}#!\"") {
			w = strconv.Quote(w)
		}
		b.WriteString(w)
	}
	return b.String()
}

type tokKind int

const (
	tokWord tokKind = iota
	tokOpen
	tokClose
	tokEOL
)

type kaTok struct {
	kind tokKind
	text string
	pos  kaPos
}

// kaReader turns files into tokens.
type kaReader struct {
	files    Files
	configID string
	defs     map[string][]string
	toks     []kaTok
	lines    int
	depth    int
	warnings []Note
	// conditionals counts the conditional lines read.
	conditionals int
	// work counts the bytes handled, against maxWork.
	work int
	// dir is the directory of the file being read, for ${_PWD}.
	dir string
	// base is the main file's directory, which comments name files
	// relative to.
	base string
}

func (r *kaReader) errf(pos kaPos, tok, format string, args ...any) *Error {
	return &Error{File: pos.file, Line: pos.line, Token: tok, Msg: fmt.Sprintf(format, args...)}
}

// readFile reads one file into r.toks.
func (r *kaReader) readFile(name string, from kaPos) error {
	if r.depth >= maxIncludeDepth {
		return r.errf(from, name, "include %q: includes nest more than %d deep (a loop?)", name, maxIncludeDepth)
	}
	data, err := r.files.ReadFile(name)
	if err != nil {
		if from.file == "" {
			return fmt.Errorf("read keepalived configuration: %w", err)
		}
		return &Error{File: from.file, Line: from.line, Token: name, Msg: fmt.Sprintf("include %q", name), Err: err}
	}
	r.depth++
	prevDir := r.dir
	// ${_PWD} is the file's directory as an absolute path, as keepalived
	// gives it, however the file was named and wherever the import runs.
	r.dir = r.realDir(filepath.Dir(name))
	defer func() { r.depth--; r.dir = prevDir }()

	// Comments name files relative to the main file's directory, compared
	// as real paths, so that they do not depend on how the files were
	// named either.
	disp := name
	if rel, err := filepath.Rel(r.base, filepath.Join(r.dir, filepath.Base(name))); err == nil && !strings.HasPrefix(rel, "..") {
		disp = rel
	}
	at := func(line int) kaPos { return kaPos{file: name, disp: disp, line: line} }
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	physical := strings.Split(text, "\n")
	var parts []string
	start := 0
	for i, raw := range physical {
		r.lines++
		if r.lines > maxLines {
			return r.errf(at(i+1), "", "more than %d lines (an include loop?)", maxLines)
		}
		if len(raw) > maxLineLength {
			return r.errf(at(i+1), "", "line longer than %d bytes", maxLineLength)
		}
		line, err := stripComment(raw)
		if err != nil {
			return r.errf(at(i+1), "", "%v", err)
		}
		if len(parts) == 0 {
			start = i + 1
		}
		trimmed := strings.TrimRight(line, " \t")
		if strings.HasSuffix(trimmed, `\`) && !strings.HasSuffix(trimmed, `\\`) {
			parts = append(parts, strings.TrimSuffix(trimmed, `\`))
			continue
		}
		parts = append(parts, line)
		if err := r.logical(at(start), parts, 0); err != nil {
			return err
		}
		parts = nil
	}
	if len(parts) > 0 {
		return r.logical(at(start), parts, 0)
	}
	return nil
}

// realDir is dir as an absolute path with its symbolic links resolved
// (where the Files can resolve them).
func (r *kaReader) realDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if rp, ok := r.files.(interface{ RealPath(string) string }); ok {
		dir = rp.RealPath(dir)
	}
	return dir
}

// stripComment removes a '#' or '!' comment that is outside quotes.
func stripComment(line string) (string, error) {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == '#' || c == '!':
			return line[:i], nil
		}
	}
	return line, nil
}

var (
	defPattern = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	seqPattern = regexp.MustCompile(`^~SEQ(x?)\(([^)]*)\)(.*)$`)
)

// logical handles one logical line: parts are its physical lines, joined
// by a trailing '\'.
func (r *kaReader) logical(pos kaPos, parts []string, depth int) error {
	if depth > maxSubstitutions {
		return r.errf(pos, "", "parameters expand into each other more than %d times (a loop?)", maxSubstitutions)
	}
	for _, p := range parts {
		r.work += len(p) + 1
	}
	if r.work > maxWork {
		return r.errf(pos, "", "the configuration expands to more than %d MiB (parameters or ~SEQ expanding into each other?)", maxWork>>20)
	}
	first := strings.TrimLeft(parts[0], " \t")
	if strings.TrimSpace(strings.Join(parts, "")) == "" {
		return nil
	}
	// Conditional configuration: @id or @^id before the line.
	if strings.HasPrefix(first, "@") {
		word, rest := first, ""
		if i := strings.IndexAny(first, " \t"); i >= 0 {
			word, rest = first[:i], first[i+1:]
		}
		r.conditionals++
		id, neg := strings.TrimPrefix(word, "@"), false
		if strings.HasPrefix(id, "^") {
			id, neg = id[1:], true
		}
		if id == "" {
			return r.errf(pos, word, "conditional %q without a configuration id", word)
		}
		if (id == r.configID) == neg {
			return nil
		}
		parts = append([]string{rest}, parts[1:]...)
		return r.logical(pos, parts, depth+1)
	}
	// A parameter definition.
	if m := defPattern.FindStringSubmatch(strings.TrimRight(first, " \t")); m != nil && strings.HasPrefix(first, "$") {
		var value []string
		if v := strings.TrimSpace(m[2]); v != "" || len(parts) == 1 {
			value = append(value, v)
		}
		for _, p := range parts[1:] {
			if p = strings.TrimSpace(p); p != "" {
				value = append(value, p)
			}
		}
		r.defs[m[1]] = value
		return nil
	}
	// ~SEQ(var, start, step, end) rest.
	if m := seqPattern.FindStringSubmatch(first); m != nil {
		return r.seq(pos, m[1] == "x", m[2], m[3], parts[1:], depth)
	}
	if strings.HasPrefix(first, "~SEQ") {
		return r.errf(pos, strings.Fields(first)[0], "malformed %q: want ~SEQ(var, start, step, end)", strings.Fields(first)[0])
	}

	text := strings.Join(parts, " ")
	sub, changed, err := r.substitute(pos, text)
	if err != nil {
		return err
	}
	if changed {
		// The replacement may be several lines, a definition or a
		// conditional line: read it again as lines.
		for _, l := range strings.Split(sub, "\n") {
			if err := r.logical(pos, []string{l}, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	// An include names a glob, which may hold braces: read it before
	// braces become tokens.
	if f := strings.Fields(text); len(f) > 0 && isInclude(f[0]) {
		if len(f) != 2 {
			return r.errf(pos, f[0], "%s takes one file name (a glob)", f[0])
		}
		pattern := f[1]
		if len(pattern) >= 2 && (pattern[0] == '"' || pattern[0] == '\'') && pattern[len(pattern)-1] == pattern[0] {
			pattern = pattern[1 : len(pattern)-1]
		}
		return r.include(pos, pattern)
	}
	words, err := tokenize(text)
	if err != nil {
		return r.errf(pos, "", "%v", err)
	}
	if len(words) == 0 {
		return nil
	}
	for _, w := range words {
		w.pos = pos
		r.toks = append(r.toks, w)
	}
	r.toks = append(r.toks, kaTok{kind: tokEOL, pos: pos})
	return nil
}

func isInclude(w string) bool {
	switch w {
	case "include", "includer", "includem", "includew", "includeb", "includea":
		return true
	}
	return false
}

// include reads the files a pattern names, relative to the including
// file's directory, in sorted order. A pattern that matches nothing is a
// warning, as keepalived's plain include does not mind it.
func (r *kaReader) include(pos kaPos, pattern string) error {
	var matches []string
	for _, p := range expandBraces(pattern) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(pos.file), p)
		}
		m, err := r.files.Glob(p)
		if err != nil {
			return r.errf(pos, pattern, "include %q: %v", pattern, err)
		}
		for _, f := range m {
			if !slices.Contains(matches, f) {
				matches = append(matches, f)
			}
		}
		if len(matches) > maxIncludeFiles {
			return r.errf(pos, pattern, "include %q: matches more than %d files", pattern, maxIncludeFiles)
		}
	}
	if len(matches) == 0 {
		r.warnings = append(r.warnings, Note{Where: pos.String(), What: fmt.Sprintf("include %q matches no file", pattern)})
	}
	for _, f := range matches {
		if err := r.readFile(f, pos); err != nil {
			return err
		}
	}
	return nil
}

// expandBraces expands csh-style braces, as glob(3) with GLOB_BRACE does:
// "a{b,c{d,e}}f" is abf, acdf and acef.
func expandBraces(s string) []string {
	depth, open := 0, -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			if depth == 0 {
				open = i
			}
			depth++
		case '}':
			if depth == 0 {
				continue
			}
			depth--
			if depth > 0 {
				continue
			}
			var out []string
			for _, alt := range splitTop(s[open+1 : i]) {
				out = append(out, expandBraces(s[:open]+alt+s[i+1:])...)
				if len(out) > 4096 {
					return out
				}
			}
			return out
		}
	}
	return []string{s}
}

// splitTop splits s at commas outside braces.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

var paramRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:\s+([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)(?:[ \t]|$)`)

// substitute replaces defined parameters in text, again and again until
// nothing changes. An undefined parameter stays as it is.
func (r *kaReader) substitute(pos kaPos, text string) (string, bool, error) {
	changed := false
	for round := 0; ; round++ {
		if round > maxSubstitutions {
			return "", false, r.errf(pos, "", "parameters expand into each other more than %d times (a loop?)", maxSubstitutions)
		}
		var err error
		did := false
		out := paramRef.ReplaceAllStringFunc(text, func(m string) string {
			sm := paramRef.FindStringSubmatch(m)
			name, trail := sm[1], ""
			if name == "" {
				name = sm[3]
				trail = m[len("$"+name):]
			} else if sm[2] != "" && name != "_RANDOM" {
				return m
			}
			v, ok := r.param(name)
			if name == "_RANDOM" {
				err = r.errf(pos, m, "%s picks a random number each time keepalived starts; the import cannot know it", strings.TrimSpace(m))
				return m
			}
			if !ok {
				return m
			}
			did = true
			return v + trail
		})
		if err != nil {
			return "", false, err
		}
		if !did {
			return text, changed, nil
		}
		if len(out) > maxLineLength {
			return "", false, r.errf(pos, "", "parameters expand to more than %d bytes", maxLineLength)
		}
		r.work += len(out)
		if r.work > maxWork {
			return "", false, r.errf(pos, "", "the configuration expands to more than %d MiB (parameters expanding into each other?)", maxWork>>20)
		}
		text, changed = out, true
	}
}

// param returns a parameter's value, including keepalived's predefined
// ones.
func (r *kaReader) param(name string) (string, bool) {
	switch name {
	case "_PWD":
		return r.dir, true
	case "_INSTANCE":
		return r.configID, true
	case "_HASH":
		return "#", true
	case "_BANG":
		return "!", true
	case "_RANDOM":
		return "", true
	}
	v, ok := r.defs[name]
	return strings.Join(v, "\n"), ok
}

// seq expands a ~SEQ line: rest once for each value of the variable.
func (r *kaReader) seq(pos kaPos, hex bool, args, rest string, more []string, depth int) error {
	var nums []int64
	for _, a := range strings.Split(args, ",")[1:] {
		a = strings.TrimSpace(a)
		n, err := strconv.ParseInt(a, 0, 64)
		if err != nil {
			return r.errf(pos, a, "~SEQ: %q is not a number", a)
		}
		nums = append(nums, n)
	}
	name := strings.TrimSpace(strings.Split(args, ",")[0])
	if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(name) {
		return r.errf(pos, name, "~SEQ: %q is not a parameter name", name)
	}
	var start, step, end int64
	switch len(nums) {
	case 1:
		end = nums[0]
		start = 1
		if end < 0 {
			start = -1
		}
	case 2:
		start, end = nums[0], nums[1]
	case 3:
		start, step, end = nums[0], nums[1], nums[2]
	default:
		return r.errf(pos, args, "~SEQ(%s): want a name and one to three numbers", args)
	}
	if step == 0 {
		step = 1
		if end < start {
			step = -1
		}
	}
	if (end-start)/step > maxSeqSteps || (end-start)/step < 0 {
		return r.errf(pos, args, "~SEQ(%s): more than %d steps, or none", args, maxSeqSteps)
	}
	for v := start; (step > 0 && v <= end) || (step < 0 && v >= end); v += step {
		s := strconv.FormatInt(v, 10)
		if hex {
			s = strconv.FormatInt(v, 16)
		}
		r.defs[name] = []string{s}
		if err := r.logical(pos, append([]string{rest}, more...), depth+1); err != nil {
			return err
		}
	}
	return nil
}

// tokenize splits a line into words and braces. Quotes (" or ') group
// words and are removed; inside them a backslash escapes the next
// character, as keepalived reads them.
func tokenize(line string) ([]kaTok, error) {
	var toks []kaTok
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '{':
			toks = append(toks, kaTok{kind: tokOpen, text: "{"})
			i++
			continue
		case c == '}':
			toks = append(toks, kaTok{kind: tokClose, text: "}"})
			i++
			continue
		}
		var b strings.Builder
		var quote byte
	word:
		for i < len(line) {
			c := line[i]
			switch {
			case quote != 0 && c == '\\' && i+1 < len(line):
				b.WriteByte(unescape(line[i+1]))
				i += 2
				continue
			case quote != 0 && c == quote:
				quote = 0
			case quote != 0:
				b.WriteByte(c)
			case c == '"' || c == '\'':
				quote = c
			case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '{' || c == '}':
				break word
			default:
				b.WriteByte(c)
			}
			i++
		}
		if quote != 0 {
			return nil, fmt.Errorf("unterminated %c quote", quote)
		}
		toks = append(toks, kaTok{kind: tokWord, text: b.String()})
	}
	return toks, nil
}

func unescape(c byte) byte {
	switch c {
	case 'a':
		return '\a'
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'v':
		return '\v'
	case 'E':
		return 0x1b
	}
	return c
}

// kaTree builds statements from tokens.
type kaTree struct {
	toks []kaTok
	i    int
}

var errEOF = errors.New("end of input")

// stmts reads statements up to the closing brace of the block opened at
// open (or to the end of input when open is nil).
func (t *kaTree) stmts(open *kaTok, depth int) ([]*kaStmt, error) {
	var out []*kaStmt
	var cur *kaStmt
	end := func() {
		if cur != nil {
			out = append(out, cur)
			cur = nil
		}
	}
	for t.i < len(t.toks) {
		tok := t.toks[t.i]
		t.i++
		switch tok.kind {
		case tokEOL:
			end()
		case tokWord:
			if cur == nil {
				cur = &kaStmt{pos: tok.pos}
			}
			cur.words = append(cur.words, tok.text)
		case tokOpen:
			target := cur
			if target == nil {
				// "{" on a line of its own opens the block of the
				// statement before it.
				if n := len(out); n > 0 && !out[n-1].hasBlock {
					target, out = out[n-1], out[:n-1]
				} else {
					return nil, &Error{File: tok.pos.file, Line: tok.pos.line, Token: "{", Msg: `"{" without a keyword before it`}
				}
			}
			if depth >= maxBlockDepth {
				return nil, &Error{File: tok.pos.file, Line: tok.pos.line, Token: "{", Msg: fmt.Sprintf("blocks nest more than %d deep", maxBlockDepth)}
			}
			block, err := t.stmts(&tok, depth+1)
			if err != nil {
				return nil, err
			}
			target.hasBlock, target.block = true, block
			cur = nil
			out = append(out, target)
		case tokClose:
			if open == nil {
				return nil, &Error{File: tok.pos.file, Line: tok.pos.line, Token: "}", Msg: `"}" without a matching "{"`}
			}
			end()
			return out, nil
		}
	}
	if open != nil {
		return nil, &Error{File: open.pos.file, Line: open.pos.line, Token: "{", Msg: `"{" is never closed`, Err: errEOF}
	}
	end()
	return out, nil
}

// parseKeepalived reads the configuration in name and what it includes
// into statements.
func parseKeepalived(files Files, name, configID string) ([]*kaStmt, *kaReader, error) {
	r := &kaReader{files: files, configID: configID, defs: map[string][]string{}}
	r.base = r.realDir(filepath.Dir(name))
	if err := r.readFile(name, kaPos{}); err != nil {
		return nil, nil, err
	}
	t := &kaTree{toks: r.toks}
	stmts, err := t.stmts(nil, 0)
	if err != nil {
		return nil, nil, err
	}
	return stmts, r, nil
}
