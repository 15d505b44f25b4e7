package memory

import (
	"context"
	"fmt"
	"slices"
	"syscall"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// nftKey names a table: family and name, as nftables keys them.
type nftKey struct {
	family kernel.NFTFamily
	name   string
}

// cloneTable is a deep copy of t, so that a caller's later edits of its
// slices never reach the kernel's copy, nor the kernel's the caller's.
func cloneTable(t kernel.NFTTable) kernel.NFTTable {
	t.Chains = slices.Clone(t.Chains)
	for i := range t.Chains {
		t.Chains[i].Rules = slices.Clone(t.Chains[i].Rules)
	}
	return t
}

// NFTable implements kernel.NFTables.
func (k *Kernel) NFTable(ctx context.Context, family kernel.NFTFamily, name string) (kernel.NFTTable, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.nft[nftKey{family, name}]
	if !ok {
		return kernel.NFTTable{}, &kernel.OpError{Op: "reading", Object: fmt.Sprintf("nft table %s %s", family, name), Err: syscall.ENOENT}
	}
	return cloneTable(t), nil
}

// ReplaceNFTable implements kernel.NFTables: the whole table at once,
// as the kernel's transaction does, or nothing.
func (k *Kernel) ReplaceNFTable(ctx context.Context, t kernel.NFTTable) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := kernel.OpError{Op: "replacing", Object: "nft table " + t.String()}
	if err := k.write(op); err != nil {
		return err
	}
	// The kernel refuses an address of the other family or an unknown
	// family with EINVAL, and then takes none of the transaction.
	if err := t.Validate(); err != nil {
		return failed(op, fmt.Errorf("%v: %w", err, syscall.EINVAL))
	}
	if k.nft == nil {
		k.nft = map[nftKey]kernel.NFTTable{}
	}
	t = cloneTable(t)
	// The kernel reads back empty lists, never nil ones.
	if t.Chains == nil {
		t.Chains = []kernel.NFTChain{}
	}
	for i := range t.Chains {
		if t.Chains[i].Rules == nil {
			t.Chains[i].Rules = []kernel.SNATRule{}
		}
	}
	k.nft[nftKey{t.Family, t.Name}] = t
	return nil
}

// DelNFTable implements kernel.NFTables.
func (k *Kernel) DelNFTable(ctx context.Context, family kernel.NFTFamily, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	op := kernel.OpError{Op: "deleting", Object: fmt.Sprintf("nft table %s %s", family, name)}
	if err := k.write(op); err != nil {
		return err
	}
	if _, ok := k.nft[nftKey{family, name}]; !ok {
		return failed(op, syscall.ENOENT)
	}
	delete(k.nft, nftKey{family, name})
	return nil
}

// FlushNFTable deletes every rule of a table and keeps its chains, as
// `nft flush table` does: drift for tests to make. It reports whether the
// table exists.
func (k *Kernel) FlushNFTable(family kernel.NFTFamily, name string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.nft[nftKey{family, name}]
	if !ok {
		return false
	}
	t = cloneTable(t)
	for i := range t.Chains {
		t.Chains[i].Rules = []kernel.SNATRule{}
	}
	k.nft[nftKey{family, name}] = t
	return true
}

// nftString prints the tables as nft lists them, by family and name.
func (k *Kernel) nftString() string {
	keys := make([]nftKey, 0, len(k.nft))
	for key := range k.nft {
		keys = append(keys, key)
	}
	slices.SortFunc(keys, func(a, b nftKey) int {
		if a.family != b.family {
			if a.family < b.family {
				return -1
			}
			return 1
		}
		if a.name < b.name {
			return -1
		}
		if a.name > b.name {
			return 1
		}
		return 0
	})
	s := ""
	for _, key := range keys {
		s += k.nft[key].Text()
	}
	return s
}
