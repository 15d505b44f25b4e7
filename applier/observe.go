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
// the sysctls want or st name. An IPVS table alone (a capture, for
// `lvsgen plan --observed`) is enough when neither want nor st has any
// host object (link, address, route, fou port, sysctl, nftables table,
// sync daemon):
// the host part of the observation is then empty. Otherwise k must be a kernel.Kernel.
func Observe(ctx context.Context, k kernel.IPVS, want *hoststate.Host, st *plan.State) (*plan.Observed, error) {
	return observe(ctx, k, want, st, k.Services)
}

// ErrIPVSOnly is returned (wrapped) when a kernel that is an IPVS table
// alone is asked for the host's objects.
var ErrIPVSOnly = errors.New("this kernel is an IPVS table alone (a capture): it has no links, addresses, routes, fou ports, sysctls, nftables tables or sync daemons")

// observe is Observe with the IPVS table read by services.
func observe(ctx context.Context, k kernel.IPVS, want *hoststate.Host, st *plan.State, services func(context.Context) ([]ipvs.Service, error)) (*plan.Observed, error) {
	var obs plan.Observed
	var err error
	if obs.Services, err = services(ctx); err != nil {
		return nil, fmt.Errorf("reading IPVS services: %w", err)
	}
	if obs.Timeouts, err = k.Timeouts(ctx); err != nil {
		return nil, fmt.Errorf("reading IPVS timeouts: %w", err)
	}
	hk, ok := k.(kernel.Kernel)
	if !ok {
		if hasHostObjects(want, st) {
			return nil, fmt.Errorf("observing host %s: %w", want.Name, ErrIPVSOnly)
		}
		obs.Sysctls = map[string]string{}
		return &obs, nil
	}
	if err := observeHost(ctx, hk, want, st, &obs); err != nil {
		return nil, err
	}
	return &obs, nil
}

// hasHostObjects reports whether want or st names any object of the host
// beyond the IPVS table.
func hasHostObjects(want *hoststate.Host, st *plan.State) bool {
	return len(want.Links)+len(want.Addresses)+len(want.Routes)+len(want.FOU)+len(want.Sysctls)+len(want.NFTables)+len(want.SyncDaemons) > 0 ||
		len(st.Links)+len(st.Addresses)+len(st.Routes)+len(st.FOUs)+len(st.Sysctls)+len(st.NFTables)+len(st.SyncDaemons) > 0
}

// observeHost reads the host's objects into obs.
func observeHost(ctx context.Context, k kernel.Kernel, want *hoststate.Host, st *plan.State, obs *plan.Observed) error {
	var err error
	if obs.Links, err = k.Links(ctx); err != nil {
		return fmt.Errorf("reading links: %w", err)
	}
	if obs.Addresses, err = k.Addresses(ctx); err != nil {
		return fmt.Errorf("reading addresses: %w", err)
	}
	if obs.Routes, err = k.Routes(ctx); err != nil {
		return fmt.Errorf("reading routes: %w", err)
	}
	if obs.FOUs, err = k.FOUs(ctx); err != nil {
		return fmt.Errorf("reading fou ports: %w", err)
	}
	if obs.NFTables, err = observeNFTables(ctx, k, want, st); err != nil {
		return err
	}
	if obs.SyncDaemons, err = k.SyncDaemons(ctx); err != nil {
		return fmt.Errorf("reading sync daemons: %w", err)
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
			return fmt.Errorf("reading sysctl: %w", err)
		}
		obs.Sysctls[key] = v
	}
	return nil
}
