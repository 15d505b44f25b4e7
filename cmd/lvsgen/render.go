package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
)

func newRender() *cobra.Command {
	var host, format string
	c := &cobra.Command{
		Use:   "render DIR --host NAME",
		Short: "Print the desired state of one host",
		Long: `render compiles DIR and prints what one host must look like:
  --format text           everything, with the services that need each item (default)
  --format ipvsadm-save   the IPVS rules exactly as 'ipvsadm-save -n' prints them once loaded
  --format sysctl         a sysctl.d fragment
  --format json           the whole desired state (documented in docs/CONFIG.md)
An invalid config prints its diagnostics on stderr and exits 1.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			write, ok := renderers[format]
			if !ok {
				return usageError{fmt.Errorf("unknown --format %q: want text, ipvsadm-save, sysctl or json", format)}
			}
			if host == "" {
				return usageError{fmt.Errorf("render needs --host NAME")}
			}
			res, err := compiler.Compile(args[0])
			if err != nil {
				return err
			}
			if !res.Valid() {
				_ = diag.WriteText(os.Stderr, res.Diagnostics)
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
			return write(cmd.OutOrStdout(), h)
		},
	}
	c.Flags().StringVar(&host, "host", "", "the host to render (required)")
	c.Flags().StringVar(&format, "format", "text", "text, ipvsadm-save, sysctl or json")
	return c
}

var renderers = map[string]func(io.Writer, *hoststate.Host) error{
	"ipvsadm-save": func(w io.Writer, h *hoststate.Host) error { return ipvs.FormatSave(w, ipvsServices(h)) },
	"sysctl":       writeSysctl,
	"json": func(w io.Writer, h *hoststate.Host) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(h)
	},
	"text": writeText,
}

func ipvsServices(h *hoststate.Host) []ipvs.Service {
	out := make([]ipvs.Service, 0, len(h.Services))
	for _, s := range h.Services {
		out = append(out, s.Service)
	}
	return out
}

func writeSysctl(w io.Writer, h *hoststate.Host) error {
	fmt.Fprintf(w, "# sysctl.d fragment for host %s, written by lvsgen; edit the lvsgen config, not this file.\n", h.Name)
	for _, s := range h.Sysctls {
		fmt.Fprintf(w, "# %s\n%s = %s\n", strings.Join(s.Reasons, ", "), s.Key, s.Value)
	}
	return nil
}

func writeText(w io.Writer, h *hoststate.Host) error {
	fmt.Fprintf(w, "host %s (%s)\n", h.Name, strings.Join(h.Roles, ", "))
	if len(h.Services) > 0 {
		fmt.Fprintln(w, "\nIPVS rules (ipvsadm-save -n):")
		if err := ipvs.FormatSave(w, ipvsServices(h)); err != nil {
			return err
		}
	}
	if t := h.Timeouts; t != nil {
		fmt.Fprintf(w, "\nIPVS timeouts: tcp %ds, tcpfin %ds, udp %ds\t# %s\n", t.TCP, t.TCPFin, t.UDP, strings.Join(t.Reason, ", "))
	}
	section := func(title string, n int, line func(i int) (string, []string)) {
		if n == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for i := range n {
			s, reasons := line(i)
			fmt.Fprintf(w, "  %-48s # %s\n", s, strings.Join(reasons, ", "))
		}
	}
	section("sysctls", len(h.Sysctls), func(i int) (string, []string) {
		s := h.Sysctls[i]
		return s.Key + " = " + s.Value, s.Reasons
	})
	section("links (created and up)", len(h.Links), func(i int) (string, []string) {
		l := h.Links[i]
		return l.Name + " (" + l.Kind + ")", l.Reasons
	})
	section("addresses", len(h.Addresses), func(i int) (string, []string) {
		a := h.Addresses[i]
		return a.Prefix.String() + " dev " + a.Device, a.Reasons
	})
	section("fou listeners", len(h.FOU), func(i int) (string, []string) {
		f := h.FOU[i]
		s := fmt.Sprintf("port %d gue", f.Port)
		if f.IPv6 {
			s += " -6"
		}
		return s, f.Reasons
	})
	section("routes", len(h.Routes), func(i int) (string, []string) {
		r := h.Routes[i]
		return r.Dst.String() + " via " + r.Gateway.String(), r.Reasons
	})
	return nil
}
