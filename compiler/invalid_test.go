package compiler

import (
	"os"
	"path/filepath"
	"testing"

	"cuelang.org/go/cue/cuecontext"
	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/diag"
)

// marker stands in a test case's source right before the token a
// diagnostic must point at; the test removes it and computes the line and
// column it marked, so each expected position is written where it belongs.
const marker = "‸"

// want is one expected diagnostic: its rule, field path and severity; its
// position is the next marker in the case source.
type want struct {
	rule, path string
	warning    bool
}

// invalidCases each add one mistake (or a few independent ones) to the
// valid config in testdata/base.
var invalidCases = []struct {
	name string
	src  string
	want []want
}{
	{"unknown field", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", ‸wieght: 3}]}`,
		[]want{{"schema", "services.s.reals[0].wieght", false}}},
	{"missing cluster", `services: s: ‸{vip: "192.0.2.9", port: 80, reals: [{host: "web1"}]}`,
		[]want{{"schema", "services.s.cluster", false}}},
	{"persistence not a struct", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, persistence: ‸true, reals: [{host: "web1"}]}`,
		[]want{{"schema", "services.s.persistence", false}}},
	{"fractional weight and a misspelt field", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", weight: ‸3.5}, {host: "web2", ‸prot: 80}]}`,
		[]want{{"schema", "services.s.reals[0].weight", false}, {"schema", "services.s.reals[1].prot", false}}},
	{"unknown top-level field", `‸service: s: {}`,
		[]want{{"schema", "service", false}}},
	{"unknown scheduler", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, scheduler: ‸"foo", reals: [{host: "web1"}]}`,
		[]want{{"schema", "services.s.scheduler", false}}},
	{"unknown protocol", `services: s: {cluster: "dr", vip: "192.0.2.9", protocol: ‸"icmp", port: 80, reals: [{host: "web1"}]}`,
		[]want{{"schema", "services.s.protocol", false}}},
	{"unknown tunnel type", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, forwarding: "tun", tunnel: type: ‸"vxlan", reals: [{host: "far1"}]}`,
		[]want{{"schema", "services.s.tunnel.type", false}}},
	{"fullnat real the director has no route to", `services: s: {cluster: "nat", vip: "192.168.1.9", port: 80, forwarding: "fullnat", reals: [{host: "app1"}, ‸{address: "198.51.100.7"}]}`,
		[]want{{"fullnat-route", "services.s.reals[1]", false}}},
	{"fullnat snat not on the director", `services: s: {cluster: "natpair", vip: "192.168.1.9", port: 80, forwarding: "fullnat", snat: ‸"192.168.1.2", reals: [{host: "app1"}]}`,
		[]want{{"fullnat-snat", "services.s.snat", false}}},
	{"fullnat snat of the other family", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, forwarding: "fullnat", snat: ‸"2001:db8::2", reals: [{host: "web1"}]}`,
		[]want{{"fullnat-snat", "services.s.snat", false}}},
	{"fullnat IPv6 vip with IPv4 reals", `services: s: {cluster: "dr", vip: "2001:db8::99", port: 80, forwarding: "fullnat", reals: [‸{address: "10.0.0.11"}]}`,
		[]want{{"family", "services.s.reals[0]", false}}},
	{"fullnat fwmark", `services: s: {cluster: "dr", fwmark: 5, addresses: ["192.0.2.9"], forwarding: ‸"fullnat", reals: [{host: "web1"}]}`,
		[]want{{"fullnat-fwmark", "services.s.forwarding", false}}},
	{"snat without fullnat", `services: s: {cluster: "nat", vip: "192.168.1.9", port: 80, forwarding: "nat", snat: ‸"10.1.0.1", reals: [{host: "app1"}]}`,
		[]want{{"snat-forwarding", "services.s.snat", false}}},
	{"negative weight", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", weight: ‸-1}]}`,
		[]want{{"schema", "services.s.reals[0].weight", false}}},
	{"weight too large", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", weight: ‸2147483648}]}`,
		[]want{{"schema", "services.s.reals[0].weight", false}}},
	{"port too large", `services: s: {cluster: "dr", vip: "192.0.2.9", port: ‸70000, reals: [{host: "web1"}]}`,
		[]want{{"schema", "services.s.port", false}}},
	{"ipv4-mapped ipv6 real", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{address: ‸"::ffff:10.0.0.11"}]}`,
		[]want{{"schema", "services.s.reals[0].address", false}}},
	{"bad vip", `services: s: {cluster: "dr", vip: ‸"300.1.1.1", port: 80, reals: [{host: "web1"}]}`,
		[]want{{"schema", "services.s.vip", false}}},
	{"address without prefix", `hosts: h: interfaces: eth0: addresses: [‸"10.0.0.99"]`,
		[]want{{"schema", "hosts.h.interfaces.eth0.addresses[0]", false}}},
	{"persistence timeout zero", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, persistence: timeout: ‸0, reals: [{host: "web1"}]}`,
		[]want{{"schema", "services.s.persistence.timeout", false}}},
	{"persistence timeout too long", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, persistence: timeout: ‸2678401, reals: [{host: "web1"}]}`,
		[]want{{"schema", "services.s.persistence.timeout", false}}},
	{"threshold beyond 2^31-1 (the kernel answers EINVAL)", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", upperThreshold: ‸2147483648}]}`,
		[]want{{"schema", "services.s.reals[0].upperThreshold", false}}},
	{"no vip nor fwmark", `services: s: ‸{cluster: "dr", port: 80, reals: [{host: "web1"}]}`,
		[]want{{"vip-or-fwmark", "services.s", false}}},
	{"vip and fwmark", `services: s: {cluster: "dr", vip: "192.0.2.9", fwmark: ‸5, reals: [{host: "web1"}]}`,
		[]want{{"vip-or-fwmark", "services.s.fwmark", false}}},
	{"vip without port", `services: s: ‸{cluster: "dr", vip: "192.0.2.9", reals: [{host: "web1"}]}`,
		[]want{{"port-required", "services.s.port", false}}},
	{"fwmark with port", `services: s: {cluster: "dr", fwmark: 5, port: ‸80, addresses: ["192.0.2.9"], reals: [{host: "web1"}]}`,
		[]want{{"fwmark-fields", "services.s.port", false}}},
	{"fwmark with protocol", `services: s: {cluster: "dr", fwmark: 5, protocol: ‸"udp", addresses: ["192.0.2.9"], reals: [{host: "web1"}]}`,
		[]want{{"fwmark-fields", "services.s.protocol", false}}},
	{"family on vip service", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, family: ‸"ipv4", reals: [{host: "web1"}]}`,
		[]want{{"fwmark-fields", "services.s.family", false}}},
	{"addresses on vip service", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, addresses: ‸["192.0.2.10"], reals: [{host: "web1"}]}`,
		[]want{{"fwmark-addresses", "services.s.addresses", false}}},
	{"fwmark dr without addresses", `services: s: {cluster: "dr", fwmark: ‸5, reals: [{host: "web1"}]}`,
		[]want{{"fwmark-addresses", "services.s.fwmark", true}}},
	{"fwmark address of other family", `services: s: {cluster: "dr", fwmark: 5, addresses: [‸"2001:db8::9"], reals: [{host: "web1"}]}`,
		[]want{{"fwmark-addresses", "services.s.addresses[0]", false}}},
	{"port zero without persistence", `services: s: {cluster: "dr", vip: "192.0.2.9", port: ‸0, reals: [{host: "web1"}]}`,
		[]want{{"port-zero", "services.s.port", false}}},
	{"one-packet on tcp", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, onePacket: ‸true, reals: [{host: "web1"}]}`,
		[]want{{"one-packet", "services.s.onePacket", false}}},
	{"sh flag with wrr", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, scheduler: "wrr", flags: [‸"sh-port"], reals: [{host: "web1"}]}`,
		[]want{{"sched-flags", "services.s.flags[0]", false}}},
	{"mh flag with sh", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, scheduler: "sh", flags: ["sh-port", ‸"mh-fallback"], reals: [{host: "web1"}]}`,
		[]want{{"sched-flags", "services.s.flags[1]", false}}},
	{"generic flag with sh", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, scheduler: "sh", flags: [‸"flag-1"], reals: [{host: "web1"}]}`,
		[]want{{"sched-flags", "services.s.flags[0]", false}}},
	{"flag-3 with mh", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, scheduler: "mh", flags: [‸"flag-3"], reals: [{host: "web1"}]}`,
		[]want{{"sched-flags", "services.s.flags[0]", false}}},
	{"fwmark of 2^31", `services: s: {cluster: "dr", fwmark: ‸2147483648, addresses: ["192.0.2.9"], reals: [{host: "web1"}]}`,
		[]want{{"schema", "services.s.fwmark", false}}},
	{"generic flag with rr warns", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, scheduler: "rr", flags: [‸"flag-3"], reals: [{host: "web1"}]}`,
		[]want{{"sched-flags", "services.s.flags[0]", true}}},
	{"twos warns about old kernels", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, scheduler: ‸"twos", reals: [{host: "web1"}]}`,
		[]want{{"scheduler-kernel", "services.s.scheduler", true}}},
	{"duplicate flag", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, scheduler: "sh", flags: ["sh-port", ‸"sh-port"], reals: [{host: "web1"}]}`,
		[]want{{"flags-unique", "services.s.flags[1]", false}}},
	{"ipv4 netmask above 32", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, persistence: netmask: ‸33, reals: [{host: "web1"}]}`,
		[]want{{"persistence-netmask", "services.s.persistence.netmask", false}}},
	{"netmask zero", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, persistence: netmask: ‸0, reals: [{host: "web1"}]}`,
		[]want{{"schema", "services.s.persistence.netmask", false}}},
	{"sip engine on tcp warns", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, persistence: engine: ‸"sip", reals: [{host: "web1"}]}`,
		[]want{{"persistence-engine", "services.s.persistence.engine", true}}},
	{"tunnel on dr", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, tunnel: ‸{type: "ipip"}, reals: [{host: "web1"}]}`,
		[]want{{"tunnel-forwarding", "services.s.tunnel", false}}},
	{"gue without port", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, forwarding: "tun", tunnel: ‸{type: "gue"}, reals: [{host: "far1"}]}`,
		[]want{{"tunnel-port", "services.s.tunnel", false}}},
	{"gre with port", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, forwarding: "tun", tunnel: {type: "gre", port: ‸6080}, reals: [{host: "far1"}]}`,
		[]want{{"tunnel-port", "services.s.tunnel.port", false}}},
	{"ipip with checksum", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, forwarding: "tun", tunnel: {type: "ipip", checksum: ‸"csum"}, reals: [{host: "far1"}]}`,
		[]want{{"tunnel-checksum", "services.s.tunnel.checksum", false}}},
	{"gre with remcsum", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, forwarding: "tun", tunnel: {type: "gre", checksum: ‸"remcsum"}, reals: [{host: "far1"}]}`,
		[]want{{"tunnel-checksum", "services.s.tunnel.checksum", false}}},
	{"tunnel overhead against path MTU warns", `clusters: small: {directors: ["lb1"], pathMTU: 1500}
services: s: {cluster: "small", vip: "192.0.2.9", port: 80, forwarding: ‸"tun", reals: [{host: "far1"}]}`,
		[]want{{"tunnel-mtu", "services.s.forwarding", true}}},
	{"real without host or address", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [‸{weight: 2}]}`,
		[]want{{"real-ref", "services.s.reals[0]", false}}},
	{"address not of host", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", address: ‸"10.0.0.12"}]}`,
		[]want{{"real-address-host", "services.s.reals[0].address", false}}},
	{"multicast real", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, forwarding: "tun", reals: [‸{address: "224.0.0.5"}]}`,
		[]want{{"real-unicast", "services.s.reals[0]", false}}},
	{"link-local ipv6 real", `services: s: {cluster: "dr", vip: "2001:db8::9", port: 80, forwarding: "tun", reals: [‸{address: "fe80::1"}]}`,
		[]want{{"real-unicast", "services.s.reals[0]", false}}},
	{"duplicate real", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1"}, ‸{address: "10.0.0.11"}]}`,
		[]want{{"real-duplicate", "services.s.reals[1]", false}}},
	{"real three times", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1"}, ‸{address: "10.0.0.11"}, {host: "web2"}, ‸{host: "web1", port: 80}]}`,
		[]want{{"real-duplicate", "services.s.reals[1]", false}, {"real-duplicate", "services.s.reals[3]", false}}},
	{"lower threshold above upper", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", upperThreshold: 10, lowerThreshold: ‸20}]}`,
		[]want{{"thresholds", "services.s.reals[0].lowerThreshold", false}}},
	{"lower threshold without upper", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", lowerThreshold: ‸5}]}`,
		[]want{{"thresholds", "services.s.reals[0].lowerThreshold", false}}},
	{"all weights zero warns", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: ‸[{host: "web1", weight: 0}, {host: "web2", weight: 0}]}`,
		[]want{{"weights-zero", "services.s.reals", true}}},
	{"ipv6 real behind ipv4 vip in dr", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [‸{address: "2001:db8::11"}]}`,
		[]want{{"family", "services.s.reals[0]", false}}},
	{"dr remaps port", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", port: ‸8080}]}`,
		[]want{{"remap-port", "services.s.reals[0].port", false}}},
	{"tun remaps port", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, forwarding: "tun", reals: [{host: "far1", port: ‸8080}]}`,
		[]want{{"remap-port", "services.s.reals[0].port", false}}},
	{"dr real off the director subnet", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [‸{host: "far1"}]}`,
		[]want{{"same-subnet", "services.s.reals[0]", false}}},
	{"nat real off the director subnet", `services: s: {cluster: "nat", vip: "192.168.1.9", port: 80, forwarding: "nat", reals: [‸{address: "10.9.0.1"}]}`,
		[]want{{"same-subnet", "services.s.reals[0]", false}}},
	{"dr real routes through director", `hosts: web3: {interfaces: eth0: addresses: ["10.0.0.13/24"], gateway: "10.0.0.2"}
services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [‸{host: "web3"}]}`,
		[]want{{"dr-gateway", "services.s.reals[0]", false}}},
	{"nat pair without natGateway", `services: s: {cluster: "natpair", vip: "192.168.1.9", port: 80, forwarding: "nat", reals: [‸{host: "app1"}]}`,
		[]want{{"nat-gateway", "services.s.reals[0]", false}}},
	{"nat real with another gateway", `hosts: app3: {interfaces: eth0: addresses: ["10.1.0.13/24"], gateway: "10.1.0.254"}
services: s: {cluster: "nat", vip: "192.168.1.9", port: 80, forwarding: "nat", reals: [‸{host: "app3"}]}`,
		[]want{{"nat-gateway", "services.s.reals[0]", false}}},
	{"natGateway off the real subnet", `clusters: np: {directors: ["nat1", "nat2"], vip: bind: "none", natGateway: "192.168.1.1"}
services: s: {cluster: "np", vip: "192.168.1.9", port: 80, forwarding: "nat", reals: [‸{host: "app1"}]}`,
		[]want{{"nat-gateway", "services.s.reals[0]", false}}},
	{"client network overlaps real subnet", `clusters: nc: {directors: ["nat1"], clientNetworks: ["10.0.0.0/8"]}
services: s: {cluster: "nc", vip: "192.168.1.9", port: 80, forwarding: "nat", reals: [‸{host: "app1"}]}`,
		[]want{{"nat-clients", "services.s.reals[0]", false}}},
	{"unknown cluster", `services: s: {cluster: ‸"nope", vip: "192.0.2.9", port: 80, reals: [{host: "web1"}]}`,
		[]want{{"unknown-cluster", "services.s.cluster", false}}},
	{"unknown real host", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: ‸"web9"}]}`,
		[]want{{"unknown-host", "services.s.reals[0].host", false}}},
	{"unknown director", `clusters: c: directors: [‸"lb9"]`,
		[]want{{"unknown-host", "clusters.c.directors[0]", false}}},
	{"no directors", `clusters: c: directors: ‸[]`,
		[]want{{"directors", "clusters.c.directors", false}}},
	{"duplicate service", `services: s: {cluster: "dr", vip: ‸"192.0.2.1", port: 80, reals: [{host: "web2"}]}`,
		[]want{{"duplicate-service", "services.s.vip", false}}},
	{"interface binding without device", `clusters: c: {directors: ["lb1"], vip: ‸{bind: "interface"}}`,
		[]want{{"vip-device", "clusters.c.vip", false}}},
	{"interface binding on a missing device", `clusters: c: {directors: ["lb1"], vip: {bind: "interface", device: ‸"eth7"}}`,
		[]want{{"vip-device", "clusters.c.vip.device", false}}},
	{"bad vip binding", `clusters: c: {directors: ["lb1"], vip: bind: ‸"vrrp"}`,
		[]want{{"schema", "clusters.c.vip.bind", false}}},
	{"sysctl out of range", `clusters: c: {directors: ["lb1"], sysctl: conntrack: ‸2}`,
		[]want{{"schema", "clusters.c.sysctl.conntrack", false}}},
	{"host needs two routes for one network", `services: s: {cluster: "nat", vip: "192.168.1.9", port: 80, forwarding: "nat", reals: [{host: "app1"}]}
