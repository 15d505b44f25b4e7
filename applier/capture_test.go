package applier

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/plan"
)

// TestCaptureIsIPVSOnly checks that a capture is planned as an IPVS table
// alone: the services it holds are observed, and a desired state or an
// ownership state that names a host object is refused with ErrIPVSOnly
// instead of being compared with nothing.
func TestCaptureIsIPVSOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lb1.save")
	if err := os.WriteFile(path, []byte("-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.11:80 -g -w 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := LoadCapture(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, full := k.(kernel.Kernel); full {
		t.Fatalf("LoadCapture returned a whole kernel (%T), want an IPVS table alone", k)
	}
	want := &hoststate.Host{Name: "lb1"}
	obs, err := Observe(t.Context(), k, want, plan.NewState("lb1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(obs.Services) != 1 || len(obs.Services[0].Destinations) != 1 || obs.Services[0].Scheduler != "wrr" {
		t.Errorf("observed %+v, want the capture's one service with one destination", obs.Services)
	}

	want.Sysctls = []hoststate.Sysctl{{Key: "net.ipv4.ip_forward", Value: "1"}}
	if _, err := Observe(t.Context(), k, want, plan.NewState("lb1")); !errors.Is(err, ErrIPVSOnly) {
		t.Errorf("observing a desired sysctl in a capture: %v, want ErrIPVSOnly", err)
	}
	st := plan.NewState("lb1")
	st.Links = []string{"lvs0"}
	if _, err := Observe(t.Context(), k, &hoststate.Host{Name: "lb1"}, st); !errors.Is(err, ErrIPVSOnly) {
		t.Errorf("observing an owned link in a capture: %v, want ErrIPVSOnly", err)
	}

	// Applying a host object to it fails, naming the operation.
	p := &plan.Plan{Host: "lb1", Ops: []plan.Op{{Action: plan.Create, After: &plan.Sysctl{Key: "net.ipv4.ip_forward", Value: "1"}, Reason: "test"}}}
	if _, err := Apply(t.Context(), k, p); !errors.Is(err, ErrIPVSOnly) {
		t.Errorf("applying a sysctl to a capture: %v, want ErrIPVSOnly", err)
	}
}
