// Package model is the typed, normalised form of an lvsgen configuration:
// what the compiler decodes from CUE after validation, with every default
// filled in and every host reference resolved to an address. Later stages
// (desired host state, policies) read this, never the raw CUE.
package model

import (
	"net/netip"
	"time"

	"github.com/lvsgen/lvsgen/ipvs"
)

// Config is a whole validated configuration.
type Config struct {
	Hosts    map[string]*Host    `json:"hosts"`
	Clusters map[string]*Cluster `json:"clusters"`
	// Services are sorted by name.
	Services []*Service `json:"services"`
	// Policies are the policy packs the config enables.
	Policies []string `json:"policies"`
	// PolicySettings are the packs' parameters, as the user wrote them.
	PolicySettings map[string]any `json:"policySettings"`
}

// Host is a machine: a director, a real server, or both.
type Host struct {
	Name    string `json:"name"`
	Managed bool   `json:"managed"`
	// Interfaces are sorted by name.
	Interfaces []Interface `json:"interfaces"`
	Gateway    netip.Addr  `json:"gateway,omitzero"`
	Gateway6   netip.Addr  `json:"gateway6,omitzero"`
}

// Interface is a host's network interface.
type Interface struct {
	Name      string         `json:"name"`
	Addresses []netip.Prefix `json:"addresses"`
	MTU       int            `json:"mtu,omitempty"`
}

// InterfaceFor returns the interface and address prefix of h that contain
// a, and false when no attached subnet does.
func (h *Host) InterfaceFor(a netip.Addr) (Interface, netip.Prefix, bool) {
	for _, ifc := range h.Interfaces {
		for _, p := range ifc.Addresses {
			if p.Contains(a) {
				return ifc, p, true
			}
		}
	}
	return Interface{}, netip.Prefix{}, false
}

// RouteTo returns the interface and address prefix of h that h's
// declared routes send packets to a through: the subnet that contains a,
// else the one of the gateway of a's family. It reports false when h has
// no route to a. The prefix's address is h's own address there: the
// source the kernel picks for a packet to a.
func (h *Host) RouteTo(a netip.Addr) (Interface, netip.Prefix, bool) {
	if ifc, p, ok := h.InterfaceFor(a); ok {
		return ifc, p, true
	}
	gw := h.Gateway
	if a.Is6() {
		gw = h.Gateway6
	}
	if !gw.IsValid() {
		return Interface{}, netip.Prefix{}, false
	}
	return h.InterfaceFor(gw)
}

// HasAddress reports whether a is one of h's interface addresses.
func (h *Host) HasAddress(a netip.Addr) bool {
	for _, ifc := range h.Interfaces {
		for _, p := range ifc.Addresses {
			if p.Addr() == a {
				return true
			}
		}
	}
	return false
}

// Cluster is a group of directors carrying the same services.
type Cluster struct {
	Name      string   `json:"name"`
	Directors []string `json:"directors"`
	// VIPBind is "dummy", "interface" or "none"; VIPDevice the device.
	VIPBind        string         `json:"vipBind"`
	VIPDevice      string         `json:"vipDevice,omitempty"`
	NATGateway     netip.Addr     `json:"natGateway,omitzero"`
	NATGateway6    netip.Addr     `json:"natGateway6,omitzero"`
	ClientNetworks []netip.Prefix `json:"clientNetworks"`
	PathMTU        int            `json:"pathMTU,omitempty"`
	Timeouts       Timeouts       `json:"timeouts"`
	// Sysctl maps net.ipv4.vs.NAME names to values.
	Sysctl map[string]int `json:"sysctl"`
	// DrainTimeout is the cluster's drain timeout in seconds, nil when
	// not set.
	DrainTimeout *int `json:"drainTimeout,omitempty"`
	// Waive maps policy rule ids to the reason the cluster is exempt.
	Waive map[string]string `json:"waive,omitempty"`
	// VRRP is the keepalived VRRP instance of the cluster, nil when the
	// config declares none.
	VRRP *VRRP `json:"vrrp,omitempty"`
	// Sync is the cluster's IPVS connection sync, nil when the config
	// declares none.
	Sync *Sync `json:"sync,omitempty"`
	// Mode is ActiveBackup (the default) or ActiveActive.
	Mode string `json:"mode"`
	// BGP is how an active-active cluster's directors announce its VIPs,
	// nil when the config declares none.
	BGP *BGP `json:"bgp,omitempty"`
}

