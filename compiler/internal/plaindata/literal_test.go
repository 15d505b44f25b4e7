package plaindata

import (
	"reflect"
	"testing"

	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/parser"
)

// TestPlainLiteral holds plainLiteral to CUE's own decoding of the same
// literal, and to leaving alone what it does not handle.
func TestPlainLiteral(t *testing.T) {
	ctx := cuecontext.New()
	for _, tc := range []struct {
		src   string
		plain bool
	}{
		{`"a"`, true}, {`"a\u00e9\n\t\""`, true}, {`#"x\n"#`, true}, {"\"\"\"\n\tmulti\n\t\"\"\"", true},
		{`1`, true}, {`-1`, true}, {`0x10`, true}, {`0o17`, true}, {`0b101`, true}, {`1_000`, true}, {`1Ki`, true}, {`2M`, true},
		{`9223372036854775807`, true}, {`0`, true}, {`-0`, true},
		{`true`, true}, {`false`, true}, {`null`, true},
		// Left to CUE: floats, bytes, numbers beyond int64.
		{`1.5`, false}, {`1e3`, false}, {`'b'`, false}, {`18446744073709551616`, false},
	} {
		x, err := parser.ParseExpr("", tc.src)
		if err != nil {
			t.Fatal(err)
		}
		var want any
		if err := ctx.BuildExpr(x).Decode(&want); err != nil {
			t.Fatal(err)
		}
		got, ok := plainLiteral(x)
		if ok != tc.plain {
			t.Errorf("%s: handled %v, want %v", tc.src, ok, tc.plain)
		}
		if ok && !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %#v (%T), CUE decodes %#v (%T)", tc.src, got, got, want, want)
		}
	}
}
