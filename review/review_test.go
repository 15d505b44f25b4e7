package review

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/gen"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/model"
	"github.com/lvsgen/lvsgen/plan"
)

// bigPair is the 10,000-service director of the benchmark configs and a
// copy with one service changed: the weight of the first real server of
// the 101st service.
func bigPair() (base, head *hoststate.Host) {
	base, head = gen.Director(10000, 10), gen.Director(10000, 10)
	head.Services[100].Destinations[0].Weight = 9
	return base, head
}

// TestCompare: each kind of change a review reports, on one director,
// counted per host and in total, with hosts nothing changes on left out.
func TestCompare(t *testing.T) {
	base := gen.Director(3, 2)
	head := gen.Director(3, 2)
	head.Services[0].Scheduler = "wlc"
	head.Services[1].Destinations = head.Services[1].Destinations[:1]
	leaving := base.Services[2]
	head.Services = head.Services[:2]
	added := leaving.Service
	added.ServiceKey.Addr = netip.MustParseAddr("192.0.2.99")
	head.Services = append(head.Services, hoststate.Service{Name: "new", Service: added})
	same := &hoststate.Host{Name: "web1", Sysctls: []hoststate.Sysctl{{Key: "net.ipv4.conf.all.arp_ignore", Value: "1"}}}
	same2 := &hoststate.Host{Name: "web1", Sysctls: []hoststate.Sysctl{{Key: "net.ipv4.conf.all.arp_ignore", Value: "1"}}}
	// A new host: its settings exist with the host's own values, but
	// those of a device lvsgen creates.
	web9 := &hoststate.Host{Name: "web9",
		Links:   []hoststate.Link{{Link: kernel.Link{Name: "tunl0", Kind: "ipip", Up: true}}},
		Sysctls: []hoststate.Sysctl{{Key: "net.ipv4.conf.all.arp_ignore", Value: "1"}, {Key: "net.ipv4.conf.tunl0.rp_filter", Value: "0"}}}
	r := Compare(&Side{Label: "a", Hosts: map[string]*hoststate.Host{"lb1": base, "web1": same}},
		&Side{Label: "b", Hosts: map[string]*hoststate.Host{"lb1": head, "web1": same2, "web9": web9}})

	var got []string
	for _, h := range r.Hosts {
		for _, c := range h.Changes {
			got = append(got, h.Name+" "+symbols[c.Action]+" "+string(c.Kind)+" "+c.Service+" "+c.Detail)
		}
	}
	want := []string{
		"lb1 + service new scheduler=" + added.Scheduler,
		"lb1 + destination new dr weight=" + itoa(added.Destinations[0].Weight),
		"lb1 + destination new dr weight=" + itoa(added.Destinations[1].Weight),
		"lb1 ~ service " + base.Services[0].Name + " scheduler: " + base.Services[0].Scheduler + " → wlc",
		"lb1 = destination " + base.Services[1].Name + " weight: " + itoa(base.Services[1].Destinations[1].Weight) + " → 0",
		"lb1 = service " + leaving.Name + " ",
		"lb1 = destination " + leaving.Name + " weight: " + itoa(leaving.Destinations[0].Weight) + " → 0",
		"lb1 = destination " + leaving.Name + " weight: " + itoa(leaving.Destinations[1].Weight) + " → 0",
		"web9 + link  (ipip)",
		"web9 ~ sysctl  value: (the host's value) → 1",
		"web9 + sysctl  = 0",
	}
	if leaving.Protocol == ipvs.UDP || base.Services[1].Protocol == ipvs.UDP {
		t.Fatal("the generator's first services are no longer TCP: the drain expected here is TCP's")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	wantTotal := Counts{HostsTouched: 2, ServicesAdded: 1, ServicesChanged: 1, ServicesRemoved: 1,
		RealsAdded: 2, RealsRemoved: 3, RealsDraining: 3, Other: 3}
	if diff := cmp.Diff(wantTotal, r.Total); diff != "" {
		t.Errorf("total (-want +got):\n%s", diff)
	}
	if r.HostsTotal != 3 || r.Hosts[1].Status != "added" || r.Hosts[1].Note != NoteAdded {
		t.Errorf("hosts %d, web9 %q %q", r.HostsTotal, r.Hosts[1].Status, r.Hosts[1].Note)
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// TestCompareBig: on a 10,000-service director, a one-service change is
// one change, and its text a few lines: a review's size follows the
// change, not the config.
func TestCompareBig(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 services")
	}
	base, head := bigPair()
	r := Compare(&Side{Hosts: map[string]*hoststate.Host{"lb1": base}}, &Side{Hosts: map[string]*hoststate.Host{"lb1": head}})
	if len(r.Hosts) != 1 || len(r.Hosts[0].Changes) != 1 || r.Hosts[0].Changes[0].Action != plan.Update {
		t.Fatalf("review: %+v", r.Hosts)
	}
	var b strings.Builder
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "\n"); n > 12 {
		t.Errorf("%d lines of text for one change:\n%s", n, b.String())
	}
}

// BenchmarkCompare10k reviews a one-service change to a director of
// 10,000 services with 10 real servers each (the compiles are
// cmd/lvsgen's BenchmarkDiff10k).
func BenchmarkCompare10k(b *testing.B) {
	base, head := bigPair()
	bs, hs := &Side{Hosts: map[string]*hoststate.Host{"lb1": base}}, &Side{Hosts: map[string]*hoststate.Host{"lb1": head}}
	b.ReportAllocs()
	for b.Loop() {
		if r := Compare(bs, hs); r.Total.RealsChanged != 1 {
			b.Fatalf("total %+v", r.Total)
		}
	}
}

// TestCompareProblems: a device the host does not declare is the plan's
// problem, reported on the host; a declared one is not.
func TestCompareProblems(t *testing.T) {
	addr := func(dev string) *hoststate.Host {
		return &hoststate.Host{Name: "web1", Addresses: []hoststate.Address{{Address: kernel.Address{Device: dev, Prefix: netip.MustParsePrefix("192.0.2.10/32")}}}}
	}
	cfg := &model.Config{Hosts: map[string]*model.Host{"web1": {Name: "web1", Interfaces: []model.Interface{{Name: "eth0"}}}}}
	for dev, want := range map[string]int{"eth9": 1, "eth0": 0, "lo": 0} {
		r := Compare(&Side{Hosts: map[string]*hoststate.Host{}, Config: cfg}, &Side{Hosts: map[string]*hoststate.Host{"web1": addr(dev)}, Config: cfg})
		if len(r.Hosts) != 1 || len(r.Hosts[0].Problems) != want {
			t.Errorf("address on %s: hosts %+v, want %d problems", dev, r.Hosts, want)
		}
	}
}

// TestMarkdownBounded: a change to thousands of objects stays a comment
// GitHub takes (65,536 characters), the rest counted.
func TestMarkdownBounded(t *testing.T) {
	r := &Review{Base: "a", Head: "b", HostsTotal: 100}
	for i := range 100 {
		h := Host{Name: "lb" + strconv.Itoa(i), Status: "changed"}
		for j := range 1000 {
			h.add(Change{Action: plan.Create, Kind: plan.KindService, Object: "tcp:192.0.2.1:" + strconv.Itoa(j), Service: "svc-" + strconv.Itoa(j), Detail: "scheduler=wrr", Reason: "service svc-" + strconv.Itoa(j)})
		}
		h.Counts.HostsTouched = 1
		r.Total.add(h.Counts)
		r.Hosts = append(r.Hosts, h)
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, r, "flowchart LR\n  n0[\"x\"]\n"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if len(out) > 65536 {
		t.Errorf("%d characters", len(out))
	}
	b.Reset()
	if err := WriteMarkdown(&b, r, strings.Repeat("  n0 --> n1\n", 10000)); err != nil {
		t.Fatal(err)
	}
	if len(b.String()) > 65536 || !strings.Contains(b.String(), "too large for a comment") {
		t.Errorf("a picture of 10,000 edges: %d characters", len(b.String()))
	}
	for _, w := range []string{"more hosts: `lvsgen diff` (text or json) lists them", "… and 940 more changes", "| **total** | 100 hosts | 100000 / 0 / 0 |", "```mermaid"} {
		if !strings.Contains(out, w) {
			t.Errorf("no %q", w)
		}
	}
}
