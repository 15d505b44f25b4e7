// Package diag holds the problems the compiler finds in a configuration and
// renders them for people (text), programs (JSON) and CI in git (GitHub
// workflow annotations).
//
// A diagnostic is not a Go error: a configuration has many problems at once,
// each at a place in the user's files, and all of them are reported together.
package diag

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Severity says whether a diagnostic makes the configuration invalid.
type Severity int

// Severities. An Error fails validation; a Warning is reported and passes;
// Info records something worth knowing, such as a waived policy rule.
const (
	Error Severity = iota
	Warning
	Info
)

func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Info:
		return "info"
	}
	return "error"
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Pos is a position in a user's file. Line and Column start at 1; a zero
// Line means the problem has no single place (a missing file, say).
type Pos struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

func (p Pos) String() string {
	switch {
	case p.File == "":
		return "-"
	case p.Line == 0:
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Diagnostic is one problem in a configuration.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	// Rule names the check that found the problem: "schema" for the
	// shape of the configuration, "syntax" for CUE syntax, otherwise a rule
	// id listed in docs/CONFIG.md.
	Rule string `json:"rule"`
	Pos  Pos    `json:"pos"`
	// Path is the field path in the configuration, e.g.
	// "services.web.reals[1].port".
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Related are other places that take part in the problem: the host
	// fact (a gateway, a subnet, an MTU) a service's rule found wrong,
	// or the other host of a duplicate address. The problem is reported
	// where the user most likely must change something; these say what
	// it was checked against.
	Related []Related `json:"related,omitempty"`
}

// Related is a second position of a diagnostic with what stands there.
// Its JSON is {"file","line","col","message"}: the shape the issue
// tracker and editors' problem matchers expect of a note.
type Related struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Message string `json:"message"`
}

// Pos returns r's position.
func (r Related) Pos() Pos { return Pos{File: r.File, Line: r.Line, Column: r.Col} }

func (d Diagnostic) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: ", d.Pos, d.Severity)
	if d.Path != "" {
		fmt.Fprintf(&b, "%s: ", d.Path)
	}
	fmt.Fprintf(&b, "%s [%s]", d.Message, d.Rule)
	return b.String()
}

// List is a set of diagnostics.
type List []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (l List) HasErrors() bool {
	return slices.ContainsFunc(l, func(d Diagnostic) bool { return d.Severity == Error })
}

// Count returns how many errors and warnings l holds.
func (l List) Count() (errors, warnings int) {
	for _, d := range l {
		switch d.Severity {
		case Error:
			errors++
		case Warning:
			warnings++
		}
	}
	return errors, warnings
}

// Sort orders diagnostics by file, line, column, then path and rule, so
// output is stable whatever order the checks ran in.
func (l List) Sort() {
	slices.SortStableFunc(l, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Message, b.Message),
		)
	})
}

// WriteText prints diagnostics for a terminal, each followed by its
// related positions as "file:line:col: note: message" lines (the form
// compilers use, which editors jump to) and its hint, then a summary line.
func WriteText(w io.Writer, l List) error {
	for _, d := range l {
		fmt.Fprintln(w, d.String())
		for _, r := range d.Related {
			fmt.Fprintf(w, "%s: note: %s\n", r.Pos(), r.Message)
		}
		if d.Hint != "" {
			fmt.Fprintf(w, "    hint: %s\n", d.Hint)
		}
	}
	e, wn := l.Count()
	_, err := fmt.Fprintf(w, "%d error(s), %d warning(s)\n", e, wn)
	return err
}

// JSONVersion is the version of the JSON document WriteJSON prints. It
// changes only when a field is removed or changes meaning.
const JSONVersion = 1

// WriteJSON prints {"version":1,"valid":bool,"errors":N,"warnings":N,"diagnostics":[...]}.
func WriteJSON(w io.Writer, l List) error {
	e, wn := l.Count()
	if l == nil {
		l = List{}
	}
	doc := struct {
		Version     int  `json:"version"`
		Valid       bool `json:"valid"`
		Errors      int  `json:"errors"`
		Warnings    int  `json:"warnings"`
		Diagnostics List `json:"diagnostics"`
	}{JSONVersion, e == 0, e, wn, l}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// WriteGitHub prints GitHub Actions workflow commands
// (`::error file=F,line=L,col=C,title=T::message`) so that problems show on
// the lines of a pull request. Each related position is a notice of its
// own on its line, titled with the rule: an annotation has one position.
func WriteGitHub(w io.Writer, l List) error {
	props := func(p Pos, title string) string {
		var props []string
		if p.File != "" {
			props = append(props, "file="+escapeProperty(p.File))
		}
		if p.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", p.Line), fmt.Sprintf("col=%d", p.Column))
		}
		props = append(props, "title="+escapeProperty(title))
		return strings.Join(props, ",")
	}
	for _, d := range l {
		msg := d.Message
		if d.Path != "" {
			msg = d.Path + ": " + msg
		}
		if d.Hint != "" {
			msg += "\nhint: " + d.Hint
		}
		level := d.Severity.String()
		if d.Severity == Info {
			level = "notice"
		}
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", level, props(d.Pos, "lvsgen "+d.Rule), escapeData(msg)); err != nil {
			return err
		}
		for _, r := range d.Related {
			note := r.Message
			if d.Path != "" {
				note = "related to " + d.Path + ": " + note
			}
			if _, err := fmt.Fprintf(w, "::notice %s::%s\n", props(r.Pos(), "lvsgen "+d.Rule+" (related)"), escapeData(note)); err != nil {
				return err
			}
		}
	}
	return nil
}

// escapeData and escapeProperty follow the workflow command encoding: %, CR
// and LF are percent-encoded, and in properties also ':' and ','.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
