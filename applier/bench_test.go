package applier

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/gen"
	"github.com/lvsgen/lvsgen/plan"
	"github.com/lvsgen/lvsgen/plan/planfmt"
)

// benchSizes are the numbers of services, each with 10 real servers.
var benchSizes = []int{100, 1000, 10000}

// observedAs returns what Observe reads from a kernel that holds want and
// the state an earlier apply left: the services in an order of their own
// (the kernel dumps its hash table), with their own destination slices.
func observedAs(want *hoststate.Host) (*plan.Observed, *plan.State) {
	obs := &plan.Observed{Timeouts: kernel.Timeouts{TCP: 900, TCPFin: 120, UDP: 300}, Sysctls: map[string]string{}}
	st := plan.NewState(want.Name)
	for _, s := range want.Services {
		svc := s.Service
		svc.Destinations = slices.Clone(svc.Destinations)
		obs.Services = append(obs.Services, svc)
		st.Services = append(st.Services, svc.ServiceKey)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(obs.Services), func(i, j int) {
		obs.Services[i], obs.Services[j] = obs.Services[j], obs.Services[i]
	})
	for _, s := range want.Sysctls {
		obs.Sysctls[s.Key] = s.Value
		st.Sysctls[s.Key] = s.Value
	}
	return obs, st
}

// BenchmarkDiff plans a kernel that matches the config (noop), and one
// where one weight differs (one-change): what every `lvsgen plan`, apply
// and watch resync computes after reading the kernel.
func BenchmarkDiff(b *testing.B) {
	for _, n := range benchSizes {
		want := gen.Director(n, 10)
		obs, st := observedAs(want)
		b.Run(fmt.Sprintf("noop/%dx10", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p := plan.Diff(want, obs, st, plan.Options{Now: t0}); len(p.Ops) != 0 {
					b.Fatalf("%d operations", len(p.Ops))
				}
			}
		})
		changed, _ := observedAs(want)
		changed.Services[n/2].Destinations[3].Weight++
		b.Run(fmt.Sprintf("one-change/%dx10", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p := plan.Diff(want, changed, st, plan.Options{Now: t0}); len(p.Ops) != 1 {
					b.Fatalf("%d operations", len(p.Ops))
				}
			}
		})
	}
}

// BenchmarkPlan builds the plan of an empty kernel — every service and
// destination created, 11 operations per service — and renders it as
// `lvsgen plan` prints it.
func BenchmarkPlan(b *testing.B) {
	for _, n := range benchSizes {
		want := gen.Director(n, 10)
		empty := &plan.Observed{Timeouts: kernel.Timeouts{TCP: 900, TCPFin: 120, UDP: 300}, Sysctls: map[string]string{}}
		for _, s := range want.Sysctls {
			empty.Sysctls[s.Key] = s.Value
		}
		st := plan.NewState(want.Name)
		b.Run(fmt.Sprintf("from-empty/%dx10", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p := plan.Diff(want, empty, st, plan.Options{Now: t0}); len(p.Ops) != 11*n {
					b.Fatalf("%d operations", len(p.Ops))
				}
			}
		})
		p := plan.Diff(want, empty, st, plan.Options{Now: t0})
		b.Run(fmt.Sprintf("text/%dx10", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := planfmt.WriteText(io.Discard, p, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
