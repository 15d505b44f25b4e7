package plaindata

import (
	"strconv"
	"sync"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// Values keeps the Go value of each literal that needs CUE to decode it,
// for every evaluator: Values is safe for concurrent use.
type Values struct {
	mu sync.RWMutex
	m  map[litKey]any
}

// NewValues returns an empty Values.
func NewValues() *Values { return &Values{m: map[litKey]any{}} }

// Len counts the values kept.
func (m *Values) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.m)
}

// litKey identifies a literal as written: its token, sign and text.
type litKey struct {
	tok token.Token
	neg bool
	val string
}

func keyOf(x ast.Expr) litKey {
	switch x := x.(type) {
	case *ast.BasicLit:
		return litKey{tok: x.Kind, val: x.Value}
	case *ast.UnaryExpr:
		k := keyOf(x.X)
		k.neg = !k.neg
		return k
	}
	return litKey{}
}

// Value is a literal's Go value as CUE decodes it.
func (s *Shapes) Value(n *Node) any {
	if v, ok := plainLiteral(n.expr); ok {
		return v
	}
	k := keyOf(n.expr)
	s.values.mu.RLock()
	v, ok := s.values.m[k]
	s.values.mu.RUnlock()
	if ok {
		return v
	}
	_ = s.ctx.BuildExpr(n.expr).Decode(&v)
	s.values.mu.Lock()
	s.values.m[k] = v
	s.values.mu.Unlock()
	return v
}

// plainLiteral decodes the common literals as CUE does — strings with
// CUE's own unquoting, integers that fit an int64 with its own number
// parser, booleans and null — without a trip through the evaluator, which
// costs more than the rest of a service when every VIP is a new literal.
// Anything else (bytes, floats, huge numbers) is left to CUE.
func plainLiteral(x ast.Expr) (any, bool) {
	neg := false
	if u, ok := x.(*ast.UnaryExpr); ok {
		neg, x = true, u.X
	}
	l, ok := x.(*ast.BasicLit)
	if !ok {
		return nil, false
	}
	switch l.Kind {
	case token.STRING:
		q, start, _, err := literal.ParseQuotes(l.Value, l.Value)
		if err != nil || !q.IsDouble() || neg {
			return nil, false
		}
		v, err := q.Unquote(l.Value[start:])
		return v, err == nil
	case token.INT:
		var num literal.NumInfo
		if literal.ParseNum(l.Value, &num) != nil || !num.IsInt() {
			return nil, false
		}
		i, err := strconv.ParseInt(num.String(), 10, 64)
		if err != nil {
			return nil, false
		}
		if neg {
			i = -i
		}
		return i, true
	case token.TRUE, token.FALSE:
		return l.Kind == token.TRUE && !neg, !neg
	case token.NULL:
		return nil, !neg
	}
	return nil, false
}
