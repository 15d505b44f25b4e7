package importer

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/ipvs"
)

// TestKeepalivedTolerates checks that what keepalived 2.2.7 ignores or
// corrects with a configuration error is a warning naming the line, and
// that the import is the table keepalived then runs. Each case's table
// and keepalived's own reading were checked with `keepalived -t -l -D -f
// FILE` (keepalived 2.2.7): it logs "Invalid lvs_scheduler 'loadbalance'
// - ignoring", "unknown [dr] routing method", "Unknown keyword
// 'nat_mask'", "persistence_timeout invalid", "Invalid real server ip
// address/port ... - skipping", and then "no scheduler set, setting
// default 'wlc'" and "no forwarding method set, setting default NAT".
func TestKeepalivedTolerates(t *testing.T) {
	for _, tc := range []struct {
		name, conf, want string
		warnings         []string
	}{
		{"unknown scheduler and lower-case lb_kind fall back to the defaults",
			"virtual_server 192.0.2.10 80 {\n  lb_algo loadbalance\n  lb_kind dr\n  protocol TCP\n  real_server 10.0.0.1 80 {\n  }\n}\n",
			"-A -t 192.0.2.10:80 -s wlc\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 1\n",
			[]string{`keepalived.conf:2: lb_algo "loadbalance": keepalived knows no such scheduler; it logs a configuration error, ignores it and keeps wlc (its default), and so does the import`,
				`keepalived.conf:3: lb_kind "dr": keepalived knows NAT, DR and TUN, in capitals; it logs a configuration error, ignores "dr" and keeps NAT (its default), and so does the import`}},
		{"an unknown method keeps the one set before",
			"virtual_server 192.0.2.10 80 {\n  lb_algo rr\n  lb_algo RR\n  lb_kind DR\n  lb_kind nat\n  protocol TCP\n  real_server 10.0.0.1 80 {\n    lvs_method tun\n  }\n}\n",
			"-A -t 192.0.2.10:80 -s rr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1\n",
			[]string{`keepalived.conf:3: lb_algo "RR": keepalived knows no such scheduler; it logs a configuration error, ignores it and keeps rr, and so does the import`,
				`keepalived.conf:5: lb_kind "nat": keepalived knows NAT, DR and TUN, in capitals; it logs a configuration error, ignores "nat" and keeps DR, and so does the import`,
				`keepalived.conf:8: lvs_method "tun": keepalived knows NAT, DR and TUN, in capitals; it logs a configuration error, ignores "tun" and keeps DR, the virtual server's, and so does the import`}},
		{"retired and unknown keywords, words after the port, persistence_timeout 0",
			"virtual_server 192.0.2.10 6443 dev eth0 {\n  lb_kind DR\n  nat_mask 255.255.255.0\n  net_mask 255.255.255.0\n  timeout 30\n  persistence_timeout 0\n  protocol tcp\n  real_server 10.0.0.1 6443 weight 3 {\n    wieght 2\n  }\n}\n",
			"-A -t 192.0.2.10:6443 -s wlc\n-a -t 192.0.2.10:6443 -r 10.0.0.1:6443 -g -w 1\n",
			[]string{`keepalived.conf:1: virtual_server: keepalived ignores "dev eth0" after the port, and so does the import`,
				`keepalived.conf:3: nat_mask in virtual_server (the NAT netmask of keepalived 1.x): keepalived no longer reads it and ignores it, and so does the import`,
				`keepalived.conf:4: net_mask in virtual_server (a netmask): keepalived no longer reads it and ignores it, and so does the import`,
				`keepalived.conf:5: timeout in virtual_server (a timeout): keepalived no longer reads it and ignores it, and so does the import`,
				`keepalived.conf:6: persistence_timeout "0" is not 1..2678400 seconds: keepalived ignores it (it logs a configuration error), and so does the import`,
				`keepalived.conf:8: real_server: keepalived ignores "weight 3" after the port, and so does the import`,
				`keepalived.conf:9: unknown keyword "wieght" in real_server: keepalived ignores it (it logs a configuration error), and so does the import`}},
		{"a placeholder address skips its server, a bad weight or protocol is ignored",
			"virtual_server <vip> 80 {\n  lb_kind DR\n  real_server 10.0.0.1 80 {\n  }\n}\nvirtual_server 192.0.2.10 99999 {\n  lb_kind DR\n  real_server 10.0.0.1 80 {\n  }\n}\n" +
				"virtual_server 192.0.2.11 80 {\n  lb_kind DR\n  protocol ICMP\n  real_server xxx.xxx.xxx.xxx 80 {\n  }\n  real_server 10.0.0.2 80 {\n    weight -1\n  }\n}\n",
			"-A -u 192.0.2.11:80 -s wlc\n-a -u 192.0.2.11:80 -r 10.0.0.2:80 -g -w 1\n",
			[]string{`keepalived.conf:1: "<vip>" is not a numeric IPv4 or IPv6 address: keepalived skips this virtual_server (it logs a configuration error), and so does the import`,
				`keepalived.conf:6: port "99999": want 1..65535: keepalived skips this virtual_server (it logs a configuration error), and so does the import`,
				`keepalived.conf:13: protocol "ICMP": keepalived knows TCP, UDP and SCTP; it ignores this one (it logs a configuration error), and so does the import`,
				`keepalived.conf:14: "xxx.xxx.xxx.xxx" is not a numeric IPv4 or IPv6 address: keepalived skips this real_server (it logs a configuration error), and so does the import`,
				`keepalived.conf:17: real server weight "-1" is not 0..2147483647: keepalived ignores it (it logs a configuration error), and so does the import`,
				`keepalived.conf:11: no protocol: keepalived programs UDP (it logs "no protocol set - defaulting to UDP"); set protocol TCP in keepalived.conf if that is what you meant`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := importMap(t, MapFiles{"/etc/keepalived/keepalived.conf": tc.conf}, KeepalivedOptions{})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if err := Check(res); err != nil {
				t.Fatalf("%v\n%s", err, res.CUE)
			}
			if d := cmp.Diff(tc.want, ipvs.SaveString(res.Table)); d != "" {
				t.Errorf("table (-want +got):\n%s", d)
			}
			var got []string
			for _, w := range res.Warnings {
				got = append(got, strings.TrimPrefix(w.String(), "/etc/keepalived/"))
			}
			if d := cmp.Diff(tc.warnings, got); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
		})
	}
}
