package compiler

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
)

// CUE's errors speak CUE: "conflicting values "80" and int (mismatched
// types string and int)", "invalid value "x" (out of bound =~"^/")",
// "field not allowed". A user wrote a config, not a schema: these say
// the same in words of what the field wants, on both compile paths
// (bestMessage is what both call).

// patternWords says in words what each regular expression of the schema
// wants. TestSchemaPatternsInWords fails when the schema has one that is
// not here.
var patternWords = map[string]string{
	// #Name
	`^[A-Za-z0-9][A-Za-z0-9_.-]*$`: "not a name: letters, digits, '_', '.' and '-', starting with a letter or digit",
	// #IP
	`(?i)^::ffff:[0-9.]+$`: "an IPv4-mapped IPv6 address: write the IPv4 address itself",
	// #Duration
	`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`: "not a duration: a number with a unit ms, s, m or h, without spaces, e.g. \"30s\" or \"1h30m\"",
	// #IfName
	`^[!-.0-9;-~]{1,15}$`: "not a Linux interface name: 1 to 15 characters, no '/', ':' or whitespace",
	`^[.]{1,2}$`:          "not a Linux interface name: it may not be \".\" or \"..\"",
	// #Check.path
	`^/`: "not an absolute path starting with '/'",
	// #VRRP.authPass
	`^[A-Za-z0-9_.,:;@%^&*+=/?~$()\[\]<>|-]{1,8}$`: "not a VRRP password: 1 to 8 letters, digits or punctuation other than # ! \" ' { } and space",
	// #Check.user
	`^[A-Za-z_][A-Za-z0-9_.-]*$`: "not a user name: letters, digits, '_', '.' and '-', starting with a letter or '_'",
}

var (
	// `invalid value "x" (out of bound =~"^/")`
	boundPattern = regexp.MustCompile(`\(out of bound ([=!]~)("(?:[^"\\]|\\.)*")\)`)
	// `conflicting values "80" and int (mismatched types string and int)`
	mismatched = regexp.MustCompile(`^conflicting values (.+) and (.+) \(mismatched types (\w+) and (\w+)\)$`)
	// what is the schema's side of a conflict rather than a user's value
	schemaSide = regexp.MustCompile(`^(int|string|bool|float|number|bytes|null|_|[=!]~|[<>]=?|!=|\[\.\.\.|#|\*)|[|&]`)
	// what is a value as a user writes one
	literal = regexp.MustCompile(`^("|-?[0-9]|true$|false$)`)
)

// kindWords names a CUE kind for a user.
var kindWords = map[string]string{
	"int":    "an integer",
	"float":  "a number",
	"number": "a number",
	"string": "a string",
	"bool":   "a boolean (true or false)",
	"list":   "a list [...]",
	"struct": "a struct {...}",
	"null":   "null",
	"bytes":  "bytes",
}

// inWords rewrites a CUE error message in words.
func inWords(msg string) string {
	if m := mismatched.FindStringSubmatch(msg); m != nil {
		user, userKind, wantKind := m[1], m[3], m[4]
		// CUE writes the user's value first; should it not, the side
		// that reads as schema (or not as a literal) is the schema's.
		if (schemaSide.MatchString(m[1]) && !schemaSide.MatchString(m[2])) ||
			(!literal.MatchString(m[1]) && literal.MatchString(m[2])) {
			user, userKind, wantKind = m[2], m[4], m[3]
		}
		return fmt.Sprintf("%s is %s, but the field wants %s", user, words(userKind), words(wantKind))
	}
	return boundPattern.ReplaceAllStringFunc(msg, func(b string) string {
		m := boundPattern.FindStringSubmatch(b)
		re, err := strconv.Unquote(m[2])
		if w, ok := patternWords[re]; ok && err == nil {
			return "(" + w + ")"
		}
		if m[1] == "!~" {
			return "(a form the field does not take)"
		}
		return "(not in the form the field wants)"
	})
}

func words(kind string) string {
	if w, ok := kindWords[kind]; ok {
		return w
	}
	return kind
}

// nameProblem says what is wrong with a name a closed struct refused
// ("field not allowed"), when that is why: a host, cluster or service
// whose name breaks #Name, or an interface whose name breaks #IfName. It
// returns the path the problem is at, the message and the hint.
func (c *compilation) nameProblem(path []string) ([]string, string, string, bool) {
	bad := func(def, name string) bool {
		d := c.ev.schema.LookupPath(cue.ParsePath(def))
		return d.Unify(c.ev.ctx.Encode(name)).Validate(cue.Concrete(true)) != nil
	}
	unq := func(s string) string {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
		return s
	}
	if len(path) >= 2 {
		kind := strings.TrimSuffix(path[0], "s")
		if (path[0] == "hosts" || path[0] == "clusters" || path[0] == "services") && bad("#Name", unq(path[1])) {
			return path[:2], fmt.Sprintf("%s name %q is %s", kind, unq(path[1]), patternWords[`^[A-Za-z0-9][A-Za-z0-9_.-]*$`]),
				"rename it, e.g. \"web-1\": the name is used in paths, reasons and file names", true
		}
	}
	if len(path) >= 4 && path[0] == "hosts" && path[2] == "interfaces" && bad("#IfName", unq(path[3])) {
		return path[:4], fmt.Sprintf("interface name %q is not a Linux interface name: 1 to 15 characters, no '/', ':' or whitespace, not \".\" or \"..\"", unq(path[3])),
			"use the interface's kernel name as `ip link` shows it, e.g. \"eth0\" or \"bond0.100\"", true
	}
	return nil, "", "", false
}
