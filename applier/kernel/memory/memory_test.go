package memory_test

import (
	"context"
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/applier/kernel/memory"
	"github.com/lvsgen/lvsgen/ipvs"
)

// TestOpErrorMessages: errors read as the operation, the object and the
// errno, as they did before they were *OpErrors, and injected failures
// come back as the test made them.
func TestOpErrorMessages(t *testing.T) {
	ctx := context.Background()
	svc := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80}, Scheduler: "rr", NetmaskBits: 32}
	d := ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Forward: ipvs.Route, Weight: 1}
	k := memory.New()
	if err := k.AddService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if err := k.AddDestination(ctx, svc.ServiceKey, d); err != nil {
		t.Fatal(err)
	}
	var injected []string
	boom := errors.New("injected")
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"destination twice", k.AddDestination(ctx, svc.ServiceKey, d), "adding destination 10.0.0.1:80 to tcp:192.0.2.10:80: file exists"},
		{"missing device", k.SetLinkUp(ctx, "nosuch0"), "setting up link nosuch0: no such device"},
		{"missing sysctl", k.SetSysctl(ctx, "net.nosuch", "1"), "writing sysctl net.nosuch: no such file or directory"},
		{"injected", func() error {
			k.Fail = func(op string) error { injected = append(injected, op); return boom }
			defer func() { k.Fail = nil }()
			return k.DelService(ctx, svc.ServiceKey)
		}(), "injected"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || tt.err.Error() != tt.want {
				t.Errorf("error %v, want %q", tt.err, tt.want)
			}
		})
	}
	if len(injected) != 1 || injected[0] != "deleting service tcp:192.0.2.10:80" {
		t.Errorf("Fail saw %q, want the write's description", injected)
	}
	if _, err := k.Sysctl(ctx, "net.nosuch"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("reading a missing sysctl: %v, want ENOENT", err)
	}
	var oe *kernel.OpError
	if err := k.DelLink(ctx, "nosuch0"); !errors.As(err, &oe) || oe.Op != "deleting" || oe.Object != "link nosuch0" {
		t.Errorf("deleting a missing link: %#v", err)
	}
}
