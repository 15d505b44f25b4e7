// Package bird renders the BIRD 2 configuration that announces the VIPs
// of a director's active-active clusters to their BGP peers
// (`lvsgen render --format bird`).
//
// The VIPs are announced from what the kernel holds, not from a list
// lvsgen pushes: a direct protocol reads the addresses bound on the
// clusters' VIP devices, and each session's export filter lets through
// the cluster's VIPs only. A VIP is announced while lvsgen keeps it
// bound, and withdrawn when lvsgen removes it, with no call from lvsgen
// to BIRD: lvsgen writes kernel objects, never runs other daemons.
//
// BIRD rather than FRR: one file that `bird -p -c` checks without a
// running daemon, `birdc configure` loads atomically, and whose direct
// protocol and prefix-set filters say "announce these addresses while
// they are bound" in a few lines.
package bird

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/lvsgen/lvsgen/model"
)

// Cluster is what one active-active cluster gives a director's BIRD.
type Cluster struct {
	Name string
	// ASN is the directors' AS; Peers the routers, sorted by address.
	ASN   uint32
	Peers []model.BGPPeer
	// Device is the device the cluster's VIPs are bound on.
	Device string
	// V4 and V6 are the cluster's VIPs, sorted, once each.
	V4, V6 []netip.Addr
}

// Config is a director's BIRD configuration.
type Config struct {
	Host string
	// RouterID is the director's first IPv4 interface address.
	RouterID netip.Addr
	Clusters []Cluster
}

// Build returns host's BIRD configuration: one Cluster per active-active
// cluster it directs, sorted by name. It reports false when the host
// directs none (not an error: the caller says so).
func Build(cfg *model.Config, host string) (Config, bool) {
	c := Config{Host: host}
	h := cfg.Hosts[host]
	if h == nil {
		return c, false
	}
	for _, ifc := range h.Interfaces {
		for _, p := range ifc.Addresses {
			if p.Addr().Is4() && !c.RouterID.IsValid() {
				c.RouterID = p.Addr()
			}
		}
	}
	names := make([]string, 0, len(cfg.Clusters))
	for n := range cfg.Clusters {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		cl := cfg.Clusters[name]
		if cl.Mode != model.ActiveActive || cl.BGP == nil || !slices.Contains(cl.Directors, host) {
			continue
		}
		bc := Cluster{Name: name, ASN: cl.BGP.ASN, Peers: slices.Clone(cl.BGP.Peers), Device: cl.VIPDevice}
		slices.SortFunc(bc.Peers, func(a, b model.BGPPeer) int { return a.Address.Compare(b.Address) })
		for _, s := range cfg.Services {
			if s.Cluster != name {
				continue
			}
			for _, a := range s.BoundAddresses() {
				if a.Is4() {
					bc.V4 = append(bc.V4, a)
				} else {
					bc.V6 = append(bc.V6, a)
				}
			}
		}
		for _, v := range []*[]netip.Addr{&bc.V4, &bc.V6} {
			slices.SortFunc(*v, netip.Addr.Compare)
			*v = slices.Compact(*v)
		}
		c.Clusters = append(c.Clusters, bc)
	}
	return c, len(c.Clusters) > 0
}

// ident makes a BIRD symbol of a cluster name: BIRD's symbols are
// letters, digits and underscores.
func ident(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// Write writes c as bird.conf text: the router id, the device and direct
// protocols that see the VIPs bound, and per cluster the prefix set of
// its VIPs of each family, an export filter, and one BGP session per
// peer. An IPv4 peer is sent the IPv4 VIPs, an IPv6 peer the IPv6 ones;
// neither is sent routes (import none): the directors route as their
// own config says.
func Write(w io.Writer, c Config) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# BGP of director %s, written by `lvsgen render --host %s --format bird`.\n", c.Host, c.Host)
	b.WriteString("# Do not edit: the VIPs are the config's services'; change the config and render again.\n")
	b.WriteString("# BIRD 2: check with `bird -p -c FILE`, load with `birdc configure`.\n\n")
	fmt.Fprintf(&b, "router id %s;\n\n", c.RouterID)
	b.WriteString("# Interfaces and their addresses, for the direct protocol.\nprotocol device {\n}\n\n")
	var devs []string
	for _, cl := range c.Clusters {
		if !slices.Contains(devs, cl.Device) {
			devs = append(devs, cl.Device)
		}
	}
	b.WriteString("# The addresses bound on the VIP devices: a VIP is announced while lvsgen\n# keeps it bound, and withdrawn when lvsgen removes it.\n")
	b.WriteString("protocol direct lvsgen_vips {\n\tipv4;\n\tipv6;\n\tinterface ")
	for i, d := range devs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", d)
	}
	b.WriteString(";\n}\n")
	for _, cl := range c.Clusters {
		id := "lvsgen_" + ident(cl.Name)
		fmt.Fprintf(&b, "\n# cluster %s: AS %d, VIPs on %s\n", cl.Name, cl.ASN, cl.Device)
		for _, fam := range []struct {
			name string
			vips []netip.Addr
		}{{"v4", cl.V4}, {"v6", cl.V6}} {
			if len(fam.vips) == 0 {
				continue
			}
			fmt.Fprintf(&b, "define %s_%s = [ ", id, fam.name)
			for i, a := range fam.vips {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(netip.PrefixFrom(a, a.BitLen()).String())
			}
			b.WriteString(" ];\n")
			fmt.Fprintf(&b, "filter %s_%s_out {\n\tif net ~ %s_%s then accept;\n\treject;\n}\n", id, fam.name, id, fam.name)
		}
		for i, p := range cl.Peers {
			fam, vips := "v4", cl.V4
			channel := "ipv4"
			if p.Address.Is6() {
				fam, vips, channel = "v6", cl.V6, "ipv6"
			}
			fmt.Fprintf(&b, "\nprotocol bgp %s_%d {\n", id, i+1)
			fmt.Fprintf(&b, "\tdescription \"cluster %s, router %s\";\n", cl.Name, p.Address)
			fmt.Fprintf(&b, "\tlocal as %d;\n", cl.ASN)
			fmt.Fprintf(&b, "\tneighbor %s as %d;\n", p.Address, p.ASN)
			fmt.Fprintf(&b, "\t%s {\n\t\timport none;\n", channel)
			if len(vips) > 0 {
				fmt.Fprintf(&b, "\t\texport filter %s_%s_out;\n", id, fam)
			} else {
				b.WriteString("\t\texport none;\n")
			}
			b.WriteString("\t};\n}\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
