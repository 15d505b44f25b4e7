package applier

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
	"github.com/lvsgen/lvsgen/plan"
)

// Observe reads what plan.Diff needs from k: one dump per kind of object, and
// the sysctls want or st name.
func Observe(ctx context.Context, k kernel.Kernel, want *hoststate.Host, st *plan.State) (*plan.Observed, error) {
	return observe(ctx, k, want, st, k.Services)
}

// observe is Observe with the IPVS table read by services.
func observe(ctx context.Context, k kernel.Kernel, want *hoststate.Host, st *plan.State, services func(context.Context) ([]ipvs.Service, error)) (*plan.Observed, error) {
	var obs plan.Observed
	var err error
	if obs.Services, err = services(ctx); err != nil {
		return nil, fmt.Errorf("reading IPVS services: %w", err)
	}
	if obs.Timeouts, err = k.Timeouts(ctx); err != nil {
		return nil, fmt.Errorf("reading IPVS timeouts: %w", err)
	}
	if obs.Links, err = k.Links(ctx); err != nil {
		return nil, fmt.Errorf("reading links: %w", err)
	}
	if obs.Addresses, err = k.Addresses(ctx); err != nil {
		return nil, fmt.Errorf("reading addresses: %w", err)
	}
	if obs.Routes, err = k.Routes(ctx); err != nil {
		return nil, fmt.Errorf("reading routes: %w", err)
	}
	if obs.FOUs, err = k.FOUs(ctx); err != nil {
		return nil, fmt.Errorf("reading fou ports: %w", err)
	}
	obs.Sysctls = map[string]string{}
	keys := []string{}
	for _, s := range want.Sysctls {
		keys = append(keys, s.Key)
	}
	for key := range st.Sysctls {
		keys = append(keys, key)
	}
	for _, key := range keys {
		v, err := k.Sysctl(ctx, key)
		if errors.Is(err, syscall.ENOENT) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading sysctl: %w", err)
		}
		obs.Sysctls[key] = v
	}
	return &obs, nil
}
