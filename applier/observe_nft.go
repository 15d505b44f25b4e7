package applier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/plan"
)

// observeNFTables reads lvsgen's nftables tables that want or st name,
// and no other: the host's own firewall tables are never read. A missing
// table is absent from the result.
func observeNFTables(ctx context.Context, k kernel.NFTables, want *hoststate.Host, st *plan.State) ([]kernel.NFTTable, error) {
	var refs []plan.NFTableRef
	for _, t := range want.NFTables {
		refs = append(refs, plan.NFTableRef{Family: t.Family, Name: t.Name})
	}
	for _, r := range st.NFTables {
		if r.Ours() {
			refs = append(refs, r)
		}
	}
	var out []kernel.NFTTable
	for _, r := range refs {
		if slices.ContainsFunc(out, func(t kernel.NFTTable) bool { return t.Family == r.Family && t.Name == r.Name }) {
			continue
		}
		t, err := k.NFTable(ctx, r.Family, r.Name)
		if errors.Is(err, syscall.ENOENT) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading nftables: %w", err)
		}
		out = append(out, t)
	}
	return out, nil
}