// The modes of a cluster: one director at a time holds the VIPs (one
// director, or VRRP moving them), or every director holds them and
// announces them with BGP, and the routers spread flows by ECMP.
const (
	ActiveBackup = "active-backup"
	ActiveActive = "active-active"
)

// BGP is an active-active cluster's BGP (schema #BGP): the directors'
// AS and the routers each director peers with.
type BGP struct {
	ASN   uint32    `json:"asn"`
	Peers []BGPPeer `json:"peers"`
}

// BGPPeer is a router the directors announce the VIPs to.
type BGPPeer struct {
	Address netip.Addr `json:"address"`
	ASN     uint32     `json:"asn"`
}

// Sync is a cluster's IPVS connection sync (schema #Sync): the kernel's
// sync daemons on every director, so that a director the VIPs move to
// knows the connections of the one they left.
type Sync struct {
	// State is each director's: "master", "backup" or "both"; States
	// overrides it per director.
	State     string            `json:"state"`
	States    map[string]string `json:"states,omitempty"`
	ID        int               `json:"id"`
	Interface string            `json:"interface"`
	Group     netip.Addr        `json:"group"`
	Port      int               `json:"port"`
	TTL       int               `json:"ttl"`
	// MaxLen is the largest message's UDP payload; 0 leaves it to the
	// kernel.
	MaxLen int `json:"maxlen,omitempty"`
}

// StateOf is director d's sync state: "master", "backup" or "both".
func (s *Sync) StateOf(d string) string {
	if st, ok := s.States[d]; ok {
		return st
	}
	return s.State
}

// VRRP is a cluster's VRRP instance (schema #VRRP).
type VRRP struct {
	RouterID  int    `json:"routerID"`
	Interface string `json:"interface"`
	// Priority maps each director to its priority.
	Priority       map[string]int `json:"priority"`
	AdvertInterval int            `json:"advertInterval"`
	AuthPass       string         `json:"authPass,omitempty"`
}

// Timeouts are the IPVS connection timeouts in seconds.
type Timeouts struct {
	TCP    int `json:"tcp"`
	TCPFin int `json:"tcpfin"`
	UDP    int `json:"udp"`
}

// Service is one virtual service.
type Service struct {
	Name    string `json:"name"`
	Cluster string `json:"cluster"`
	// VIP is invalid for a fwmark service.
	VIP netip.Addr `json:"vip,omitzero"`
	// Protocol is "tcp", "udp" or "sctp"; empty for fwmark services.
	Protocol string `json:"protocol,omitempty"`
	Port     uint16 `json:"port"`
	FWMark   uint32 `json:"fwmark,omitempty"`
	// Addresses are the addresses a fwmark service's mark covers.
	Addresses  []netip.Addr `json:"addresses,omitempty"`
	Family     ipvs.Family  `json:"-"`
	FamilyName string       `json:"family"`
	// Forwarding is "dr", "nat", "tun" or "fullnat".
	Forwarding string `json:"forwarding"`
	// SNAT is the source address a fullnat service's connections leave
	// the director with, invalid when each director uses its address on
	// the interface that routes to the real server.
	SNAT netip.Addr `json:"snat,omitzero"`
	// Tunnel is set for tun services.
	Tunnel      *Tunnel      `json:"tunnel,omitempty"`
	Scheduler   string       `json:"scheduler"`
	Flags       []string     `json:"flags"`
	Persistence *Persistence `json:"persistence,omitempty"`
	OnePacket   bool         `json:"onePacket"`
	// DrainTimeout is the drain timeout in seconds (the service's, else
	// its cluster's), nil when neither sets one.
	DrainTimeout *int `json:"drainTimeout,omitempty"`
	// Waive maps policy rule ids to the reason the service is exempt.
	Waive map[string]string `json:"waive,omitempty"`
	Reals []Real            `json:"reals"`
	// Check is the service's own health check with its defaults, nil
	// when it declares none; its Port is 0 when the check goes to each
	// real server's port. What a real server is checked with is its
	// Real.Check.
	Check *Check `json:"check,omitempty"`
	// Sorry is the real server that gets the traffic only while no real
	// server is up or the quorum is lost; nil without one.
	Sorry *Sorry `json:"sorry,omitempty"`
	// Quorum is the smallest sum of the weights of the real servers up
	// for them to serve; 0 without one. Hysteresis widens it: lost below
	// Quorum-Hysteresis, regained at Quorum+Hysteresis.
	Quorum     int `json:"quorum,omitempty"`
	Hysteresis int `json:"hysteresis,omitempty"`
}

