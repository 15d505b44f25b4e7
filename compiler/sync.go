package compiler

import (
	"fmt"
	"net/netip"
	"slices"

	"cuelang.org/go/cue"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/model"
)

// checkSync checks a cluster's sync against the rest of the config: the
// schema sees the fields one by one.
//
//   - sync-group: the kernel refuses a group that is not multicast.
//   - sync-interface: every director has the interface; states names
//     directors only.
//   - sync-subnet: the directors' sync interfaces share a subnet, unless
//     the group is routed (not link-local, TTL above 1).
//   - sync-mtu: a message fits the interface's MTU; the kernel sizes a
//     master's messages for an MTU of 1500 whatever the interface's.
//   - sync-maxlen: the kernel raises a backup's maxlen below 1024 to
//     1024, and lowers one above 65535 less the headers: lvsgen would see
//     a daemon unlike the config's on every run.
func (c *compilation) checkSync(cfg *model.Config, cl *model.Cluster, base cue.Path) {
	y := cl.Sync
	if y == nil {
		return
	}
	if !y.Group.IsMulticast() {
		c.errorf("sync-group", base, "sync.group", "use a multicast group: 224.0.0.81 (the kernel's default), 239.0.0.0/8, or ff02::/16 for IPv6", "cluster %s's sync group %s is not a multicast address", cl.Name, y.Group)
		return
	}
	for _, d := range sortedKeys(y.States) {
		if !slices.Contains(cl.Directors, d) {
			c.errorf("sync-interface", base, "sync.states."+d, "remove it, or add "+d+" to directors", "%s has a sync state but is not a director of cluster %s", d, cl.Name)
		}
	}
	hlen := kernel.SyncHeaderLen(y.Group)
	backup := false
	for _, d := range cl.Directors {
		backup = backup || y.StateOf(d) != "master"
	}
	if y.MaxLen != 0 && backup && y.MaxLen < kernel.SyncBackupMinMaxLen {
		c.errorf("sync-maxlen", base, "sync.maxlen", fmt.Sprintf("set maxlen to %d or more, or leave it out", kernel.SyncBackupMinMaxLen),
			"cluster %s's sync maxlen %d is below %d, which the kernel gives a backup daemon whatever it is asked", cl.Name, y.MaxLen, kernel.SyncBackupMinMaxLen)
	}
	if y.MaxLen > kernel.SyncMaxLenLimit-hlen {
		c.errorf("sync-maxlen", base, "sync.maxlen", fmt.Sprintf("set maxlen to %d or less", kernel.SyncMaxLenLimit-hlen),
			"cluster %s's sync maxlen %d and the %d bytes of IP and UDP headers exceed the largest IP packet", cl.Name, y.MaxLen, hlen)
	}
	var nets [][]netip.Prefix // each director's sync subnets
	var names []string
	for _, d := range cl.Directors {
		h := cfg.Hosts[d]
		if h == nil {
			continue // reported as unknown-host
		}
		i := slices.IndexFunc(h.Interfaces, func(i model.Interface) bool { return i.Name == y.Interface })
		if i < 0 {
			c.errorf("sync-interface", base, "sync.interface", "declare the interface under hosts."+d+".interfaces or change sync.interface", "director %s has no interface %s for cluster %s's sync", d, y.Interface, cl.Name)
			continue
		}
		ifc := h.Interfaces[i]
		mtu := ifc.MTU
		if mtu == 0 {
			mtu = 1500
		}
		switch {
		case y.MaxLen != 0 && y.MaxLen+hlen > mtu:
			c.errorf("sync-mtu", base, "sync.maxlen", fmt.Sprintf("set maxlen to %d or less", mtu-hlen),
				"cluster %s's sync messages of %d bytes with their headers do not fit director %s's %s MTU of %d", cl.Name, y.MaxLen+hlen, d, y.Interface, mtu)
		case y.MaxLen == 0 && mtu < 1500 && y.StateOf(d) != "backup":
			c.errorf("sync-mtu", base, "sync", fmt.Sprintf("set sync.maxlen to %d or less", mtu-hlen),
				"director %s's %s has an MTU of %d, but the kernel sizes a master's sync messages for 1500 bytes without sync.maxlen", d, y.Interface, mtu)
		}
		var ps []netip.Prefix
		for _, p := range ifc.Addresses {
			if p.Addr().Is4() == y.Group.Is4() {
				ps = append(ps, p.Masked())
			}
		}
		nets = append(nets, ps)
		names = append(names, d)
	}
	routed := y.TTL > 1 && !(y.Group.Is4() && netip.MustParsePrefix("224.0.0.0/24").Contains(y.Group)) && !(y.Group.Is6() && y.Group.IsLinkLocalMulticast())
	if routed || len(nets) < 2 {
		return
	}
	for i := 1; i < len(nets); i++ {
		if !slices.ContainsFunc(nets[0], func(p netip.Prefix) bool { return slices.Contains(nets[i], p) }) {
			c.errorf("sync-subnet", base, "sync.interface", "put the directors' sync interfaces on one subnet, or use a routed group (239.0.0.0/8) with ttl above 1 and multicast routing between them",
				"directors %s and %s of cluster %s share no %s subnet on %s, and the sync group %s with ttl %d does not leave a subnet", names[0], names[i], cl.Name, family(y.Group), y.Interface, y.Group, y.TTL)
		}
	}
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// checkSyncIDs reports two clusters whose sync daemons would take each
// other's messages: the same id, group and port, on a subnet both
// clusters' directors' sync interfaces are on. Clusters that share a
// director share its daemons, and are not reported.
func (c *compilation) checkSyncIDs(cfg *model.Config) {
	names := sortedKeys(cfg.Clusters)
	for j, name := range names {
		b := cfg.Clusters[name]
		if b.Sync == nil {
			continue
		}
		for _, other := range names[:j] {
			a := cfg.Clusters[other]
			if a.Sync == nil || a.Sync.ID != b.Sync.ID || a.Sync.Group != b.Sync.Group || a.Sync.Port != b.Sync.Port {
				continue
			}
			if slices.ContainsFunc(a.Directors, func(d string) bool { return slices.Contains(b.Directors, d) }) {
				continue
			}
			if where, ok := syncMeet(cfg, a, b); ok {
				c.errorf("sync-id", cue.MakePath(cue.Str("clusters"), cue.Str(name)), "sync.id", "give one of them another sync id, 1..255",
					"clusters %s and %s both sync with id %d to %s port %d %s: each cluster's backups would take the other's connections", other, name, b.Sync.ID, b.Sync.Group, b.Sync.Port, where)
			}
		}
	}
}

// syncMeet says where the sync messages of clusters a and b would meet:
// a subnet their directors' sync interfaces share.
func syncMeet(cfg *model.Config, a, b *model.Cluster) (string, bool) {
	for _, da := range a.Directors {
		for _, db := range b.Directors {
			ha, hb := cfg.Hosts[da], cfg.Hosts[db]
			if ha == nil || hb == nil {
				continue
			}
			for _, pa := range interfaceAddrs(ha, a.Sync.Interface) {
				for _, pb := range interfaceAddrs(hb, b.Sync.Interface) {
					if pa.Overlaps(pb) {
						return fmt.Sprintf("on subnet %s (%s %s, %s %s)", pa.Masked(), da, a.Sync.Interface, db, b.Sync.Interface), true
					}
				}
			}
		}
	}
	return "", false
}
