package overlay_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/health"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/model"
	"github.com/lvsgen/lvsgen/overlay"
	"github.com/lvsgen/lvsgen/plan"
)

var (
	a1 = netip.MustParseAddrPort("10.0.0.11:80")
	a2 = netip.MustParseAddrPort("10.0.0.12:80")
	a3 = netip.MustParseAddrPort("10.0.0.13:80")
	as = netip.MustParseAddrPort("10.0.0.20:80")
	t0 = time.Date(2026, 12, 7, 12, 3, 7, 0, time.UTC)
)

// netipCmp compares netip values, whose fields are unexported, by ==.
var netipCmp = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
}

func dest(a netip.AddrPort, w int32) ipvs.Destination {
	return ipvs.Destination{Addr: a.Addr(), Port: a.Port(), Forward: ipvs.Route, Weight: w}
}

func check(real string, a netip.AddrPort, onFailure string, initialUp bool) hoststate.Check {
	return hoststate.Check{Real: real, Destination: a, Addr: a, Check: model.Check{
		Type: "http", Port: a.Port(), Interval: time.Second, Timeout: time.Second, Rise: 2, Fall: 3,
		InitialUp: initialUp, OnFailure: onFailure, Path: "/", Host: "www.example.com", Expect: []int{200}}}
}

// host is a director with service web: web1 (weight 3, quiesce), web2
// (weight 2, remove), an unchecked real server (weight 1) and, with
// sorry, a sorry server; quorum q, hysteresis h.
func host(sorry bool, q, h int) *hoststate.Host {
	s := hoststate.Service{
		Name: "web",
		Service: ipvs.Service{
			ServiceKey:   ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.9"), Port: 80},
			Scheduler:    "wrr",
			Destinations: []ipvs.Destination{dest(a1, 3), dest(a2, 2), dest(a3, 1)},
		},
		Checks: []hoststate.Check{check("web1", a1, "quiesce", true), check("web2", a2, "remove", true)},
		Quorum: q, Hysteresis: h,
	}
	if sorry {
		d := dest(as, 1)
		s.Sorry = &d
	}
	return &hoststate.Host{Name: "lb1", Roles: []string{"director"}, Services: []hoststate.Service{s}}
}

func down(fails int, detail string) health.Status {
	return health.Status{Type: health.HTTP, Up: false, Since: t0, Fails: fails, Checks: 10, Last: health.Result{Detail: detail}}
}

func upSt() health.Status {
	return health.Status{Type: health.HTTP, Up: true, Since: t0, Passes: 2, Checks: 10}
}

func k(real string) health.Key { return health.Key{Service: "web", Real: real} }

// got is what a test compares: the destinations and reasons of the
// first service.
type got struct {
	Dests  []ipvs.Destination
	Health map[netip.AddrPort]string
}

func result(h *hoststate.Host) got {
	s := h.Services[0]
	return got{s.Destinations, s.Health}
}

