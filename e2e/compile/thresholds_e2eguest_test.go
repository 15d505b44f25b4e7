//go:build e2eguest

package compile

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"

	mobyipvs "github.com/moby/ipvs"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// TestThresholdsAboveInt32 holds lvsgen to "what validates, the kernel
// accepts" for connection thresholds above 2^31-1. The kernel's fields are
// u32, but this kernel answers EINVAL to IPVS_CMD_NEW_DEST and
// IPVS_CMD_SET_DEST with anything above 2^31-1, and ipvsadm refuses such
// values too ("illegal u_threshold specified", exit 2). The schema first
// allowed 0..2^32-1; it now stops at 2^31-1, and the test passes on the
// validate error. Should lvsgen allow more again, the test checks that the
// kernel takes it.
func TestThresholdsAboveInt32(t *testing.T) {
	guest.Require(t)
	const dir = "testdata/thresholds"
	if res := lvsgen(t, "validate", dir); res.Exit != 0 {
		if !strings.Contains(strings.ToLower(res.Stdout+res.Stderr), "threshold") {
			t.Fatalf("lvsgen validate %s fails, but not about thresholds: %s", dir, res)
		}
		t.Logf("lvsgen refuses thresholds above 2^31-1:\n%s%s", res.Stdout, res.Stderr)
		return
	}
	state := renderState(t, dir, "lb")
	d := topo.New(t).Node("dir", nil, "")
	restoreClean(t, d, render(t, dir, "lb", "ipvsadm-save"))
	h, err := mobyipvs.New(d.NsPath())
	if err != nil {
		t.Fatalf("ipvs handle: %v", err)
	}
	defer h.Close()
	for _, s := range state.Services {
		for _, x := range s.Destinations {
			if x.Forward != "nat" || s.FWMark != 0 || s.Address.Is6() || s.Protocol != "tcp" {
				// moby/ipvs sends no tunnel type (an edit would make a
				// tunnel ipip); keep to what it can say.
				t.Fatalf("service %s: this test sets thresholds of IPv4 tcp NAT destinations only", s.Name)
			}
			dest := hostPort(x.Address, x.Port)
			adm, err := d.Run("ipvsadm", "-e", "-t", hostPort(s.Address, s.Port), "-r", dest, "-m",
				"-w", strconv.FormatInt(x.Weight, 10),
				"-x", strconv.FormatUint(uint64(x.UpperThreshold), 10),
				"-y", strconv.FormatUint(uint64(x.LowerThreshold), 10))
			if err != nil {
				t.Fatal(err)
			}
			// Over netlink, as lvsgen's applier does: edit the
			// destination (IPVS_CMD_SET_DEST), and create it anew
			// (IPVS_CMD_NEW_DEST).
			svc := &mobyipvs.Service{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_TCP,
				Address: s.Address.AsSlice(), Port: s.Port}
			dst := &mobyipvs.Destination{Address: x.Address.AsSlice(), Port: x.Port, Weight: int(x.Weight),
				ConnectionFlags: mobyipvs.ConnectionFlagMasq,
				UpperThreshold:  x.UpperThreshold, LowerThreshold: x.LowerThreshold}
			setErr := h.UpdateDestination(svc, dst)
			if err := h.DelDestination(svc, dst); err != nil {
				t.Fatalf("netlink: delete %s: %v", dest, err)
			}
			newErr := h.NewDestination(svc, dst)
			if setErr != nil || newErr != nil {
				t.Errorf("lvsgen validates upperThreshold %d, lowerThreshold %d (service %s, real %s), but the kernel refuses them: netlink IPVS_CMD_SET_DEST: %v, IPVS_CMD_NEW_DEST: %v; ipvsadm -e … -x -y: exit %d %s",
					x.UpperThreshold, x.LowerThreshold, s.Name, dest, setErr, newErr, adm.Exit, strings.TrimSpace(adm.Stderr))
				continue
			}
			want := fmt.Sprintf("%d %d", x.UpperThreshold, x.LowerThreshold)
			if got := thresholds(t, d, s.spec(), dest); got != want {
				t.Errorf("%s -r %s: thresholds (upper lower) %q, want %q", s.spec(), dest, got, want)
			}
		}
	}
}
