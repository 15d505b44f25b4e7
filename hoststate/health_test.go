package hoststate_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/model"
)

// checkedHost is a director with a service whose two destinations are
// checked and which has a sorry server and a quorum.
func checkedHost() hoststate.Host {
	vip := netip.MustParseAddr("192.0.2.9")
	a, b := netip.MustParseAddr("10.0.0.11"), netip.MustParseAddr("10.0.0.12")
	check := model.Check{Type: "http", Port: 8080, Interval: 5 * time.Second, Timeout: 3 * time.Second, IntervalText: "5s", TimeoutText: "3s",
		Rise: 2, Fall: 3, InitialUp: true, OnFailure: "quiesce", Path: "/healthz", Expect: []int{200}}
	exec := model.Check{Type: "exec", Port: 80, Interval: 10 * time.Second, Timeout: 3 * time.Second, IntervalText: "10s", TimeoutText: "3s",
		Rise: 1, Fall: 1, OnFailure: "remove", Command: []string{"/usr/local/bin/ok", "--fast"}, User: "nobody"}
	return hoststate.Host{Name: "lb1", Roles: []string{"director"}, Services: []hoststate.Service{{
		Name: "web",
		Service: ipvs.Service{
			ServiceKey: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: vip, Port: 80}, Scheduler: "wlc", NetmaskBits: 32,
			Destinations: []ipvs.Destination{
				{Addr: a, Port: 80, Forward: ipvs.Route, Weight: 2},
				{Addr: b, Port: 80, Forward: ipvs.Route, Weight: 1},
			},
		},
		// Out of order: the text follows the destinations.
		Checks: []hoststate.Check{
			{Real: "web2", Destination: netip.AddrPortFrom(b, 80), Addr: netip.AddrPortFrom(b, 80), Check: exec},
			{Real: "web1", Destination: netip.AddrPortFrom(a, 80), Addr: netip.AddrPortFrom(a, 8080), Check: check},
		},
		Sorry:  &ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.20"), Port: 80, Forward: ipvs.Route, Weight: 1},
		Quorum: 2, Hysteresis: 1,
	}}}
}

func TestWriteTextChecks(t *testing.T) {
	h := checkedHost()
	var b bytes.Buffer
	if err := hoststate.WriteText(&b, &h); err != nil {
		t.Fatal(err)
	}
	want := `host lb1 (director)

IPVS rules (ipvsadm-save -n):
-A -t 192.0.2.9:80 -s wlc
-a -t 192.0.2.9:80 -r 10.0.0.11:80 -g -w 2
  # check web1: http 10.0.0.11:8080/healthz expect=200 every 5s timeout 3s rise 2 fall 3 initial up on-failure quiesce
-a -t 192.0.2.9:80 -r 10.0.0.12:80 -g -w 1
  # check web2: exec 10.0.0.12:80 "/usr/local/bin/ok" "--fast" as nobody every 10s timeout 3s rise 1 fall 1 initial down on-failure remove
  # sorry server 10.0.0.20:80 (dr), while the weights of the real servers up sum to less than 2 (from below 1 until 3 again)
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
}

// TestServiceJSONChecks: checks, sorry, quorum and hysteresis appear in
// a service's JSON only when set, so that hosts without them render as
// before.
func TestServiceJSONChecks(t *testing.T) {
	h := checkedHost()
	s := h.Services[0]
	s.Checks = s.Checks[1:]
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"web","family":"ipv4","protocol":"tcp","address":"192.0.2.9","port":80,"scheduler":"wlc","flags":[],"persistent":false,"onePacket":false,` +
		`"destinations":[{"address":"10.0.0.11","port":80,"forward":"dr","weight":2,"upperThreshold":0,"lowerThreshold":0},{"address":"10.0.0.12","port":80,"forward":"dr","weight":1,"upperThreshold":0,"lowerThreshold":0}],` +
		`"checks":[{"real":"web1","destination":"10.0.0.11:80","addr":"10.0.0.11:8080","type":"http","port":8080,"interval":"5s","timeout":"3s","rise":2,"fall":3,"initialUp":true,"onFailure":"quiesce","path":"/healthz","expect":[200]}],` +
		`"sorry":{"address":"10.0.0.20","port":80,"forward":"dr","weight":1,"upperThreshold":0,"lowerThreshold":0},"quorum":2,"hysteresis":1}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	s.Checks, s.Sorry, s.Quorum, s.Hysteresis = nil, nil, 0, 0
	got, err = json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte("checks")) || bytes.Contains(got, []byte("sorry")) || bytes.Contains(got, []byte("quorum")) {
		t.Errorf("JSON without checks names them: %s", got)
	}
}
