package compiler

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRealsCheckFirst holds firstIndexes to #RealsCheck's definition of
// first: the index of the first key equal to keys[i], found here by
// comparing every pair.
func TestRealsCheckFirst(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 40 {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("10.0.0.%d:80", rng.IntN(n/2+1))
		}
		want := make([]any, n)
		for i := range keys {
			for j := 0; j <= i; j++ {
				if keys[j] == keys[i] {
					want[i] = j
					break
				}
			}
		}
		if d := cmp.Diff(want, firstIndexes(keys)); d != "" {
			t.Errorf("firstIndexes(%q) (-want +got):\n%s", keys, d)
		}
	}
}

// TestRealDuplicateMessages checks what the duplicate rule says: each
// repeat names the first real server with its key, also when a key comes
// three times.
func TestRealDuplicateMessages(t *testing.T) {
	dir := t.TempDir()
	src := `hosts: lb1: {role: "director", interfaces: eth0: {addresses: ["10.0.0.1/24"]}}
clusters: c: {directors: ["lb1"], vip: bind: "none"}
services: s: {cluster: "c", vip: "192.0.2.9", port: 80, forwarding: "dr", reals: [
	{address: "10.0.0.11"}, {address: "10.0.0.12"}, {address: "10.0.0.11"}, {address: "10.0.0.11", port: 80}, {address: "10.0.0.12", port: 81},
]}
`
	if err := os.WriteFile(filepath.Join(dir, "c.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range res.Diagnostics {
		if d.Rule == "real-duplicate" {
			got = append(got, d.Path+": "+d.Message)
		}
	}
	want := []string{
		"services.s.reals[2]: real server 10.0.0.11:80 is already reals[0] of this service",
		"services.s.reals[3]: real server 10.0.0.11:80 is already reals[0] of this service",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("real-duplicate diagnostics (-want +got):\n%s\nall: %s", d, strings.Join(fmtDiags(res), "\n"))
	}
}

func fmtDiags(res *Result) []string {
	var out []string
	for _, d := range res.Diagnostics {
		out = append(out, fmt.Sprintf("%s %s: %s", d.Rule, d.Path, d.Message))
	}
	return out
}
