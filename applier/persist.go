package applier

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lvsgen/lvsgen/hoststate"
)

// Default files that make the applied state survive a reboot without
// lvsgen: Debian's ipvsadm service restores the rules file at boot,
// systemd-sysctl reads sysctl.d, and the nftables file is for
// /etc/nftables.conf to include (docs/OPERATIONS.md): nothing reads it
// by default.
const (
	DefaultRulesFile  = "/etc/ipvsadm.rules"
	DefaultSysctlFile = "/etc/sysctl.d/90-lvsgen.conf"
	DefaultNFTFile    = "/etc/lvsgen/nftables.nft"
)

// Persist writes the host's IPVS rules in ipvsadm-save form, its sysctls
// as a sysctl.d fragment and its nftables tables as an nft script. An
// empty path skips that file.
//
// The nft script is written only for a host with nftables tables (fullnat
// services) or over an earlier one: a host that never had FULLNAT gets no
// file in /etc/lvsgen it did not ask for, and one whose last fullnat
// service left gets a script that loads nothing.
func Persist(want *hoststate.Host, rulesFile, sysctlFile, nftFile string) error {
	if rulesFile != "" {
		var b bytes.Buffer
		if err := hoststate.WriteSave(&b, want); err != nil {
			return fmt.Errorf("persisting IPVS rules: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(rulesFile), 0o755); err != nil {
			return fmt.Errorf("persisting IPVS rules: %w", err)
		}
		if err := writeFileAtomic(rulesFile, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("persisting IPVS rules: %w", err)
		}
	}
	if sysctlFile != "" {
		var b bytes.Buffer
		fmt.Fprintf(&b, "# Written by lvsgen for host %s; edit the lvsgen config, not this file.\n", want.Name)
		for _, s := range want.Sysctls {
			fmt.Fprintf(&b, "%s = %s\n", s.Key, s.Value)
		}
		if err := os.MkdirAll(filepath.Dir(sysctlFile), 0o755); err != nil {
			return fmt.Errorf("persisting sysctls: %w", err)
		}
		if err := writeFileAtomic(sysctlFile, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("persisting sysctls: %w", err)
		}
	}
	if nftFile != "" {
		if err := persistNFT(want, nftFile); err != nil {
			return fmt.Errorf("persisting nftables tables: %w", err)
		}
	}
	return nil
}

// persistNFT writes want's nftables tables to path as a script `nft -f`
// loads in one transaction. Each table is declared, deleted and defined
// again — declaring first makes the delete succeed when the table is not
// there — so loading the script replaces lvsgen's tables whole whatever
// the kernel holds: at boot, or from /etc/nftables.conf after its `flush
// ruleset`, which would otherwise remove them until lvsgen's next apply.
func persistNFT(want *hoststate.Host, path string) error {
	if len(want.NFTables) == 0 {
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "#!/usr/sbin/nft -f\n# Written by lvsgen for host %s; edit the lvsgen config, not this file.\n", want.Name)
	if len(want.NFTables) == 0 {
		b.WriteString("# The host has no fullnat services: nothing to load.\n")
	}
	for _, t := range want.NFTables {
		fmt.Fprintf(&b, "\ntable %s %s\ndelete table %s %s\n%s", t.Family, t.Name, t.Family, t.Name, t.Text())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(path, b.Bytes(), 0o644)
}
