package applier

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lvsgen/lvsgen/hoststate"
)

// Default files that make the applied state survive a reboot without
// lvsgen: Debian's ipvsadm service restores the rules file at boot, and
// systemd-sysctl reads sysctl.d.
const (
	DefaultRulesFile  = "/etc/ipvsadm.rules"
	DefaultSysctlFile = "/etc/sysctl.d/90-lvsgen.conf"
)

// Persist writes the host's IPVS rules in ipvsadm-save form and its
// sysctls as a sysctl.d fragment. An empty path skips that file.
func Persist(want *hoststate.Host, rulesFile, sysctlFile string) error {
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
	return nil
}
