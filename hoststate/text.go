package hoststate

import (
	"fmt"
	"io"
	"strings"

	"github.com/lvsgen/lvsgen/ipvs"
)

// IPVSServices returns the host's IPVS services without their lvsgen
// names, in the host's (ipvsadm's) order.
func (h *Host) IPVSServices() []ipvs.Service {
	out := make([]ipvs.Service, 0, len(h.Services))
	for _, s := range h.Services {
		out = append(out, s.Service)
	}
	return out
}

// WriteSave writes the host's IPVS rules exactly as `ipvsadm-save -n`
// prints them once loaded.
func WriteSave(w io.Writer, h *Host) error { return ipvs.FormatSave(w, h.IPVSServices()) }

// WriteSysctl writes the host's sysctls as a sysctl.d fragment, each
// setting under a comment naming what needs it.
func WriteSysctl(w io.Writer, h *Host) error {
	fmt.Fprintf(w, "# sysctl.d fragment for host %s, written by lvsgen; edit the lvsgen config, not this file.\n", h.Name)
	for _, s := range h.Sysctls {
		fmt.Fprintf(w, "# %s\n%s = %s\n", strings.Join(s.Reasons, ", "), s.Key, s.Value)
	}
	return nil
}

// WriteText writes everything the host must hold, for a person: its IPVS
// rules in ipvsadm-save form, then a section per kind of item, each line
// with the reasons that need it. Empty sections are left out.
func WriteText(w io.Writer, h *Host) error {
	fmt.Fprintf(w, "host %s (%s)\n", h.Name, strings.Join(h.Roles, ", "))
	if len(h.Services) > 0 {
		fmt.Fprintln(w, "\nIPVS rules (ipvsadm-save -n):")
		if err := WriteSave(w, h); err != nil {
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