clusters: nat3: {directors: ["nat2"], clientNetworks: ["192.168.1.0/24"]}
services: t: ‸{cluster: "nat3", vip: "192.168.1.8", port: 80, forwarding: "nat", reals: [{host: "app1"}]}`,
		[]want{{"host-conflict", "services.t", false}}},
	{"several independent mistakes at once", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, forwarding: ‸"fulnat", reals: [{host: "web1", ‸wieght: 3}]}
services: t: {cluster: "dr", vip: "192.0.2.8", port: ‸70000, scheduler: ‸"foo", reals: [{host: "web1", port: ‸8080}, {host: ‸"nope"}]}`,
		[]want{
			{"schema", "services.s.forwarding", false},
			{"schema", "services.s.reals[0].wieght", false},
			{"schema", "services.t.port", false},
			{"schema", "services.t.scheduler", false},
			{"remap-port", "services.t.reals[0].port", false},
			{"unknown-host", "services.t.reals[1].host", false},
		}},
	{"syntax error", `services: s: {cluster: "dr" ‸vip: }`,
		[]want{{"syntax", "", false}}},
	{"unknown check type", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: type: ‸"icmp", reals: [{host: "web1"}]}`,
		[]want{{"schema", "services.s.check.type", false}}},
	{"check without type", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", check: ‸{port: 8080}}]}`,
		[]want{{"schema", "services.s.reals[0].check.type", false}}},
	{"check timeout above interval", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp", interval: "2s", timeout: ‸"3s"}, reals: [{host: "web1"}]}`,
		[]want{{"check-timeout", "services.s.check.timeout", false}}},
	{"check timeout zero", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp", timeout: ‸"0s"}, reals: [{host: "web1"}]}`,
		[]want{{"check-timeout", "services.s.check.timeout", false}}},
	{"real server's check timeout above its interval", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", check: {type: "tcp", interval: "1s", timeout: ‸"2s"}}]}`,
		[]want{{"check-timeout", "services.s.reals[0].check.timeout", false}}},
	{"check interval below 1s", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp", interval: ‸"500ms", timeout: "100ms"}, reals: [{host: "web1"}]}`,
		[]want{{"check-interval", "services.s.check.interval", false}}},
	{"check interval above 1h", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", check: {type: "tcp", interval: ‸"2h"}}]}`,
		[]want{{"check-interval", "services.s.reals[0].check.interval", false}}},
	{"check interval beyond time.Duration", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp", interval: ‸"9999999999h", timeout: ‸"99999999999h"}, reals: [{host: "web1"}]}`,
		[]want{{"check-interval", "services.s.check.interval", false}, {"check-timeout", "services.s.check.timeout", false}}},
	{"bad check duration", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp", interval: ‸"5 s"}, reals: [{host: "web1"}]}`,
		[]want{{"schema", "services.s.check.interval", false}}},
	{"exec without user", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: ‸{type: "exec", command: ["/usr/local/bin/ok"]}, reals: [{host: "web1"}]}`,
		[]want{{"check-exec", "services.s.check", false}}},
	{"exec as root", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "exec", command: ["/usr/local/bin/ok"], user: ‸"root"}, reals: [{host: "web1"}]}`,
		[]want{{"check-exec", "services.s.check.user", false}}},
	{"exec with a relative command", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "exec", command: [‸"ok.sh", "-q"], user: "nobody"}, reals: [{host: "web1"}]}`,
		[]want{{"check-exec", "services.s.check.command[0]", false}}},
	{"exec without command", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", check: ‸{type: "exec", user: "nobody"}}]}`,
		[]want{{"check-exec", "services.s.reals[0].check", false}}},
	{"dns without query", `services: s: {cluster: "dr", vip: "192.0.2.9", protocol: "udp", port: 53, check: ‸{type: "dns", answer: "192.0.2.53"}, reals: [{host: "web1"}]}`,
		[]want{{"check-dns", "services.s.check", false}}},
	{"body not a regexp", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "http", body: ‸"ok("}, reals: [{host: "web1"}]}`,
		[]want{{"check-body", "services.s.check.body", false}}},
	{"empty expect", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "http", expect: ‸[]}, reals: [{host: "web1"}]}`,
		[]want{{"check-http", "services.s.check.expect", false}}},
	{"status out of range", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "http", expect: [200, ‸600]}, reals: [{host: "web1"}]}`,
		[]want{{"schema", "services.s.check.expect[1]", false}}},
	{"http fields on tcp", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp", path: ‸"/healthz", expect: ‸[200]}, reals: [{host: "web1"}]}`,
		[]want{{"check-fields", "services.s.check.path", false}, {"check-fields", "services.s.check.expect", false}}},
	{"https fields on http", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "http", serverName: ‸"www.example.com", verify: ‸true}, reals: [{host: "web1"}]}`,
		[]want{{"check-fields", "services.s.check.serverName", false}, {"check-fields", "services.s.check.verify", false}}},
	{"udp, dns and exec fields elsewhere", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, reals: [{host: "web1", check: {type: "http", send: ‸"ping", query: ‸"example.com.", user: ‸"nobody"}}]}`,
		[]want{{"check-fields", "services.s.reals[0].check.send", false}, {"check-fields", "services.s.reals[0].check.query", false}, {"check-fields", "services.s.reals[0].check.user", false}}},
	{"check without port on a fwmark service", `services: s: {cluster: "dr", fwmark: 5, addresses: ["192.0.2.9"], check: ‸{type: "tcp"}, reals: [{host: "web1"}]}`,
		[]want{{"check-port", "services.s.check", false}}},
	{"real server's check without port on a port-0 service", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 0, persistence: {}, reals: [{host: "web1", check: ‸{type: "tcp"}}]}`,
		[]want{{"check-port", "services.s.reals[0].check", false}}},
	{"sorry server is a real server", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp"}, sorry: ‸{address: "10.0.0.11"}, reals: [{host: "web1"}]}`,
		[]want{{"sorry-real", "services.s.sorry", false}}},
	{"sorry server off the director subnet", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp"}, sorry: ‸{host: "far1"}, reals: [{host: "web1"}]}`,
		[]want{{"same-subnet", "services.s.sorry", false}}},
	{"sorry server remaps the port in dr", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp"}, sorry: {host: "web2", port: ‸8080}, reals: [{host: "web1"}]}`,
		[]want{{"remap-port", "services.s.sorry.port", false}}},
	{"unknown sorry host", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp"}, sorry: {host: ‸"maint9"}, reals: [{host: "web1"}]}`,
		[]want{{"unknown-host", "services.s.sorry.host", false}}},
	{"sorry server without checks warns", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, sorry: ‸{host: "web2"}, reals: [{host: "web1"}]}`,
		[]want{{"sorry-unchecked", "services.s.sorry", true}}},
	{"quorum above the weights warns", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp"}, quorum: ‸4, reals: [{host: "web1", weight: 2}, {host: "web2"}]}`,
		[]want{{"quorum-weights", "services.s.quorum", true}}},
	{"hysteresis not below quorum", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp"}, quorum: 2, hysteresis: ‸2, reals: [{host: "web1", weight: 2}, {host: "web2"}]}`,
		[]want{{"quorum-hysteresis", "services.s.hysteresis", false}}},
	{"hysteresis without quorum", `services: s: {cluster: "dr", vip: "192.0.2.9", port: 80, check: {type: "tcp"}, hysteresis: ‸1, reals: [{host: "web1"}]}`,
		[]want{{"quorum-hysteresis", "services.s.hysteresis", false}}},
}

