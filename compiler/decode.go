package compiler

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"cuelang.org/go/cue"

	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/model"
)

// The raw* types mirror the schema's fields for decoding; netip parsing
// cannot fail on them because the schema has already checked every address.

type rawHost struct {
	Managed    bool                    `json:"managed"`
	Interfaces map[string]rawInterface `json:"interfaces"`
	Gateway    string                  `json:"gateway"`
	Gateway6   string                  `json:"gateway6"`
}

type rawInterface struct {
	Addresses []string `json:"addresses"`
	MTU       int      `json:"mtu"`
}

type rawCluster struct {
	Directors []string `json:"directors"`
	VIP       struct {
		Bind   string `json:"bind"`
		Device string `json:"device"`
	} `json:"vip"`
	NATGateway     string            `json:"natGateway"`
	NATGateway6    string            `json:"natGateway6"`
	ClientNetworks []string          `json:"clientNetworks"`
	PathMTU        int               `json:"pathMTU"`
	Timeouts       model.Timeouts    `json:"timeouts"`
	Sysctl         map[string]int    `json:"sysctl"`
	DrainTimeout   string            `json:"drainTimeout"`
	Waive          map[string]string `json:"waive"`
}

// decodeHosts fills cfg.Hosts with every host whose value is valid; hosts
// with errors have been reported already and are left out.
func (c *compilation) decodeHosts(top cue.Value, cfg *model.Config) {
	forEachField(top.LookupPath(pathHosts), func(name string, v cue.Value) {
		var r rawHost
		if err := v.Decode(&r); err != nil {
			return
		}
		h := &model.Host{Name: name, Managed: r.Managed, Gateway: mustAddr(r.Gateway), Gateway6: mustAddr(r.Gateway6)}
		for ifn, ri := range r.Interfaces {
			ifc := model.Interface{Name: ifn, MTU: ri.MTU}
			for _, a := range ri.Addresses {
				p, err := netip.ParsePrefix(a)
				if err != nil {
					continue
				}
				ifc.Addresses = append(ifc.Addresses, p)
			}
			h.Interfaces = append(h.Interfaces, ifc)
		}
		slices.SortFunc(h.Interfaces, func(a, b model.Interface) int { return cmp.Compare(a.Name, b.Name) })
		cfg.Hosts[name] = h
	})
}

func (c *compilation) decodeClusters(top cue.Value, cfg *model.Config) {
	forEachField(top.LookupPath(pathClusters), func(name string, v cue.Value) {
		var r rawCluster
		if err := v.Decode(&r); err != nil {
			return
		}
		cl := &model.Cluster{
			Name:        name,
			Directors:   r.Directors,
			VIPBind:     r.VIP.Bind,
			VIPDevice:   r.VIP.Device,
			NATGateway:  mustAddr(r.NATGateway),
			NATGateway6: mustAddr(r.NATGateway6),
			PathMTU:     r.PathMTU,
			Timeouts:    r.Timeouts,
			Sysctl:      r.Sysctl,
			Waive:       r.Waive,
		}
		cl.DrainTimeout = seconds(r.DrainTimeout)
		if cl.VIPBind == "dummy" && cl.VIPDevice == "" {
			// A dummy device of lvsgen's own, so that removing VIPs
			// never touches an interface someone else manages.
			cl.VIPDevice = "lvs0"
		}
		for _, s := range r.ClientNetworks {
			if p, err := netip.ParsePrefix(s); err == nil {
				cl.ClientNetworks = append(cl.ClientNetworks, p)
			}
		}
		cfg.Clusters[name] = cl
	})
}

// checkClusters checks what the schema cannot: that directors name
// declared hosts, once each.
func (c *compilation) checkClusters(cfg *model.Config) {
	for _, name := range sortedKeys(cfg.Clusters) {
		cl := cfg.Clusters[name]
		base := cue.MakePath(cue.Str("clusters"), cue.Str(name))
		if len(cl.Directors) == 0 {
			c.errorf("directors", base, "directors", "list the hosts that carry this cluster's services, e.g. directors: [\"lb1\"]", "cluster %s has no directors", name)
		}
		if cl.VIPBind == "interface" && cl.VIPDevice == "" {
			c.errorf("vip-device", base, "vip", "set vip.device, e.g. \"eth0\", or use vip.bind: \"dummy\"", "cluster %s binds VIPs on an interface but names none", name)
		}
		for i, d := range cl.Directors {
			if _, ok := cfg.Hosts[d]; !ok {
				c.errorf("unknown-host", base, fmt.Sprintf("directors[%d]", i), "declare the host under hosts: or fix the name", "director %q is not a declared host", d)
			}
			if h := cfg.Hosts[d]; h != nil && cl.VIPBind == "interface" && cl.VIPDevice != "" && !slices.ContainsFunc(h.Interfaces, func(i model.Interface) bool { return i.Name == cl.VIPDevice }) {
				c.addIssue(diag.Error, "vip-device", base, "vip.device", fmt.Sprintf("director %s has no interface %s to bind the VIPs on", d, cl.VIPDevice),
					"declare the interface under hosts."+d+".interfaces or change vip.device",
					c.relatedAt(cue.MakePath(cue.Str("hosts"), cue.Str(d), cue.Str("interfaces")), "director %s's interfaces", d))
			}
			if slices.Index(cl.Directors, d) < i {
				c.errorf("directors", base, fmt.Sprintf("directors[%d]", i), "remove the duplicate", "director %q is listed twice", d)
			}
		}
	}
}

// seconds converts a schema-checked duration to whole seconds; nil when
// empty.
func seconds(d string) *int {
	if d == "" {
		return nil
	}
	v, err := time.ParseDuration(d)
	if err != nil {
		return nil
	}
	n := int(v.Round(time.Second) / time.Second)
	return &n
}

// forEachField calls fn for each regular field of a struct value.
func forEachField(v cue.Value, fn func(name string, v cue.Value)) {
	if !v.Exists() {
		return
	}
	it, err := v.Fields()
	if err != nil {
		return
	}
	for it.Next() {
		fn(it.Selector().Unquoted(), it.Value())
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
