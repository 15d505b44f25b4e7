package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/bird"
	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/model"
	"github.com/lvsgen/lvsgen/vrrp"
)

func newRender() *cobra.Command {
	var host, format string
	var policyDirs []string
	var noCache bool
	c := &cobra.Command{
		Use:   "render DIR --host NAME",
		Short: "Print the desired state of one host",
		Long: `render compiles DIR and prints what one host must look like:
  --format text           everything, with the services that need each item (default)
  --format ipvsadm-save   the IPVS rules exactly as 'ipvsadm-save -n' prints them once loaded
  --format sysctl         a sysctl.d fragment
  --format json           the whole desired state (documented in docs/CONFIG.md)
  --format keepalived-vrrp  the vrrp_instance of each cluster the host directs
                          that declares vrrp, for keepalived.conf (docs/OPERATIONS.md)
  --format nft            the nftables tables of fullnat services, as 'nft list table' prints them
  --format bird           BIRD 2's BGP sessions announcing the VIPs of the host's active-active clusters
An invalid config prints its diagnostics on stderr and exits 1; --policy checks
the policies of a directory too, as validate does.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			write, ok := renderers[format]
			if !ok && format != formatVRRP && format != formatBird {
				return usageError{fmt.Errorf("unknown --format %q: want text, ipvsadm-save, sysctl, json, keepalived-vrrp, nft or bird", format)}
			}
			if host == "" {
				return usageError{fmt.Errorf("render needs --host NAME")}
			}
			res, err := compileCached(cmd.ErrOrStderr(), args[0], compiler.Options{PolicyDirs: policyDirs}, noCache)
			if err != nil {
				return err
			}
			if !res.Valid() {
				_ = diag.WriteText(cmd.ErrOrStderr(), res.Diagnostics)
				return exitError{1}
			}
			h, ok := res.Hosts[host]
			if !ok {
				names := make([]string, 0, len(res.Hosts))
				for n := range res.Hosts {
					names = append(names, n)
				}
				slices.Sort(names)
				if _, declared := res.Config.Hosts[host]; declared {
					return fmt.Errorf("host %q is not managed (managed: false): lvsgen renders nothing for it", host)
				}
				return fmt.Errorf("no host %q in %s; managed hosts: %s", host, args[0], strings.Join(names, " "))
			}
			if format == formatVRRP {
				return renderVRRP(cmd, res.Config, host)
			}
			if format == formatBird {
				return renderBird(cmd, res.Config, host)
			}
			return write(cmd.OutOrStdout(), h)
		},
	}
	c.Flags().StringVar(&host, "host", "", "the host to render (required)")
	c.Flags().StringVar(&format, "format", "text", "text, ipvsadm-save, sysctl, json, keepalived-vrrp, nft or bird")
	c.Flags().StringArrayVar(&policyDirs, "policy", nil, "also check the policies in this directory (repeatable)")
	c.Flags().BoolVar(&noCache, "no-cache", false, noCacheUsage)
	return c
}

// formatVRRP is render's --format for keepalived's VRRP configuration,
// which comes from the config's clusters rather than the host's state.
const formatVRRP = "keepalived-vrrp"

// renderVRRP writes host's VRRP instances; a host none of whose clusters
// declares vrrp gets nothing on stdout, and a line on stderr saying why.
func renderVRRP(cmd *cobra.Command, cfg *model.Config, host string) error {
	instances := vrrp.Build(cfg, host)
	if len(instances) == 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "lvsgen: host %s directs no cluster that declares vrrp: no VRRP configuration to write\n", host)
		return nil
	}
	return vrrp.Write(cmd.OutOrStdout(), host, instances)
}

// formatBird is render's --format for BIRD's BGP configuration, which
// comes from the config's active-active clusters.
const formatBird = "bird"

// renderBird writes host's BIRD configuration; a host that directs no
// active-active cluster gets nothing on stdout, and a line on stderr
// saying why.
func renderBird(cmd *cobra.Command, cfg *model.Config, host string) error {
	c, ok := bird.Build(cfg, host)
	if !ok {
		fmt.Fprintf(cmd.ErrOrStderr(), "lvsgen: host %s directs no active-active cluster with bgp: no BIRD configuration to write\n", host)
		return nil
	}
	return bird.Write(cmd.OutOrStdout(), c)
}

// renderers are the --format values and the writer of each.
var renderers = map[string]func(io.Writer, *hoststate.Host) error{
	"ipvsadm-save": hoststate.WriteSave,
	"sysctl":       hoststate.WriteSysctl,
	"json":         hoststate.WriteJSON,
	"text":         hoststate.WriteText,
	"nft":          hoststate.WriteNFT,
}