func TestInvalidConfigs(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "base", "base.cue"))
	if err != nil {
		t.Fatal(err)
	}
	viaTree := 0
	for _, tt := range invalidCases {
		t.Run(tt.name, func(t *testing.T) {
			src, positions := stripMarkers(tt.src)
			if len(positions) != len(tt.want) {
				t.Fatalf("test case has %d markers for %d expected diagnostics", len(positions), len(tt.want))
			}
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "base.cue"), string(base))
			writeFile(t, filepath.Join(dir, "case.cue"), "package lvs\n\n"+src+"\n")
			// The same case evaluated by CUE as one instance, the
			// reference: a config read as plain data must give the same
			// diagnostics, word for word and at the same positions.
			res, whole := compileBothWays(t, dir)
			if res.viaTree {
				viaTree++
				if diff := cmp.Diff(whole.Diagnostics, res.Diagnostics); diff != "" {
					t.Errorf("plain-data path differs from CUE's whole evaluation (-cue +tree):\n%s", diff)
				}
			}
			for _, d := range res.Diagnostics {
				if d.Message == "" {
					t.Errorf("diagnostic without message: %+v", d)
				}
				if d.Hint == "" && d.Rule != "syntax" {
					t.Errorf("diagnostic without hint: %+v", d)
				}
			}
			checkDiagnostics(t, res.Diagnostics, tt.want, positions)
			checkDiagnostics(t, whole.Diagnostics, tt.want, positions)
			onlyWarnings := true
			for _, w := range tt.want {
				onlyWarnings = onlyWarnings && w.warning
			}
			if res.Valid() != onlyWarnings {
				t.Errorf("Valid() = %v, want %v", res.Valid(), onlyWarnings)
			}
		})
	}
	// Most cases are plain data; the few that are not (CUE syntax,
	// conflicts) test the whole-instance path alone.
	if viaTree < len(invalidCases)*3/4 {
		t.Errorf("only %d of %d cases went through the plain-data path", viaTree, len(invalidCases))
	}
}