// BoundAddresses are the addresses directors and dr/tun real servers bind
// for s: its VIP, or the addresses its mark covers.
func (s *Service) BoundAddresses() []netip.Addr {
	if s.FWMark != 0 {
		return s.Addresses
	}
	return []netip.Addr{s.VIP}
}

// Tunnel is the encapsulation of a tun service.
type Tunnel struct {
	Type     string `json:"type"` // ipip, gue, gre
	Port     uint16 `json:"port,omitempty"`
	Checksum string `json:"checksum"` // none, csum, remcsum
}

// Persistence makes a client stick to one real server.
type Persistence struct {
	Timeout uint32 `json:"timeout"`
	// Netmask is a prefix length; 32 or 128 (per address) when not set.
	Netmask int    `json:"netmask"`
	Engine  string `json:"engine,omitempty"`
}

// Real is one real server of a service.
type Real struct {
	// Host is the declared host's name, empty for a bare address.
	Host           string     `json:"host,omitempty"`
	Address        netip.Addr `json:"address"`
	Port           uint16     `json:"port"`
	Weight         int32      `json:"weight"`
	UpperThreshold uint32     `json:"upperThreshold"`
	LowerThreshold uint32     `json:"lowerThreshold"`
	// Check is the real server's effective health check: its own, else
	// its service's, with every default applied and Port resolved; nil
	// when it is not checked (no check, or type "none").
	Check *Check `json:"check,omitempty"`
}

// Sorry is a service's sorry server: reached like a real server, at
// weight 1, with its service's forwarding.
type Sorry struct {
	// Host is the declared host's name, empty for a bare address.
	Host    string     `json:"host,omitempty"`
	Address netip.Addr `json:"address"`
	Port    uint16     `json:"port"`
}

// Check is a health check with its defaults applied. The fields of other
// types than Type are zero.
type Check struct {
	// Type is "tcp", "http", "https", "udp", "dns" or "exec".
	Type string `json:"type"`
	// Port is the port checked: the check's own, else the real server's.
	Port              uint16        `json:"port,omitempty"`
	Interval, Timeout time.Duration `json:"-"`
	// IntervalText and TimeoutText are the durations as written, for
	// JSON and diagnostics.
	IntervalText string `json:"interval"`
	TimeoutText  string `json:"timeout"`
	// Rise and Fall are the consecutive successes and failures that
	// change the state.
	Rise int `json:"rise"`
	Fall int `json:"fall"`
	// InitialUp is the state before the first result.
	InitialUp bool `json:"initialUp"`
	// OnFailure is "quiesce" (weight 0) or "remove".
	OnFailure string `json:"onFailure"`
	// Path, Host, Expect and Body are http(s)'s; Body is an RE2
	// regexp the first 64 KiB of the body must match.
	Path   string `json:"path,omitempty"`
	Host   string `json:"host,omitempty"`
	Expect []int  `json:"expect,omitempty"`
	Body   string `json:"body,omitempty"`
	// ServerName and Verify are https's.
	ServerName string `json:"serverName,omitempty"`
	Verify     bool   `json:"verify,omitempty"`
	// Send and Receive are udp's.
	Send    string `json:"send,omitempty"`
	Receive string `json:"receive,omitempty"`
	// Query, QueryType and Answer are dns's.
	Query     string `json:"query,omitempty"`
	QueryType string `json:"queryType,omitempty"`
	Answer    string `json:"answer,omitempty"`
	// Command and User are exec's: the program and its arguments, and
	// the user it runs as.
	Command []string `json:"command,omitempty"`
	User    string   `json:"user,omitempty"`
}
