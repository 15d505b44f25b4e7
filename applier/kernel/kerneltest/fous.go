package kerneltest

import (
	"cmp"
	"fmt"
	"slices"
	"syscall"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// fouTests are the tests of kernel.FOUs.
var fouTests = []test{
	{"FOU", testFOU},
	{"FOU/OpErrors", testFOUOpErrors},
}

func testFOU(t *testing.T, s *suite) {
	fous := func() []kernel.FOU {
		got, err := s.k.FOUs(s.ctx)
		s.must(err)
		slices.SortFunc(got, func(a, b kernel.FOU) int {
			return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(fmt.Sprint(a.IPv6), fmt.Sprint(b.IPv6)))
		})
		return got
	}
	s.diff("fou ports of a fresh kernel", fous(), []kernel.FOU{})
	want := []kernel.FOU{{Port: 5555}, {Port: 5555, IPv6: true}, {Port: 6080}}
	for _, f := range want {
		s.must(s.k.AddFOU(s.ctx, f))
	}
	s.diff("fou ports", fous(), want)
	for _, f := range want {
		s.wantErr("adding "+f.String()+" twice", s.k.AddFOU(s.ctx, f), syscall.EEXIST)
	}
	s.must(s.k.DelFOU(s.ctx, want[0]))
	s.diff("fou ports after a delete", fous(), want[1:])
	s.wantErr("deleting a fou port twice", s.k.DelFOU(s.ctx, want[0]), syscall.ENOENT)
	s.wantErr("deleting a missing IPv6 fou port", s.k.DelFOU(s.ctx, kernel.FOU{Port: 6080, IPv6: true}), syscall.ENOENT)
}

// testFOUOpErrors: a failed fou write is an *OpError naming the port.
func testFOUOpErrors(t *testing.T, s *suite) {
	f := kernel.FOU{Port: 6080}
	s.must(s.k.AddFOU(s.ctx, f))
	s.wantOpError(s.k.AddFOU(s.ctx, f), "adding", "fou port 6080 gue", syscall.EEXIST)
	s.wantOpError(s.k.DelFOU(s.ctx, kernel.FOU{Port: 6081, IPv6: true}), "deleting", "fou port 6081 gue -6", syscall.ENOENT)
}
