package hoststate

import "testing"

func TestManagedSysctl(t *testing.T) {
	for key, want := range map[string]bool{
		"net.ipv4.ip_forward":                           true,
		"net.ipv6.conf.all.forwarding":                  true,
		"net.ipv4.vs.conntrack":                         true,
		"net.ipv4.vs.expire_nodest_conn":                true,
		"net.ipv4.conf.all.arp_ignore":                  true,
		"net.ipv4.conf.eth0.100.arp_announce":           true,
		"net.ipv4.conf.tunl0.rp_filter":                 true,
		"net.ipv4.conf.eth1.send_redirects":             true,
		"kernel.core_pattern":                           false,
		"kernel.modprobe":                               false,
		"net.ipv4.vs.drop_entry":                        false,
		"net.ipv4.conf.eth0.forwarding":                 false,
		"net.ipv4.conf.default.arp_ignore":              false,
		"net.ipv4.conf.../../../kernel.rp_filter":       false,
		"net.ipv4.conf.a/b.rp_filter":                   false,
		"net.ipv4.conf.averyveryverylongname.rp_filter": false,
		"net.ipv4.conf.rp_filter":                       false,
		"net/ipv4/ip_forward":                           false,
	} {
		if got := ManagedSysctl(key); got != want {
			t.Errorf("ManagedSysctl(%q) = %v, want %v", key, got, want)
		}
	}
}
