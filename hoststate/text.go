package hoststate

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
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
		if err := writeRules(w, h); err != nil {
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
	section("IPVS sync daemons (ipvsadm -L --daemon)", len(h.SyncDaemons), func(i int) (string, []string) {
		d := h.SyncDaemons[i]
		return d.SyncDaemon.String(), d.Reasons
	})
	if len(h.NFTables) > 0 {
		fmt.Fprintln(w, "\nnftables (nft list table):")
		for _, t := range h.NFTables {
			fmt.Fprintf(w, "# %s\n%s", strings.Join(t.Reasons, ", "), t.Text())
		}
	}
	return nil
}

// WriteNFT writes the host's nftables tables as `nft list table` prints
// each: nothing for a host without fullnat services.
func WriteNFT(w io.Writer, h *Host) error {
	for _, t := range h.NFTables {
		if _, err := io.WriteString(w, t.Text()); err != nil {
			return err
		}
	}
	return nil
}

// writeRules writes the host's IPVS rules in ipvsadm-save form with, when
// a service has health checks or a sorry server, a comment line under
// each checked destination and one for the sorry server. Without any,
// it is WriteSave.
func writeRules(w io.Writer, h *Host) error {
	if !slices.ContainsFunc(h.Services, func(s Service) bool { return len(s.Checks) > 0 || s.Sorry != nil }) {
		return WriteSave(w, h)
	}
	for _, s := range h.Services {
		var b bytes.Buffer
		if err := ipvs.FormatSave(&b, []ipvs.Service{s.Service}); err != nil {
			return err
		}
		// FormatSave writes the -A line, then one -a line per
		// destination in ipvsadm's order, which is SortDestinations'.
		dests := slices.Clone(s.Destinations)
		ipvs.SortDestinations(dests)
		lines := strings.SplitAfter(strings.TrimSuffix(b.String(), "\n"), "\n")
		for i, line := range lines {
			io.WriteString(w, strings.TrimSuffix(line, "\n")+"\n")
			if i == 0 || i > len(dests) {
				continue
			}
			for _, c := range s.Checks {
				if c.Destination == dests[i-1].AddrPort() {
					fmt.Fprintf(w, "  # check %s: %s\n", c.Real, c)
				}
			}
		}
		if d := s.Sorry; d != nil {
			fmt.Fprintf(w, "  # sorry server %s (%s), while %s\n", d.AddrPort(), d.Forward, sorryWhen(s))
		}
	}
	return nil
}

// sorryWhen says when a service's sorry server serves.
func sorryWhen(s Service) string {
	switch {
	case s.Quorum == 0:
		return "no real server is up"
	case s.Hysteresis == 0:
		return fmt.Sprintf("the weights of the real servers up sum to less than %d", s.Quorum)
	}
	return fmt.Sprintf("the weights of the real servers up sum to less than %d (from below %d until %d again)",
		s.Quorum, s.Quorum-s.Hysteresis, s.Quorum+s.Hysteresis)
}

// String describes the check on one line: type, where it goes, what it
// asks and expects, then its timing and what a failure does.
func (c Check) String() string {
	var b strings.Builder
	b.WriteString(c.Type + " " + c.Addr.String())
	switch c.Type {
	case "http", "https":
		b.WriteString(c.Path)
		if c.Host != "" {
			b.WriteString(" host=" + c.Host)
		}
		codes := make([]string, len(c.Expect))
		for i, x := range c.Expect {
			codes[i] = strconv.Itoa(x)
		}
		b.WriteString(" expect=" + strings.Join(codes, ","))
		if c.Body != "" {
			b.WriteString(" body=" + strconv.Quote(c.Body))
		}
		if c.ServerName != "" {
			b.WriteString(" sni=" + c.ServerName)
		}
		if c.Type == "https" && c.Verify {
			b.WriteString(" verify")
		}
	case "udp":
		if c.Send != "" {
			b.WriteString(" send=" + strconv.Quote(c.Send))
		}
		if c.Receive != "" {
			b.WriteString(" receive=" + strconv.Quote(c.Receive))
		}
	case "dns":
		b.WriteString(" " + c.QueryType + " " + c.Query)
		if c.Answer != "" {
			b.WriteString(" answer=" + strconv.Quote(c.Answer))
		}
	case "exec":
		for _, a := range c.Command {
			b.WriteString(" " + strconv.Quote(a))
		}
		b.WriteString(" as " + c.User)
	}
	initial := "up"
	if !c.InitialUp {
		initial = "down"
	}
	fmt.Fprintf(&b, " every %s timeout %s rise %d fall %d initial %s on-failure %s",
		c.IntervalText, c.TimeoutText, c.Rise, c.Fall, initial, c.OnFailure)
	return b.String()
}
