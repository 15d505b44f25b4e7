// Package vrrp writes the keepalived VRRP configuration of a director
// from the config, so that the VIPs keepalived moves are always the ones
// lvsgen balances: `lvsgen render --host H --format keepalived-vrrp`.
//
// A cluster that declares vrrp (schema #VRRP) gets one vrrp_instance per
// address family of its VIPs on each of its directors: keepalived runs an
// IPv4 instance as VRRPv2 and an IPv6 one as VRRPv3, and one instance
// holds addresses of one family. The instance's VIPs are the addresses
// the cluster's services bind (their VIPs, or the addresses a fwmark
// covers), each as a host address on vip.device, else on vrrp.interface.
// The director with the highest priority starts as MASTER.
//
// It only writes what the compiler validated (a priority per director,
// the interfaces present, router ids apart); it holds no rule of its own.
package vrrp
