package importer

import (
	"fmt"
	"strconv"
)

// VRRPInstance is a vrrp_instance of a keepalived.conf, as far as lvsgen
// reads one: the settings `lvsgen render --format keepalived-vrrp` writes.
// The import itself leaves VRRP to keepalived (Result.Unmodelled); this
// is how lvsgen reads its own VRRP output back, and what an operator's
// existing instances hold.
type VRRPInstance struct {
	Name      string
	State     string
	Interface string
	// RouterID, Priority and AdvertInterval are 0 when not set.
	RouterID       int
	Priority       int
	AdvertInterval int
	AuthPass       string
	// VIPs are virtual_ipaddress's entries as written: an address with
	// an optional prefix length, then options such as "dev eth0".
	VIPs [][]string
}

// ReadVRRP reads the vrrp_instance blocks of the keepalived.conf at path
// and the files it includes, with files (OSFiles when nil) and configID
// for conditional lines, as FromKeepalived reads the virtual servers.
func ReadVRRP(path string, files Files, configID string) ([]VRRPInstance, error) {
	if files == nil {
		files = OSFiles{}
	}
	stmts, _, err := parseKeepalived(files, path, configID)
	if err != nil {
		return nil, err
	}
	var out []VRRPInstance
	for _, st := range stmts {
		if st.keyword() != "vrrp_instance" {
			continue
		}
		in := VRRPInstance{}
		if len(st.words) > 1 {
			in.Name = st.words[1]
		}
		for _, s := range st.block {
			arg := ""
			if len(s.words) > 1 {
				arg = s.words[1]
			}
			var err error
			switch s.keyword() {
			case "state":
				in.State = arg
			case "interface":
				in.Interface = arg
			case "virtual_router_id":
				in.RouterID, err = strconv.Atoi(arg)
			case "priority":
				in.Priority, err = strconv.Atoi(arg)
			case "advert_int":
				in.AdvertInterval, err = strconv.Atoi(arg)
			case "authentication":
				for _, a := range s.block {
					if a.keyword() == "auth_pass" && len(a.words) > 1 {
						in.AuthPass = a.words[1]
					}
				}
			case "virtual_ipaddress":
				for _, a := range s.block {
					in.VIPs = append(in.VIPs, a.words)
				}
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %s %q: %w", s.pos, s.keyword(), arg, err)
			}
		}
		out = append(out, in)
	}
	return out, nil
}
