package planfmt

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/plan"
)

// TestWriteApplyJSON pins apply's document: without a plan (an invalid
// config), and with one whose ops ran out of results (not-done), whose
// error wraps an errno (named) or none (no errno).
func TestWriteApplyJSON(t *testing.T) {
	link := plan.Op{Action: plan.Create, After: &plan.Link{Link: kernel.Link{Name: "lvs0", Kind: "dummy", Up: true}}, Reason: "cluster dr"}
	sysctl := plan.Op{Action: plan.Update, Before: &plan.Sysctl{Key: "net.ipv4.ip_forward", Value: "0"}, After: &plan.Sysctl{Key: "net.ipv4.ip_forward", Value: "1"}, Reason: "service web"}
	for _, tt := range []struct {
		name string
		a    Apply
		want string
	}{
		{"no plan", Apply{Host: "lb1", Outcome: Invalid, Err: errors.New("the config is invalid")}, `{
  "version": 1,
  "host": "lb1",
  "outcome": "invalid",
  "error": "the config is invalid",
  "plan": null,
  "results": []
}
`},
		{"results", Apply{
			Host:    "lb1",
			Plan:    &plan.Plan{Host: "lb1", Ops: []plan.Op{link, sysctl, link}},
			Results: []OpResult{{Status: OK}, {Status: Error, Err: fmt.Errorf("writing: %w", syscall.EPERM)}},
			Outcome: Failed,
			Err:     errors.New("apply stopped"),
		}, `"results": [
    {
      "action": "create",
      "kind": "link",
      "object": "lvs0",
      "result": "ok"
    },
    {
      "action": "update",
      "kind": "sysctl",
      "object": "net.ipv4.ip_forward",
      "result": "error",
      "error": "writing: operation not permitted",
      "errno": "EPERM"
    },
    {
      "action": "create",
      "kind": "link",
      "object": "lvs0",
      "result": "not-done"
    }
  ]
}
`},
		{"an error without errno", Apply{
			Host:    "lb1",
			Plan:    &plan.Plan{Host: "lb1", Ops: []plan.Op{link}},
			Results: []OpResult{{Status: Error, Err: errors.New("timed out")}},
			Outcome: Failed,
		}, `"results": [
    {
      "action": "create",
      "kind": "link",
      "object": "lvs0",
      "result": "error",
      "error": "timed out"
    }
  ]
}
`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := WriteApplyJSON(&b, tt.a); err != nil {
				t.Fatal(err)
			}
			got := b.String()
			if i := strings.Index(got, `"results": [`); i >= 0 && tt.a.Plan != nil {
				got = got[i:]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
		})
	}
}
