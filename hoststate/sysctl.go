package hoststate

import (
	"strings"
)

// ipvsSysctls are the net.ipv4.vs.* settings a cluster may declare
// (schema/config.cue, clusters' sysctl).
var ipvsSysctls = map[string]bool{
	"conntrack": true, "expire_nodest_conn": true, "expire_quiescent_template": true,
	"conn_reuse_mode": true, "sloppy_tcp": true, "sloppy_sctp": true,
	"schedule_icmp": true, "ignore_tunneled": true, "pmtu_disc": true,
}

// deviceSysctls are the per-device net.ipv4.conf.DEV.* settings Build
// makes: ARP on real servers, redirects on directors, rp_filter on tunnel
// devices.
var deviceSysctls = map[string]bool{"arp_ignore": true, "arp_announce": true, "send_redirects": true, "rp_filter": true}

// ManagedSysctl reports whether key is one Build can ever put in a host's
// desired state. The applier restores, when a setting is no longer
// needed, the value it found before; a state file that names any other
// key is not lvsgen's (a planted one would make root write an arbitrary
// /proc/sys key), and is refused.
func ManagedSysctl(key string) bool {
	switch key {
	case "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding":
		return true
	}
	if name, ok := strings.CutPrefix(key, "net.ipv4.vs."); ok {
		return ipvsSysctls[name]
	}
	rest, ok := strings.CutPrefix(key, "net.ipv4.conf.")
	if !ok {
		return false
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 || !deviceSysctls[rest[i+1:]] {
		return false
	}
	return validDevice(rest[:i])
}

// validDevice reports whether dev can be a Linux interface name in a
// sysctl key: "all", or 1 to 15 bytes without '/', whitespace or a NUL,
// and not "." or "..".
func validDevice(dev string) bool {
	if dev == "all" {
		return true
	}
	if dev == "" || len(dev) > 15 || dev == "." || dev == ".." || dev == "default" {
		return false
	}
	return !strings.ContainsFunc(dev, func(r rune) bool { return r == '/' || r <= ' ' || r == 0x7f })
}
