package compiler

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"cuelang.org/go/cue/cuecontext"
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

// testChecks returns the schema's rule checks with no verdicts kept.
func testChecks(t *testing.T) *checks {
	t.Helper()
	s, err := loadSchema(cuecontext.New())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := newChecks(s, new(checkVerdicts))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

var verdictFields = cmp.AllowUnexported(verdict{}, ruleIssue{}, ruleFailure{})

// TestRealsCheckShared: #RealsCheck given only the real servers that
// share their key (sharedKeys) says what it says given every real server,
// and that is what comparing every pair says: each repeat of a key names
// its first real server, each real server with the sorry server's key is
// reported. It fails when a rule of #RealsCheck reads a real server the
// compiler leaves out.
func TestRealsCheckShared(t *testing.T) {
	cs := testChecks(t)
	rng := rand.New(rand.NewPCG(3, 4))
	issues := 0
	for n := range 30 {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("10.0.0.%d:80", rng.IntN(n+1))
		}
		sorry := ""
		if rng.IntN(2) == 0 {
			sorry = fmt.Sprintf("10.0.0.%d:80", rng.IntN(n+1))
		}
		first := firstIndexes(keys)
		every := make([]any, n)
		for i, k := range keys {
			every[i] = map[string]any{"at": i, "key": k, "first": first[i]}
		}
		input := func(shared []any) map[string]any {
			in := map[string]any{"shared": shared}
			if sorry != "" {
				in["sorry"] = sorry
			}
			return in
		}
		want := cs.reals.evaluate(input(every))
		got := cs.reals.evaluate(input(sharedKeys(keys, sorry)))
		if d := cmp.Diff(want, got, verdictFields); d != "" {
			t.Errorf("keys %q, sorry %q: shared real servers only (-every +shared):\n%s", keys, sorry, d)
		}

		var pairs []string
		for i, k := range keys {
			for j := range i {
				if keys[j] == k {
					pairs = append(pairs, fmt.Sprintf("real-duplicate reals[%d] of %d", i, j))
					break
				}
			}
		}
		for i, k := range keys {
			if k == sorry {
				pairs = append(pairs, fmt.Sprintf("sorry-real sorry of %d", i))
			}
		}
		var said []string
		for _, is := range got.issues {
			m := regexp.MustCompile(`reals\[(\d+)\]`).FindStringSubmatch(is.Message)
			if m == nil {
				t.Fatalf("issue names no real server: %+v", is)
			}
			said = append(said, fmt.Sprintf("%s %s of %s", is.rule, is.Path, m[1]))
		}
		if d := cmp.Diff(pairs, said); d != "" {
			t.Errorf("keys %q, sorry %q: issues (-every pair +#RealsCheck):\n%s", keys, sorry, d)
		}
		issues += len(said)
	}
	if issues == 0 {
		t.Fatal("no case had a duplicate or a sorry server among the real servers")
	}
}

// TestWeightsCheckSummed: #WeightsCheck given weightSums' summary of the
// weights says what the weights say: a warning when every weight is 0,
// one when quorum is above their sum, which it names (a weight not set is
// #Real's 1). A weight that is no integer makes the rules fail.
func TestWeightsCheckSummed(t *testing.T) {
	cs := testChecks(t)
	rng := rand.New(rand.NewPCG(5, 6))
	seen := map[string]bool{}
	for n := range 60 {
		// Weights of 0..3, set or not; in a case of four every real
		// server sets 0, in one some set 0 and the others none, in one
		// none sets a weight.
		mode := n % 4
		var ws weightSums
		var weights []string
		sum, top := 0, 0
		for range n {
			w, set := rng.IntN(4), rng.IntN(3) > 0
			switch mode {
			case 1:
				w, set = 0, true
			case 2:
				w = 0
			case 3:
				set = false
			}
			// The decoders give weights as int, int64 or json.Number.
			ws.add([]any{w, int64(w), json.Number(strconv.Itoa(w))}[rng.IntN(3)], set)
			if !set {
				w = 1
				weights = append(weights, "unset")
			} else {
				weights = append(weights, strconv.Itoa(w))
			}
			sum, top = sum+w, max(top, w)
		}
		// No quorum, or one of 1 or 2 below, at, or 1 or 2 above the sum.
		hasQuorum := n%3 != 0
		quorum := max(1, sum+n%5-2)
		got := cs.weights.evaluate(ws.input(quorum, hasQuorum))
		if len(got.failed) > 0 {
			t.Fatalf("weights %v: rules failed: %v", weights, got.failed)
		}

		var want, said []string
		if n > 0 && top == 0 {
			want = append(want, "weights-zero: every real server of this service has weight 0: it accepts no new connections")
		}
		if hasQuorum && quorum > sum {
			want = append(want, fmt.Sprintf("quorum-weights: quorum %d is above the sum of the real servers' weights, %d: it is never met, so the sorry server (if any) always serves", quorum, sum))
		}
		for _, is := range got.issues {
			said = append(said, is.rule+": "+is.Message)
			seen[is.rule] = true
		}
		if d := cmp.Diff(want, said); d != "" {
			t.Errorf("weights %v, quorum %d (%v): issues (-want +got):\n%s", weights, quorum, hasQuorum, d)
		}
	}
	if !seen["weights-zero"] || !seen["quorum-weights"] {
		t.Fatalf("rules seen %v: a case for each is missing", seen)
	}

	var ws weightSums
	ws.add(2, true)
	ws.add("x", true)
	if v := cs.weights.evaluate(ws.input(nil, false)); len(v.failed) == 0 {
		t.Errorf("weight \"x\" summed without failing: %+v", v)
	}
}
