package hoststate

import (
	"encoding/json"
	"io"
	"net/netip"

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/ipvs"
)

// WriteJSON writes the host's documented JSON form, indented, with a
// final newline; "<" and ">" are written as they are, not escaped for
// HTML.
func WriteJSON(w io.Writer, h *Host) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(h)
}

// jsonService is the documented JSON form of a Service: lowercase names,
// enums as words, so readers need not know kernel numbers.
type jsonService struct {
	Name         string            `json:"name"`
	FWMark       uint32            `json:"fwmark,omitempty"`
	Family       string            `json:"family"`
	Protocol     string            `json:"protocol,omitempty"`
	Address      *netip.Addr       `json:"address,omitempty"`
	Port         uint16            `json:"port"`
	Scheduler    string            `json:"scheduler"`
	Flags        []string          `json:"flags"`
	Persistent   bool              `json:"persistent"`
	Timeout      uint32            `json:"timeout,omitempty"`
	NetmaskBits  int               `json:"netmaskBits,omitempty"`
	PE           string            `json:"pe,omitempty"`
	OnePacket    bool              `json:"onePacket"`
	DrainTimeout *int              `json:"drainTimeout,omitempty"`
	Destinations []jsonDestination `json:"destinations"`
	Checks       []Check           `json:"checks,omitempty"`
	Sorry        *jsonDestination  `json:"sorry,omitempty"`
	Quorum       int               `json:"quorum,omitempty"`
	Hysteresis   int               `json:"hysteresis,omitempty"`
}

type jsonDestination struct {
	Address        netip.Addr `json:"address"`
	Port           uint16     `json:"port"`
	Forward        string     `json:"forward"`
	Weight         int32      `json:"weight"`
	UpperThreshold uint32     `json:"upperThreshold"`
	LowerThreshold uint32     `json:"lowerThreshold"`
	TunType        string     `json:"tunType,omitempty"`
	TunPort        uint16     `json:"tunPort,omitempty"`
	TunChecksum    string     `json:"tunChecksum,omitempty"`
	ActiveConns    uint32     `json:"activeConns,omitempty"`
	InactiveConns  uint32     `json:"inactiveConns,omitempty"`
}

// MarshalJSON renders the documented JSON form.
func (s Service) MarshalJSON() ([]byte, error) {
	j := jsonService{
		Name:         s.Name,
		FWMark:       s.FWMark,
		Family:       s.Family.String(),
		Scheduler:    s.Scheduler,
		Flags:        SchedFlagNames(s.Scheduler, s.Flags),
		Persistent:   s.Flags&ipvs.FlagPersistent != 0,
		OnePacket:    s.Flags&ipvs.FlagOnePacket != 0,
		PE:           s.PE,
		Port:         s.Port,
		Destinations: []jsonDestination{},
	}
	if s.FWMark == 0 {
		a := s.Addr
		j.Address = &a
		j.Protocol = s.Protocol.String()
	}
	if j.Persistent {
		j.Timeout = s.Timeout
		j.NetmaskBits = s.NetmaskBits
	}
	for _, d := range s.Destinations {
		j.Destinations = append(j.Destinations, destinationJSON(d))
	}
	j.Checks, j.Quorum, j.Hysteresis = s.Checks, s.Quorum, s.Hysteresis
	if s.Sorry != nil {
		d := destinationJSON(*s.Sorry)
		j.Sorry = &d
	}
	return json.Marshal(j)
}

func destinationJSON(d ipvs.Destination) jsonDestination {
	jd := jsonDestination{
		Address: d.Addr, Port: d.Port, Forward: d.Forward.String(), Weight: d.Weight,
		UpperThreshold: d.UpperThreshold, LowerThreshold: d.LowerThreshold,
		ActiveConns: d.ActiveConns, InactiveConns: d.InactiveConns,
	}
	if d.Forward == ipvs.Tunnel {
		jd.TunType = d.TunType.String()
		if d.TunType == ipvs.TunGUE {
			jd.TunPort = d.TunPort
		}
		jd.TunChecksum = checksumName(d.TunFlags)
	}
	return jd
}

// Destination wraps a destination for its documented JSON form (as in a
// service's "destinations"; observed ones add their connection counters).
type Destination ipvs.Destination

// MarshalJSON renders the documented JSON form.
func (d Destination) MarshalJSON() ([]byte, error) {
	return json.Marshal(destinationJSON(ipvs.Destination(d)))
}

func checksumName(f uint16) string {
	switch {
	case f&ipvs.TunFlagRemCsum != 0:
		return "remcsum"
	case f&ipvs.TunFlagCsum != 0:
		return "csum"
	}
	return "none"
}

// SchedFlagNames names the scheduler flag bits as ipvsadm does: sh and mh
// have their own names for flags 1 and 2, other schedulers use flag-N.
func SchedFlagNames(scheduler string, flags uint32) []string {
	names := []string{}
	bits := []uint32{ipvs.FlagSched1, ipvs.FlagSched2, ipvs.FlagSched3}
	for i, b := range bits {
		if flags&b == 0 {
			continue
		}
		switch {
		case (scheduler == "sh" || scheduler == "mh") && i == 0:
			names = append(names, scheduler+"-fallback")
		case (scheduler == "sh" || scheduler == "mh") && i == 1:
			names = append(names, scheduler+"-port")
		default:
			names = append(names, "flag-"+string(rune('1'+i)))
		}
	}
	return names
}

// MarshalJSON renders the documented JSON form, which has no "up": every
// link of a desired state is up, so the field would say nothing.
func (l Link) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		kernel.Link
		// Up shadows the embedded Up (a field nearer the top wins in
		// encoding/json) and, nil, is omitted.
		Up      *bool    `json:"up,omitempty"`
		Reasons []string `json:"reasons"`
	}{Link: l.Link, Reasons: l.Reasons})
}
