package compiler

import (
	"fmt"
	"testing"

	"github.com/lvsgen/lvsgen/internal/gen"
)

// BenchmarkCompile measures validate's work (load, schema, rules, host
// states) on generated configs of N services with 10 real servers each.
//
//	go test ./compiler -run - -bench Compile -benchmem -count 6 | tee new.txt; benchstat new.txt
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			if err := gen.Write(dir, n, 10); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				res, err := Compile(dir)
				if err != nil {
					b.Fatal(err)
				}
				if !res.Valid() {
					b.Fatalf("generated config invalid: %v", res.Diagnostics[:1])
				}
			}
		})
	}
}
