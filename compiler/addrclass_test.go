package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestAddressClasses holds the verdicts kept per class of address to
// those of evaluating every real server's address: services of bare
// addresses on and off the directors' subnets, in a client network, of
// the wrong family, unicast or not, equal to a gateway or a director's
// address, in DR, NAT, TUN and FULLNAT, compiled both ways (plain data
// and one CUE instance), give the same diagnostics word for word and the
// same model — and the valid ones take fewer evaluations.
func TestAddressClasses(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "base", "base.cue"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("package lvs\n\n")
	addrs := []string{
		"10.0.0.50", "10.0.0.51", "10.0.0.5", "10.0.0.150", // on lb1's subnet, one a prefix of others
		"10.9.0.1", "10.9.0.12", "10.9.0.100", // on no subnet
		"192.168.1.40", "192.168.1.41", // in nat's client network
		"10.1.0.40", "10.1.0.41", // on nat1's inner subnet
		"2001:db8::40", "2001:db8::4", "2001:db8:1::40", // IPv6
		"10.0.0.1", "10.0.0.2", "10.1.0.1", // a gateway, a director's address
		"224.0.0.9", "255.255.255.255", "0.0.0.0", // not unicast
	}
	for _, cl := range []struct{ cluster, fwd, vip string }{
		{"dr", "dr", "192.0.2.50"}, {"pair", "dr", "192.0.2.51"}, {"nat", "nat", "192.0.2.52"},
		{"natpair", "nat", "192.0.2.53"}, {"dr", "tun", "192.0.2.54"}, {"nat", "fullnat", "192.0.2.55"},
	} {
		fmt.Fprintf(&b, "services: %q: {cluster: %q, vip: %q, port: 80, forwarding: %q, reals: [\n", "s-"+cl.cluster+"-"+cl.fwd, cl.cluster, cl.vip, cl.fwd)
		for _, a := range addrs {
			fmt.Fprintf(&b, "\t{address: %q},\n", a)
		}
		b.WriteString("]}\n")
	}
	// A valid service of many addresses on one subnet.
	b.WriteString("services: many: {cluster: \"dr\", vip: \"192.0.2.60\", port: 80, reals: [\n")
	for i := 20; i < 120; i++ {
		fmt.Fprintf(&b, "\t{address: \"10.0.0.%d\", weight: %d},\n", i, i%3)
	}
	b.WriteString("]}\n")
	dir := t.TempDir()
	for name, text := range map[string]string{"base.cue": string(base), "classes.cue": b.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, evalsEach := compileSharing(t, dir, false, false)
	if len(want.Diagnostics) < 20 {
		t.Fatalf("only %d diagnostics: the test config lost its mistakes\n%v", len(want.Diagnostics), want.Diagnostics)
	}
	classesAgree(t, dir, want, evalsEach, 1)
}

// compileSharing compiles dir with #RealCheck verdicts shared by class
// (share) or evaluated for every real server, on the plain-data path or
// the whole-CUE one, and returns the result and the number of #RealCheck
// evaluations.
func compileSharing(t *testing.T, dir string, share, whole bool) (*Result, int) {
	t.Helper()
	shareAddressVerdicts = share
	defer func() { shareAddressVerdicts = true }()
	cc := NewCompiler(Options{wholeCUE: whole})
	res, err := cc.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	return res, cc.verdicts.real.len()
}

// classesAgree compiles dir with verdicts shared by class, on both
// compile paths, and requires the diagnostics word for word and the
// result of evaluating every real server (want, in evalsEach
// evaluations), and at least fewer evaluations on the plain-data path.
func classesAgree(t *testing.T, dir string, want *Result, evalsEach, fewer int) {
	t.Helper()
	for _, whole := range []bool{false, true} {
		got, evals := compileSharing(t, dir, true, whole)
		if d := cmp.Diff(want.Diagnostics, got.Diagnostics); d != "" {
			t.Errorf("whole CUE %v: diagnostics (-each real server +classes):\n%s", whole, d)
		}
		if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Result{}), cmpopts.EquateComparable()); d != "" && !strings.Contains(d, "Diagnostics") {
			t.Errorf("whole CUE %v: result (-each real server +classes):\n%s", whole, d)
		}
		t.Logf("whole CUE %v: %d diagnostics, %d #RealCheck evaluations with classes, %d without", whole, len(got.Diagnostics), evals, evalsEach)
		if !whole && evals > evalsEach-fewer {
			t.Errorf("%d #RealCheck evaluations with classes, %d without: want at least %d fewer", evals, evalsEach, fewer)
		}
	}
}

func TestReplaceAddr(t *testing.T) {
	for _, tt := range []struct{ s, from, to, want string }{
		{"real server 10.0.0.1 is on no subnet", "10.0.0.1", "10.0.0.7", "real server 10.0.0.7 is on no subnet"},
		{"10.0.0.1 and 10.0.0.12 and 10.0.0.1.", "10.0.0.1", "10.0.0.7", "10.0.0.7 and 10.0.0.12 and 10.0.0.7."},
		{"110.0.0.1 10.0.0.1.5 10.0.0.1/24", "10.0.0.1", "9.9.9.9", "110.0.0.1 10.0.0.1.5 9.9.9.9/24"},
		{"2001:db8::1 2001:db8::12 (2001:db8::1)", "2001:db8::1", "2001:db8::7", "2001:db8::7 2001:db8::12 (2001:db8::7)"},
		{"::1 is 2001:db8::1", "::1", "::2", "::2 is 2001:db8::1"},
		{"real server 2001:db8::40: it is on no subnet", "2001:db8::40", "2001:db8::7", "real server 2001:db8::7: it is on no subnet"},
		{"server 10.0.0.5: no", "10.0.0.5", "10.0.0.6", "server 10.0.0.6: no"},
		{"nothing here", "10.0.0.1", "10.0.0.2", "nothing here"},
	} {
		if got := replaceAddr(tt.s, tt.from, tt.to); got != tt.want {
			t.Errorf("replaceAddr(%q, %q, %q) = %q, want %q", tt.s, tt.from, tt.to, got, tt.want)
		}
	}
}