// checkDiagnostics compares diagnostics (info ones aside) with want, whose
// positions in case.cue are those the markers gave; the case file starts
// with a two-line package header.
func checkDiagnostics(t *testing.T, diags diag.List, want []want, positions [][2]int) {
	t.Helper()
	type got struct {
		Rule, Path, File string
		Line, Column     int
		Warning          bool
	}
	var wants, gots []got
	for i, w := range want {
		wants = append(wants, got{w.rule, w.path, "case.cue", positions[i][0] + 2, positions[i][1], w.warning})
	}
	for _, d := range diags {
		if d.Severity != diag.Info {
			gots = append(gots, got{d.Rule, d.Path, filepath.Base(d.Pos.File), d.Pos.Line, d.Pos.Column, d.Severity == diag.Warning})
		}
	}
	if diff := cmp.Diff(wants, gots); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s\nall:\n%s", diff, diags)
	}
}

// stripMarkers removes every marker from src and returns the 1-based line
// and column (in bytes, as CUE counts) that each marked.
func stripMarkers(src string) (string, [][2]int) { return stripMarker(src, marker, "") }

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEveryRuleIsTested makes sure each rule of the schema has a case above
// that triggers it: a rule without a failing case is a rule nobody checked.
func TestEveryRuleIsTested(t *testing.T) {
	ctx := cuecontext.New()
	s, err := loadSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := newChecks(s, new(checkVerdicts))
	if err != nil {
		t.Fatal(err)
	}
	ids := cs.ids()
	if len(ids) < 20 {
		t.Fatalf("only %d rules found in the schema: %v", len(ids), ids)
	}
	tested := map[string]bool{}
	for _, tt := range invalidCases {
		for _, w := range tt.want {
			tested[w.rule] = true
		}
	}
	for _, id := range ids {
		if !tested[id] {
			t.Errorf("rule %s has no invalid-config case", id)
		}
	}
}

func TestBaseIsValid(t *testing.T) {
	res, err := Compile(filepath.Join("testdata", "base"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid() || len(res.Diagnostics) > 0 {
		t.Fatalf("base config: %v", res.Diagnostics)
	}
}

// TestSymlinkedConfigDir: git-sync points a "current" symlink at each
// checkout; lvsgen must read through it and name files as the user wrote
// the path.
func TestSymlinkedConfigDir(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "current")
	base, err := os.ReadFile(filepath.Join("testdata", "base", "base.cue"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "base.cue"), string(base)+"\nservices: x: {cluster: \"nope\", vip: \"192.0.2.77\", port: 80}\n")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	res, err := Compile(link)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Diagnostics) != 1 || res.Diagnostics[0].Pos.File != filepath.Join(link, "base.cue") {
		t.Fatalf("diagnostics %v, want one in %s", res.Diagnostics, filepath.Join(link, "base.cue"))
	}
}
