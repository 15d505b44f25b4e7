//go:build e2eguest

package compile

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/lvsgen/lvsgen/e2e/topo"
)

// applyRendered configures node n as `lvsgen render dir --host host` says,
// by hand and generically, the way an operator without lvsgen apply would:
// the links (created if missing, and up), the sysctls, the addresses, the
// GUE fou listeners, the routes, the IPVS timeouts, and the IPVS rules
// (`lvsgen render --format ipvsadm-save | ipvsadm -R`, then checked with
// ipvsadm -S -n). The node's base network (interfaces, their addresses, a
// default gateway) is the topology's, as it is the host's own on a real
// machine. It returns the decoded state.
func applyRendered(t *testing.T, n *topo.Node, dir, host string) *hostState {
	t.Helper()
	h := renderState(t, dir, host)
	applyLinks(t, n, h)
	applySysctls(t, n, h)
	for _, a := range h.Addresses {
		if !a.NoDAD && !a.Deprecated {
			n.AddAddr(a.Device, a.Prefix.String())
			continue
		}
		args := []string{"addr", "add", a.Prefix.String(), "dev", a.Device}
		if a.NoDAD {
			args = append(args, "nodad")
		}
		if a.Deprecated {
			args = append(args, "preferred_lft", "0")
		}
		n.MustRun("/sbin/ip", args...)
	}
	for _, f := range h.FOU {
		args := []string{"fou", "add", "port", strconv.Itoa(int(f.Port)), "gue"}
		if f.IPv6 {
			args = append(args, "-6")
		}
		n.MustRun("/sbin/ip", args...)
	}
	for _, r := range h.Routes {
		n.Route(r.Dst.String(), r.Gateway.String())
	}
	applyTimeouts(t, n, h)
	if len(h.Services) > 0 {
		save := render(t, dir, host, "ipvsadm-save")
		restoreClean(t, n, save)
		compareSave(t, save, saved(t, n), false)
	}
	t.Logf("%s: applied %d services, %d sysctls, %d links, %d addresses, %d fou, %d routes",
		host, len(h.Services), len(h.Sysctls), len(h.Links), len(h.Addresses), len(h.FOU), len(h.Routes))
	return h
}

// applyLinks creates the links the render lists that are missing (dummy
// devices; the tunnel devices tunl0, gre0, ip6tnl0 and ip6gre0 are the
// fallback devices their modules make in every namespace), checks that
// each is of the rendered kind in the kernel, and sets it up.
func applyLinks(t *testing.T, n *topo.Node, h *hostState) {
	t.Helper()
	nl := n.Netlink()
	for _, l := range h.Links {
		link, err := nl.LinkByName(l.Name)
		if err != nil {
			if l.Kind != "dummy" {
				t.Fatalf("%s: link %s (%s) is missing and is not a kind this test creates", h.Host, l.Name, l.Kind)
			}
			err = nl.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: l.Name}})
			if err == nil {
				link, err = nl.LinkByName(l.Name)
			}
			if err != nil {
				t.Fatalf("%s: create link %s (%s): %v", h.Host, l.Name, l.Kind, err)
			}
		}
		if got := link.Type(); got != l.Kind {
			t.Errorf("%s: link %s is of kind %s in the kernel, %s in the render", h.Host, l.Name, got, l.Kind)
		}
		if l.Mode != "" {
			n.MustRun("/sbin/ip", "-6", "tunnel", "change", l.Name, "mode", l.Mode)
		}
		n.LinkUp(l.Name)
	}
}

// applySysctls writes the rendered sysctls in n and reads each back.
func applySysctls(t *testing.T, n *topo.Node, h *hostState) {
	t.Helper()
	for _, s := range h.Sysctls {
		n.Sysctl(s.Key, s.Value)
		if got := n.ReadSysctl(s.Key); got != s.Value {
			t.Errorf("%s: sysctl %s reads %s after writing %s", h.Host, s.Key, got, s.Value)
		}
	}
}

// applyTimeouts sets the rendered IPVS timeouts with ipvsadm --set and
// checks that ipvsadm -L --timeout shows them.
func applyTimeouts(t *testing.T, n *topo.Node, h *hostState) {
	t.Helper()
	tm := h.Timeouts
	if tm == nil {
		return
	}
	n.MustRun("ipvsadm", "--set", strconv.Itoa(tm.TCP), strconv.Itoa(tm.TCPFin), strconv.Itoa(tm.UDP))
	out := n.MustRun("ipvsadm", "-L", "-n", "--timeout").Stdout
	want := fmt.Sprintf("Timeout (tcp tcpfin udp): %d %d %d", tm.TCP, tm.TCPFin, tm.UDP)
	if strings.TrimSpace(out) != want {
		t.Errorf("%s: ipvsadm -L --timeout = %q, want %q", h.Host, out, want)
	}
}

// ensureSysctlDevices creates, as dummy devices, the interfaces that the
// rendered per-interface sysctls (net.ipv4.conf.DEV.*) name and n lacks,
// so the sysctls of a host can be written in a bare namespace.
func ensureSysctlDevices(t *testing.T, n *topo.Node, h *hostState) {
	t.Helper()
	for _, s := range h.Sysctls {
		f := strings.Split(s.Key, ".")
		if len(f) < 5 || f[2] != "conf" || f[3] == "all" || f[3] == "default" {
			continue
		}
		if _, err := n.Netlink().LinkByName(f[3]); err != nil {
			n.AddDummy(f[3])
		}
	}
}
