package compiler

import (
	"fmt"

	"github.com/lvsgen/lvsgen/diag"
)

// CUE's parser recurses once per level of nesting, and it reads a chain of
// labels (a: b: c: 1) as structs nested in each other. A file of 100,000
// labels in a chain, 300 KB, overflows the goroutine stack inside
// cuelang.org/go's parser, and a stack overflow ends the process: no
// diagnostic, and lvsgen watch restarting into it. So a file nested
// deeper than maxNesting is refused before CUE parses it. No
// configuration needs a tenth of that.
const maxNesting = 1000

// tooDeep reports the line and column where src nests deeper than
// maxNesting, or line 0.
// It over-estimates rather than parses: each open bracket is a level, and
// each label colon until the comma or newline that ends its field; what is
// in strings and comments does not count.
func tooDeep(src []byte) (line, col int) {
	var saved []int // chain at each open bracket
	base, chain, lineStart := 0, 0, 0
	line = 1
	lastColon := false
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '\n':
			line, lineStart = line+1, i+1
			if !lastColon {
				chain = 0
			}
			continue
		case ' ', '\t', '\r':
			continue
		case '/':
			if i+1 < len(src) && src[i+1] == '/' {
				for i+1 < len(src) && src[i+1] != '\n' {
					i++
				}
				continue
			}
		case '"', '\'':
			if i, line = skipString(src, i, line); line > 1 {
				lineStart = max(lineStart, lastNewline(src, i)+1)
			}
		case '{', '[', '(':
			saved = append(saved, chain)
			base += chain + 1
			chain = 0
		case '}', ']', ')':
			if n := len(saved); n > 0 {
				chain = saved[n-1]
				saved = saved[:n-1]
				base -= chain + 1
			}
		case ':':
			chain++
		case ',':
			chain = 0
		}
		lastColon = src[i] == ':'
		if base+chain > maxNesting {
			return line, i - lineStart + 1
		}
	}
	return 0, 0
}

// lastNewline is the offset of the last newline at or before i, or -1.
func lastNewline(src []byte, i int) int {
	for ; i >= 0; i-- {
		if src[i] == '\n' {
			return i
		}
	}
	return -1
}

// skipString returns the index of the last byte of the string that starts
// at i (its closing quote, or the end of src) and the line it ends on.
func skipString(src []byte, i, line int) (int, int) {
	q := src[i]
	triple := i+2 < len(src) && src[i+1] == q && src[i+2] == q
	if triple {
		i += 2
	}
	for i++; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '\n':
			line++
			if !triple {
				return i - 1, line - 1
			}
		case q:
			if !triple {
				return i, line
			}
			if i+2 < len(src) && src[i+1] == q && src[i+2] == q {
				return i + 2, line
			}
		}
	}
	return len(src) - 1, line
}

// deepDiag is the error for a file tooDeep refuses.
func deepDiag(name string, line, col int) diag.Diagnostic {
	return diag.Diagnostic{
		Rule:    "syntax",
		Pos:     diag.Pos{File: name, Line: line, Column: col},
		Message: fmt.Sprintf("nested more than %d levels deep (brackets and labels such as a: b: c:)", maxNesting),
		Hint:    "no configuration nests this deep; lvsgen refuses the file before parsing it, as CUE's parser would run out of stack",
	}
}
