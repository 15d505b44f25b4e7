// Command lvsgen-gen writes a large generated lvsgen config for benchmarks:
//
//	go run ./internal/gen/lvsgen-gen -services 1000 -reals 10 -out /tmp/big
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/lvsgen/lvsgen/internal/gen"
)

func main() {
	services := flag.Int("services", 1000, "number of services")
	reals := flag.Int("reals", 10, "real servers per service")
	out := flag.String("out", "", "directory to write (required)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "lvsgen-gen: -out DIR is required")
		os.Exit(2)
	}
	if err := gen.Write(*out, *services, *reals); err != nil {
		fmt.Fprintln(os.Stderr, "lvsgen-gen:", err)
		os.Exit(1)
	}
}
