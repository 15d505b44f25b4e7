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
	VRRP           *model.VRRP       `json:"vrrp"`
	Sync           *rawSync          `json:"sync"`
	Mode           string            `json:"mode"`
	BGP            *struct {
		ASN   uint32 `json:"asn"`
		Peers []struct {
			Address string `json:"address"`
			ASN     uint32 `json:"asn"`
		} `json:"peers"`
	} `json:"bgp"`
}

// rawSync is a cluster's sync as the schema has checked it.
type rawSync struct {
	State     string            `json:"state"`
	States    map[string]string `json:"states"`
	ID        int               `json:"id"`
	Interface string            `json:"interface"`
	Group     string            `json:"group"`
	Port      int               `json:"port"`
	TTL       int               `json:"ttl"`
	MaxLen    int               `json:"maxlen"`
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
			VRRP:        r.VRRP,
		}
		cl.DrainTimeout = seconds(r.DrainTimeout)
		cl.Mode = r.Mode
		if g := r.BGP; g != nil {
			cl.BGP = &model.BGP{ASN: g.ASN}
			for _, p := range g.Peers {
				cl.BGP.Peers = append(cl.BGP.Peers, model.BGPPeer{Address: mustAddr(p.Address), ASN: p.ASN})
			}
		}
		if y := r.Sync; y != nil {
			cl.Sync = &model.Sync{State: y.State, States: y.States, ID: y.ID, Interface: y.Interface,
				Group: mustAddr(y.Group), Port: y.Port, TTL: y.TTL, MaxLen: y.MaxLen}
		}
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
		c.checkVRRP(cfg, cl, base)
		c.checkSync(cfg, cl, base)
		c.checkActiveActive(cfg, cl, base)
	}
	c.checkRouterIDs(cfg)
	c.checkSyncIDs(cfg)
}

// checkVRRP checks a cluster's vrrp against the rest of the config: the
// schema sees the fields one by one.
func (c *compilation) checkVRRP(cfg *model.Config, cl *model.Cluster, base cue.Path) {
	v := cl.VRRP
	if v == nil {
		return
	}
	if cl.VIPBind != "none" && cl.Mode != model.ActiveActive {
		// (An active-active cluster with vrrp is reported as such.)
		// keepalived adds the VIPs on the master only; lvsgen would
		// add them on every director, and the backups would answer for
		// them too.
		c.errorf("vrrp", base, "vip.bind", "set vip.bind: \"none\": keepalived binds the VIPs of a cluster with vrrp", "cluster %s declares vrrp, so keepalived binds its VIPs, but vip.bind is %q: lvsgen would bind them on every director too", cl.Name, cl.VIPBind)
	}
	for _, d := range cl.Directors {
		if _, ok := v.Priority[d]; !ok {
			c.errorf("vrrp", base, "vrrp.priority", "add "+d+": 1..254 to vrrp.priority", "director %s of cluster %s has no vrrp priority", d, cl.Name)
		}
		h := cfg.Hosts[d]
		if h == nil {
			continue // reported as unknown-host
		}
		for _, dev := range vrrpDevices(cl) {
			if !slices.ContainsFunc(h.Interfaces, func(i model.Interface) bool { return i.Name == dev }) {
				field := "vrrp.interface"
				if dev != v.Interface {
					field = "vip.device"
				}
				c.errorf("vrrp", base, field, "declare the interface under hosts."+d+".interfaces or change "+field, "director %s has no interface %s for cluster %s's VRRP", d, dev, cl.Name)
			}
		}
	}
	byPriority := map[int]string{}
	for _, d := range sortedKeys(v.Priority) {
		field := "vrrp.priority." + d
		if !slices.Contains(cl.Directors, d) {
			c.errorf("vrrp", base, field, "remove it, or add "+d+" to directors", "%s has a vrrp priority but is not a director of cluster %s", d, cl.Name)
			continue
		}
		p := v.Priority[d]
		if other, ok := byPriority[p]; ok {
			// Equal priorities make keepalived elect by address: the
			// master would depend on the addressing, not the config.
			c.errorf("vrrp", base, field, "give each director its own priority; the highest starts as MASTER", "directors %s and %s of cluster %s both have vrrp priority %d", other, d, cl.Name, p)
			continue
		}
		byPriority[p] = d
	}
}

// vrrpDevices are the interfaces a cluster's VRRP needs on each director:
// the one it advertises on, and the one its VIPs go on (vip.device, when
// set with vip.bind "none").
func vrrpDevices(cl *model.Cluster) []string {
	devs := []string{cl.VRRP.Interface}
	if cl.VIPBind == "none" && cl.VIPDevice != "" && cl.VIPDevice != cl.VRRP.Interface {
		devs = append(devs, cl.VIPDevice)
	}
	return devs
}

// checkRouterIDs reports two clusters with one VRRP router id whose
// instances would meet: on one director's same interface, or on
// interfaces of their directors that share a subnet. Their adverts would
// be taken for each other's (keepalived logs them as a misconfiguration
// and the two elections mix).
func (c *compilation) checkRouterIDs(cfg *model.Config) {
	names := sortedKeys(cfg.Clusters)
	for j, name := range names {
		b := cfg.Clusters[name]
		if b.VRRP == nil {
			continue
		}
		for _, other := range names[:j] {
			a := cfg.Clusters[other]
			if a.VRRP == nil || a.VRRP.RouterID != b.VRRP.RouterID {
				continue
			}
			if where, ok := vrrpMeet(cfg, a, b); ok {
				c.errorf("vrrp", cue.MakePath(cue.Str("clusters"), cue.Str(name)), "vrrp.routerID", "give one of them another router id, 1..255", "clusters %s and %s both use VRRP router id %d %s", other, name, b.VRRP.RouterID, where)
			}
		}
	}
}

// vrrpMeet says where the VRRP instances of clusters a and b would hear
// each other, if they would.
func vrrpMeet(cfg *model.Config, a, b *model.Cluster) (string, bool) {
	if a.VRRP.Interface == b.VRRP.Interface {
		for _, d := range a.Directors {
			if slices.Contains(b.Directors, d) {
				return "on " + d + "'s " + a.VRRP.Interface, true
			}
		}
	}
	for _, da := range a.Directors {
		for _, db := range b.Directors {
			ha, hb := cfg.Hosts[da], cfg.Hosts[db]
			if ha == nil || hb == nil {
				continue
			}
			for _, pa := range interfaceAddrs(ha, a.VRRP.Interface) {
				for _, pb := range interfaceAddrs(hb, b.VRRP.Interface) {
					if pa.Overlaps(pb) {
						return fmt.Sprintf("on subnet %s (%s %s, %s %s)", pa.Masked(), da, a.VRRP.Interface, db, b.VRRP.Interface), true
					}
				}
			}
		}
	}
	return "", false
}

// interfaceAddrs are the addresses of host h's interface name.
func interfaceAddrs(h *model.Host, name string) []netip.Prefix {
	for _, i := range h.Interfaces {
		if i.Name == name {
			return i.Addresses
		}
	}
	return nil
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