func TestApply(t *testing.T) {
	web1Down := "health: web1 down since 12:03:07, 3 failed http checks: 503"
	tests := []struct {
		name   string
		want   *hoststate.Host
		init   bool // web1 starts initial down
		status map[health.Key]health.Status
		exp    got
	}{
		{
			name:   "all up",
			want:   host(true, 0, 0),
			status: map[health.Key]health.Status{k("web1"): upSt(), k("web2"): upSt()},
			exp: got{[]ipvs.Destination{dest(a1, 3), dest(a2, 2), dest(a3, 1)},
				map[netip.AddrPort]string{as: "health: real servers up: sorry server out"}},
		},
		{
			name:   "quiesce",
			want:   host(false, 0, 0),
			status: map[health.Key]health.Status{k("web1"): down(3, "503"), k("web2"): upSt()},
			exp:    got{[]ipvs.Destination{dest(a1, 0), dest(a2, 2), dest(a3, 1)}, map[netip.AddrPort]string{a1: web1Down}},
		},
		{
			name:   "remove",
			want:   host(false, 0, 0),
			status: map[health.Key]health.Status{k("web1"): upSt(), k("web2"): down(1, "connection refused")},
			exp: got{[]ipvs.Destination{dest(a1, 3), dest(a3, 1)},
				map[netip.AddrPort]string{a2: "health: web2 down since 12:03:07, 1 failed http check: connection refused"}},
		},
		{
			name: "no status: initial up keeps the config",
			want: host(false, 0, 0),
			exp:  got{[]ipvs.Destination{dest(a1, 3), dest(a2, 2), dest(a3, 1)}, map[netip.AddrPort]string{}},
		},
		{
			name: "no status: initial down",
			want: host(false, 0, 0),
			init: true,
			exp: got{[]ipvs.Destination{dest(a1, 0), dest(a2, 2), dest(a3, 1)},
				map[netip.AddrPort]string{a1: "health: web1 not checked yet, initial down"}},
		},
		{
			name:   "restored down",
			want:   host(false, 0, 0),
			status: map[health.Key]health.Status{k("web1"): {Up: false, Since: t0, Restored: true}},
			exp: got{[]ipvs.Destination{dest(a1, 0), dest(a2, 2), dest(a3, 1)},
				map[netip.AddrPort]string{a1: "health: web1 down since 12:03:07 (saved health state)"}},
		},
		{
			name:   "down, passing but not yet risen",
			want:   host(false, 0, 0),
			status: map[health.Key]health.Status{k("web1"): {Up: false, Since: t0, Passes: 1, Checks: 5}},
			exp: got{[]ipvs.Destination{dest(a1, 0), dest(a2, 2), dest(a3, 1)},
				map[netip.AddrPort]string{a1: "health: web1 down since 12:03:07, 1 of 2 passed http checks to come back"}},
		},
		{
			name:   "sorry server while no real server is up",
			want:   unchecked(host(true, 0, 0)),
			status: map[health.Key]health.Status{k("web1"): down(3, "503"), k("web2"): down(3, "503")},
			exp: got{[]ipvs.Destination{dest(a1, 0), dest(as, 1)}, map[netip.AddrPort]string{
				a1: web1Down, a2: "health: web2 down since 12:03:07, 3 failed http checks: 503",
				as: "health: no real server up: sorry server"}},
		},
		{
			name:   "no sorry server: all down stays down",
			want:   unchecked(host(false, 0, 0)),
			status: map[health.Key]health.Status{k("web1"): down(3, "503"), k("web2"): down(3, "503")},
			exp: got{[]ipvs.Destination{dest(a1, 0)}, map[netip.AddrPort]string{
				a1: web1Down, a2: "health: web2 down since 12:03:07, 3 failed http checks: 503"}},
		},
		{
			name:   "quorum lost: up real servers quiesced, sorry server in",
			want:   host(true, 5, 0),
			status: map[health.Key]health.Status{k("web1"): down(3, "503"), k("web2"): upSt()},
			exp: got{[]ipvs.Destination{dest(a1, 0), dest(a2, 0), dest(a3, 0), dest(as, 1)}, map[netip.AddrPort]string{
				a1: web1Down,
				a2: "health: quorum lost (weight up 3, quorum 5): only the sorry server takes new connections",
				a3: "health: quorum lost (weight up 3, quorum 5): only the sorry server takes new connections",
				as: "health: quorum lost (weight up 3, quorum 5): sorry server"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.init {
				tt.want.Services[0].Checks[0].InitialUp = false
			}
			before := result(tt.want)
			before.Dests = append([]ipvs.Destination(nil), before.Dests...)
			out := overlay.New().Apply(tt.want, tt.status)
			if diff := cmp.Diff(tt.exp, result(out), netipCmp); diff != "" {
				t.Errorf("Apply (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, result(tt.want), netipCmp); diff != "" {
				t.Errorf("Apply changed its input (-before +after):\n%s", diff)
			}
		})
	}
}

// unchecked drops the unchecked real server, so that health alone decides
// whether any real server is up.
func unchecked(h *hoststate.Host) *hoststate.Host {
	h.Services[0].Destinations = h.Services[0].Destinations[:2]
	return h
}

// TestQuorumHysteresis follows one Overlay across calls: quorum 4,
// hysteresis 1: lost below 3, regained at 5. Weights: web1 3, web2 2,
// unchecked 1.
func TestQuorumHysteresis(t *testing.T) {
	o := overlay.New()
	want := host(true, 4, 1)
	steps := []struct {
		name       string
		web1, web2 bool
		sorry      bool
	}{
		{"all up: 6", true, true, false},
		{"web1 down: 3, in the band, kept", false, true, false},
		{"both down: 1, lost", false, false, true},
		{"web2 back: 3, in the band, still lost", false, true, true},
		{"web1 back, web2 down: 4, in the band, still lost", true, false, true},
		{"both back: 6, regained", true, true, false},
		{"web2 down: 4, kept", true, false, false},
	}
	for _, s := range steps {
		st := map[health.Key]health.Status{k("web1"): upSt(), k("web2"): upSt()}
		if !s.web1 {
			st[k("web1")] = down(3, "503")
		}
		if !s.web2 {
			st[k("web2")] = down(3, "503")
		}
		out := o.Apply(want, st)
		has := false
		for _, d := range out.Services[0].Destinations {
			if d.AddrPort() == as {
				has = true
			}
		}
		if has != s.sorry {
			t.Errorf("%s: sorry server in: got %v, want %v", s.name, has, s.sorry)
		}
	}
}

// TestConfigEditWhileDown: a new desired state (web1's weight edited)
// with the same status keeps web1 quiesced.
func TestConfigEditWhileDown(t *testing.T) {
	o := overlay.New()
	st := map[health.Key]health.Status{k("web1"): down(3, "503"), k("web2"): upSt()}
	o.Apply(host(false, 0, 0), st)
	edited := host(false, 0, 0)
	edited.Services[0].Destinations[0].Weight = 7
	out := o.Apply(edited, st)
	if w := out.Services[0].Destinations[0].Weight; w != 0 {
		t.Errorf("web1 weight after an edit while down: got %d, want 0", w)
	}
}

// TestNoChecks: a host with no checks comes out with the same values.
func TestNoChecks(t *testing.T) {
	want := host(false, 0, 0)
	want.Services[0].Checks = nil
	out := overlay.New().Apply(want, map[health.Key]health.Status{k("web1"): down(3, "503")})
	if diff := cmp.Diff(want, out, netipCmp); diff != "" {
		t.Errorf("Apply (-want +got):\n%s", diff)
	}
}

// TestPlanReasons: the plan of a health change is one write, and it says
// why; a health removal is deleted at once, without a drain.
func TestPlanReasons(t *testing.T) {
	want := host(false, 0, 0)
	obs := &plan.Observed{Services: []ipvs.Service{want.Services[0].Service}}
	obs.Services[0].Destinations[1].ActiveConns = 5
	st := map[health.Key]health.Status{k("web1"): down(3, "503"), k("web2"): down(3, "503")}
	p := plan.Diff(overlay.New().Apply(want, st), obs, &plan.State{}, plan.Options{DrainTimeout: time.Minute, Now: t0})
	var ops []string
	for _, op := range p.Ops {
		if op.Kind() == plan.KindDestination {
			ops = append(ops, string(op.Action)+" "+op.Object().String()+" # "+op.Reason)
		}
	}
	exp := []string{
		"update tcp:192.0.2.9:80 -> 10.0.0.11:80 # " + "health: web1 down since 12:03:07, 3 failed http checks: 503",
		"delete tcp:192.0.2.9:80 -> 10.0.0.12:80 # " + "health: web2 down since 12:03:07, 3 failed http checks: 503",
	}
	if diff := cmp.Diff(exp, ops); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}

func TestTargets(t *testing.T) {
	want := host(false, 0, 0)
	got := overlay.Targets(want)
	exp := []health.Target{
		{Key: k("web1"), Spec: health.Spec{Type: health.HTTP, Addr: a1, Interval: time.Second, Timeout: time.Second, Rise: 2, Fall: 3,
			InitialUp: true, Path: "/", Host: "www.example.com", Expect: []int{200}, ServerName: "www.example.com"}},
		{Key: k("web2"), Spec: health.Spec{Type: health.HTTP, Addr: a2, Interval: time.Second, Timeout: time.Second, Rise: 2, Fall: 3,
			InitialUp: true, Path: "/", Host: "www.example.com", Expect: []int{200}, ServerName: "www.example.com"}},
	}
	if diff := cmp.Diff(exp, got, cmp.AllowUnexported(health.Spec{}), netipCmp); diff != "" {
		t.Errorf("Targets (-want +got):\n%s", diff)
	}
	for _, tg := range got {
		if err := tg.Spec.Validate(); err != nil {
			t.Errorf("%s: %v", tg.Key, err)
		}
	}
}

// TestPlanSorryOut: once a real server is up, the sorry server in the
// kernel drains with the health reason: weight 0 first, even with no
// active connection (one may open while the plan runs), deleted once its
// connections end. Deleting it at once would reset the requests it is
// answering (expire_nodest_conn is 1 by default; the e2e health test saw
// them fail).
func TestPlanSorryOut(t *testing.T) {
	const out = "health: real servers up: sorry server out"
	sorryKey := host(true, 0, 0).Services[0].ServiceKey
	tests := []struct {
		name   string
		weight int32
		active uint32
		drains []plan.DrainRecord
		want   string
	}{
		{name: "serving", weight: 1, active: 7,
			want: "drain tcp:192.0.2.9:80 -> 10.0.0.20:80 # " + out + ": draining up to 1m0s before deletion"},
		{name: "no active connection yet", weight: 1, active: 0,
			want: "drain tcp:192.0.2.9:80 -> 10.0.0.20:80 # " + out + ": draining up to 1m0s before deletion"},
		{name: "drained", weight: 0, active: 0,
			drains: []plan.DrainRecord{{Service: sorryKey, Addr: as, Weight: 1, Since: t0.Add(-2 * time.Second)}},
			want:   "delete tcp:192.0.2.9:80 -> 10.0.0.20:80 # " + out + ": drained (no active connections)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unchecked(host(true, 0, 0))
			obs := &plan.Observed{Services: []ipvs.Service{want.Services[0].Service}}
			obs.Services[0].Destinations = append([]ipvs.Destination{dest(a1, 0), dest(a2, 2)}, dest(as, tt.weight))
			obs.Services[0].Destinations[2].ActiveConns = tt.active
			st := map[health.Key]health.Status{k("web1"): upSt(), k("web2"): upSt()}
			p := plan.Diff(overlay.New().Apply(want, st), obs, &plan.State{Drains: tt.drains}, plan.Options{DrainTimeout: time.Minute, Now: t0})
			var ops []string
			for _, op := range p.Ops {
				if op.Kind() == plan.KindDestination {
					ops = append(ops, string(op.Action)+" "+op.Object().String()+" # "+op.Reason)
				}
			}
			exp := []string{"update tcp:192.0.2.9:80 -> 10.0.0.11:80 # service web", tt.want}
			if diff := cmp.Diff(exp, ops); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}
