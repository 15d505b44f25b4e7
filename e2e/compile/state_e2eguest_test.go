//go:build e2eguest

package compile

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
)

// hostState is the part of `lvsgen render --format json` (version 1,
// documented in docs/CONFIG.md) that the guest tests apply and check. It
// is decoded from the documented JSON rather than taken from the hoststate
// package, so the tests hold the document itself to its word.
type hostState struct {
	Version  int       `json:"version"`
	Host     string    `json:"host"`
	Roles    []string  `json:"roles"`
	Services []service `json:"services"`
	Timeouts *struct {
		TCP    int `json:"tcp"`
		TCPFin int `json:"tcpfin"`
		UDP    int `json:"udp"`
	} `json:"timeouts"`
	Sysctls []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"sysctls"`
	Links []struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
		Mode string `json:"mode"`
	} `json:"links"`
	Addresses []struct {
		Device     string       `json:"device"`
		Prefix     netip.Prefix `json:"prefix"`
		NoDAD      bool         `json:"nodad"`
		Deprecated bool         `json:"deprecated"`
	} `json:"addresses"`
	FOU []struct {
		Port uint16 `json:"port"`
		IPv6 bool   `json:"ipv6"`
	} `json:"fou"`
	Routes []struct {
		Dst     netip.Prefix `json:"dst"`
		Gateway netip.Addr   `json:"gateway"`
	} `json:"routes"`
}

type service struct {
	Name         string        `json:"name"`
	FWMark       uint32        `json:"fwmark"`
	Family       string        `json:"family"`
	Protocol     string        `json:"protocol"`
	Address      netip.Addr    `json:"address"`
	Port         uint16        `json:"port"`
	Scheduler    string        `json:"scheduler"`
	PE           string        `json:"pe"`
	Destinations []destination `json:"destinations"`
}

type destination struct {
	Address        netip.Addr `json:"address"`
	Port           uint16     `json:"port"`
	Forward        string     `json:"forward"`
	Weight         int64      `json:"weight"`
	UpperThreshold uint32     `json:"upperThreshold"`
	LowerThreshold uint32     `json:"lowerThreshold"`
}

// renderState renders host of dir as JSON and decodes it.
func renderState(t *testing.T, dir, host string) *hostState {
	t.Helper()
	out := render(t, dir, host, "json")
	var h hostState
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("lvsgen render %s --host %s --format json: %v\n%s", dir, host, err, out)
	}
	if h.Version != 1 || h.Host != host {
		t.Fatalf("lvsgen render %s --host %s --format json: version %d host %q, want version 1 host %q",
			dir, host, h.Version, h.Host, host)
	}
	return &h
}

// spec is the service as ipvsadm names it on its command line: -t/-u/
// --sctp-service ADDR:PORT, or -f MARK with -6 for IPv6.
func (s service) spec() string {
	if s.FWMark != 0 {
		if s.Family == "ipv6" {
			return fmt.Sprintf("-f %d -6", s.FWMark)
		}
		return fmt.Sprintf("-f %d", s.FWMark)
	}
	flag := map[string]string{"tcp": "-t", "udp": "-u", "sctp": "--sctp-service"}[s.Protocol]
	return flag + " " + hostPort(s.Address, s.Port)
}

// hostPort is ADDR:PORT as ipvsadm prints it: IPv6 in brackets.
func hostPort(a netip.Addr, port uint16) string {
	return netip.AddrPortFrom(a, port).String()
}

// modules are the kernel modules the host's services need: a scheduler
// module each, and a persistence-engine module for those with one.
func (h *hostState) modules() []string {
	var mods []string
	seen := map[string]bool{}
	for _, s := range h.Services {
		for _, m := range []string{"ip_vs_" + s.Scheduler, "ip_vs_pe_" + s.PE} {
			if s.PE == "" && m == "ip_vs_pe_" || seen[m] {
				continue
			}
			seen[m] = true
			mods = append(mods, m)
		}
	}
	return mods
}

// counts returns the number of services and of destinations.
func (h *hostState) counts() (services, dests int) {
	for _, s := range h.Services {
		dests += len(s.Destinations)
	}
	return len(h.Services), dests
}
