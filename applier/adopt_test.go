package applier

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/hoststate"
)

// TestAdoptAfterLostState: with the state file of every example host lost
// (or corrupt) after an apply, apply --adopt claims what the config's
// apply made, changing nothing, and an empty config then removes it all
// but what --adopt says it leaves: sysctls (their values before lvsgen
// are unknown) and default routes. Without --adopt a corrupt file is
// refused with a message naming it.
func TestAdoptAfterLostState(t *testing.T) {
	res, err := compiler.Compile("../examples")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range res.Hosts {
		names = append(names, name)
	}
	slices.Sort(names)
	ctx := context.Background()
	for _, name := range names {
		for _, loss := range []string{"lost", "corrupt"} {
			t.Run(name+"/"+loss, func(t *testing.T) {
				want := res.Hosts[name]
				k := hostKernel(t, res.Config.Hosts[name])
				before := snapshot(t, k, nil)
				dir := t.TempDir()
				if p, err := killableRunner(k, dir).Plan(ctx, want); err != nil {
					t.Fatal(err)
				} else if writesOf(p.Ops) == 0 {
					// A FULLNAT real server: lvsgen makes nothing there.
					t.Skipf("%s needs nothing of lvsgen", name)
				}
				applyOnce(t, k, dir, want)
				if loss == "lost" {
					must(t, os.Remove(StatePath(dir, name)))
				} else {
					must(t, os.WriteFile(StatePath(dir, name), []byte("{}"), 0o600))
					_, err := killableRunner(k, dir).Plan(ctx, want)
					if !errors.Is(err, ErrCorruptState) || !strings.Contains(err.Error(), "--adopt") {
						t.Fatalf("plan error %v, want ErrCorruptState naming --adopt", err)
					}
				}
				r := killableRunner(k, dir)
				r.Adopt = true
				p, err := r.Plan(ctx, want)
				must(t, err)
				if p.Changes() != 0 {
					t.Fatalf("adopting changes the kernel:\n%s", planText(p))
				}
				if len(r.Adopted) == 0 {
					t.Fatal("nothing adopted")
				}
				_, err = r.Apply(ctx, want, p)
				must(t, err)
				applyOnce(t, k, dir, &hoststate.Host{Name: name})
				// What --adopt leaves: a default route the config
				// replaced, and sysctls at the config's values.
				after := snapshot(t, k, nil)
				for _, r := range want.Routes {
					if r.Dst.Bits() == 0 {
						line := "route " + r.Route.String()
						if !slices.Contains(after.Objects, line) {
							t.Errorf("the adopted default route %s was removed", line)
						}
						drop := func(s string) bool { return strings.HasPrefix(s, "route "+r.Dst.String()+" ") }
						before.Objects = slices.DeleteFunc(slices.Clone(before.Objects), drop)
						after.Objects = slices.DeleteFunc(after.Objects, drop)
					}
				}
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("the host is not as before but for what --adopt leaves (-want +got):\n%s", diff)
				}
				for _, s := range want.Sysctls {
					if v, err := k.Sysctl(ctx, s.Key); err == nil && v != s.Value {
						t.Errorf("sysctl %s = %s, want %s left as it was", s.Key, v, s.Value)
					}
				}
			})
		}
	}
}
