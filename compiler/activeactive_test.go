package compiler

import (
	"testing"
)

// aaBGP is a valid bgp for the base config's lb1 and lb2.
const aaBGP = `bgp: {asn: 65010, peers: [{address: "10.0.0.1", asn: 65000}]}`

// activeActiveCases each add an active-active cluster (or a part of
// one) to testdata/base, with the diagnostics the compiler must give on
// both compile paths, and a part of the first message.
var activeActiveCases = []baseCase{
	{"valid", `clusters: aa: {directors: ["lb1", "lb2"], mode: "active-active", ` + aaBGP + `}
services: s: {cluster: "aa", vip: "192.0.2.9", port: 80, scheduler: "mh", reals: [{host: "web1"}]}`, nil, ""},
	{"with vrrp", `clusters: aa: {directors: ["lb1", "lb2"], mode: "active-active", ` + aaBGP + `, vrrp: ‸{routerID: 9, interface: "eth0", priority: {lb1: 2, lb2: 1}}}`,
		[]want{{"active-active", "clusters.aa.vrrp", false}}, "cluster aa is active-active and declares vrrp"},
	{"binding no VIP", `clusters: aa: {directors: ["lb1", "lb2"], mode: "active-active", ` + aaBGP + `, vip: bind: ‸"none"}`,
		[]want{{"active-active", "clusters.aa.vip.bind", false}}, "cluster aa is active-active but binds no VIP"},
	{"without bgp", `clusters: aa: {directors: ["lb1", "lb2"], mode: ‸"active-active"}`,
		[]want{{"active-active", "clusters.aa.mode", false}}, "cluster aa is active-active but declares no bgp"},
	{"bgp without active-active", `clusters: aa: {directors: ["lb1"], bgp: ‸{asn: 65010, peers: [{address: "10.0.0.1", asn: 65000}]}}`,
		[]want{{"active-active", "clusters.aa.bgp", false}}, "cluster aa declares bgp but is not active-active"},
	{"a peer off the directors' subnets", `clusters: aa: {directors: ["lb1", "lb2"], mode: "active-active", bgp: {asn: 65010, peers: [{address: ‸"198.51.100.1", asn: 65000}]}}`,
		[]want{{"bgp-peer", "clusters.aa.bgp.peers[0].address", false}, {"bgp-peer", "clusters.aa.bgp.peers[0].address", false}}, "BGP peer 198.51.100.1 of cluster aa is on no subnet of director lb1"},
	{"no peer", `clusters: aa: {directors: ["lb1", "lb2"], mode: "active-active", bgp: {asn: 65010, peers: ‸[]}}`,
		[]want{{"schema", "clusters.aa.bgp.peers", false}}, ""},
	{"a NAT service", `clusters: aa: {directors: ["nat1", "nat2"], mode: "active-active", natGateway: "10.1.0.254", bgp: {asn: 65010, peers: [{address: "192.168.1.1", asn: 65000}]}}
services: s: {cluster: "aa", vip: "192.168.1.9", port: 80, scheduler: "sh", forwarding: ‸"nat", reals: [{host: "app1"}]}`,
		[]want{{"active-active", "services.s.forwarding", false}}, "service s is NAT in active-active cluster aa"},
	{"a scheduler that is no consistent hash", `clusters: aa: {directors: ["lb1", "lb2"], mode: "active-active", ` + aaBGP + `}
services: s: {cluster: "aa", vip: "192.0.2.9", port: 80, scheduler: ‸"wrr", reals: [{host: "web1"}]}`,
		[]want{{"active-active-scheduler", "services.s.scheduler", true}}, "service s of active-active cluster aa uses scheduler wrr"},
	{"an unknown mode", `clusters: aa: {directors: ["lb1"], mode: ‸"active-passive"}`,
		[]want{{"schema", "clusters.aa.mode", false}}, ""},
}

func TestActiveActiveChecks(t *testing.T) { runBaseCases(t, activeActiveCases) }
