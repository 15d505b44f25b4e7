package compiler

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
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

// BenchmarkCompileManyReals measures validate's work on one DR service
// of N real servers given by address, as an import of a large pool
// writes them: the rules that need every real server at once (duplicates,
// weights) must stay linear.
//
//	go test ./compiler -run - -bench CompileManyReals -benchtime 1x -count 3
func BenchmarkCompileManyReals(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("reals=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			var s strings.Builder
			s.WriteString("package lvs\nhosts: lb1: interfaces: eth0: addresses: [\"10.128.0.1/17\"]\n")
			s.WriteString("clusters: c: {directors: [\"lb1\"], vip: bind: \"none\"}\n")
			s.WriteString("services: big: {cluster: \"c\", vip: \"192.0.2.10\", port: 80, forwarding: \"dr\", reals: [\n")
			a := netip.MustParseAddr("10.128.0.1")
			for range n {
				a = a.Next()
				fmt.Fprintf(&s, "\t{address: %q},\n", a)
			}
			s.WriteString("]}\n")
			if err := os.WriteFile(filepath.Join(dir, "big.cue"), []byte(s.String()), 0o644); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				res, err := Compile(dir)
				if err != nil {
					b.Fatal(err)
				}
				if !res.Valid() {
					b.Fatalf("invalid: %v", res.Diagnostics[:1])
				}
			}
		})
	}
}
