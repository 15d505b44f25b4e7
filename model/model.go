// Package model is the typed, normalised form of an lvsgen configuration:
// what the compiler decodes from CUE after validation, with every default
// filled in and every host reference resolved to an address. Later stages
// (desired host state, policies) read this, never the raw CUE.
package model

import (
	"net/netip"

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
	// Forwarding is "dr", "nat" or "tun".
	Forwarding string `json:"forwarding"`
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
}
