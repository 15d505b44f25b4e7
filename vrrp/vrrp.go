package vrrp

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/lvsgen/lvsgen/model"
)

// Instance is one keepalived vrrp_instance of a director.
type Instance struct {
	// Name is the cluster's name, with "_v6" for its IPv6 instance.
	Name    string
	Cluster string
	// State is MASTER for the cluster's highest priority, else BACKUP.
	State          string
	Interface      string
	RouterID       int
	Priority       int
	AdvertInterval int
	// AuthPass is empty for none, and always for an IPv6 instance
	// (VRRPv3 has no authentication).
	AuthPass string
	// VIPs are sorted; Device is the interface they go on.
	VIPs   []netip.Addr
	Device string
}

// Build returns the VRRP instances of host in cfg, sorted by name: one
// per address family of the VIPs of each cluster the host directs that
// declares vrrp. None is not an error: the caller says so.
func Build(cfg *model.Config, host string) []Instance {
	var out []Instance
	for _, name := range sortedKeys(cfg.Clusters) {
		cl := cfg.Clusters[name]
		if cl.VRRP == nil || !slices.Contains(cl.Directors, host) {
			continue
		}
		v4, v6 := vips(cfg, name)
		base := Instance{
			Cluster:        name,
			State:          state(cl.VRRP.Priority, host),
			Interface:      cl.VRRP.Interface,
			RouterID:       cl.VRRP.RouterID,
			Priority:       cl.VRRP.Priority[host],
			AdvertInterval: cl.VRRP.AdvertInterval,
			Device:         cl.VRRP.Interface,
		}
		if cl.VIPBind == "none" && cl.VIPDevice != "" {
			base.Device = cl.VIPDevice
		}
		if len(v4) > 0 {
			i := base
			i.Name, i.VIPs, i.AuthPass = name, v4, cl.VRRP.AuthPass
			out = append(out, i)
		}
		if len(v6) > 0 {
			i := base
			i.Name, i.VIPs = name+"_v6", v6
			out = append(out, i)
		}
	}
	return out
}

// vips are the addresses the services of cluster bind, by family, sorted
// and once each.
func vips(cfg *model.Config, cluster string) (v4, v6 []netip.Addr) {
	for _, s := range cfg.Services {
		if s.Cluster != cluster {
			continue
		}
		for _, a := range s.BoundAddresses() {
			if a.Is4() {
				v4 = append(v4, a)
			} else {
				v6 = append(v6, a)
			}
		}
	}
	sortUniq := func(a []netip.Addr) []netip.Addr {
		slices.SortFunc(a, netip.Addr.Compare)
		return slices.Compact(a)
	}
	return sortUniq(v4), sortUniq(v6)
}

// state is MASTER for the director with the highest priority: keepalived
// would elect it anyway, and starting there saves an election.
func state(prio map[string]int, host string) string {
	for d, p := range prio {
		if d != host && p > prio[host] {
			return "BACKUP"
		}
	}
	return "MASTER"
}

// Write writes the instances as keepalived.conf text: a header saying
// where they come from, then one vrrp_instance block each.
func Write(w io.Writer, host string, instances []Instance) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# VRRP of director %s, written by `lvsgen render --host %s --format keepalived-vrrp`.\n", host, host)
	b.WriteString("# Do not edit: the VIPs are the config's services'; change the config and render again.\n")
	for _, in := range instances {
		fmt.Fprintf(&b, "\nvrrp_instance %s {\n", in.Name)
		fmt.Fprintf(&b, "    state %s\n", in.State)
		fmt.Fprintf(&b, "    interface %s\n", in.Interface)
		fmt.Fprintf(&b, "    virtual_router_id %d\n", in.RouterID)
		fmt.Fprintf(&b, "    priority %d\n", in.Priority)
		fmt.Fprintf(&b, "    advert_int %d\n", in.AdvertInterval)
		if in.AuthPass != "" {
			fmt.Fprintf(&b, "    authentication {\n        auth_type PASS\n        auth_pass %s\n    }\n", in.AuthPass)
		}
		b.WriteString("    virtual_ipaddress {\n")
		for _, a := range in.VIPs {
			fmt.Fprintf(&b, "        %s dev %s\n", netip.PrefixFrom(a, a.BitLen()), in.Device)
		}
		b.WriteString("    }\n}\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
