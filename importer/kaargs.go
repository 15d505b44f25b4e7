package importer

// This file reads the arguments of keepalived statements as keepalived
// does — ports, numeric addresses, forwarding methods with their tunnel
// settings — and makes the *Error that points at the offending word.

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lvsgen/lvsgen/ipvs"
)

// errAt is an *Error at statement st, pointing at its word i (none when
// i is past the last word).
func errAt(st *kaStmt, i int, format string, args ...any) *Error {
	tok := ""
	if i < len(st.words) {
		tok = st.words[i]
	}
	return &Error{File: st.pos.file, Line: st.pos.line, Token: tok, Msg: fmt.Sprintf(format, args...)}
}

// kaPort reads the optional port at st.words[i]: keepalived takes a
// missing port, and any number of zeros, as none.
func kaPort(st *kaStmt, i int) (uint16, error) {
	if i >= len(st.words) || strings.Trim(st.words[i], "0") == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(st.words[i], 10, 16)
	if err != nil || n == 0 {
		return 0, errAt(st, i, "port %q: want 1..65535", st.words[i])
	}
	return uint16(n), nil
}

// kaAddr reads a plain numeric address, as inet_pton takes it.
func kaAddr(st *kaStmt, i int) (netip.Addr, error) {
	if i >= len(st.words) {
		return netip.Addr{}, errAt(st, 0, "%s needs an address", st.keyword())
	}
	a, err := netip.ParseAddr(st.words[i])
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, errAt(st, i, "%q is not a numeric IPv4 or IPv6 address", st.words[i])
	}
	return a, nil
}

// kaFwd is a forwarding method with its tunnel settings.
type kaFwd struct {
	set      bool
	method   ipvs.Forward
	tunType  ipvs.TunType
	tunPort  uint16
	tunFlags uint16
}

// parseFwd reads `lvs_method NAT|DR|TUN [type ipip|gue|gre] [port N]
// [nocsum|csum|remcsum]`.
func parseFwd(k *kaImport, st *kaStmt) (kaFwd, error) {
	if len(st.words) < 2 {
		return kaFwd{}, errAt(st, 0, "%s needs NAT, DR or TUN", st.keyword())
	}
	f := kaFwd{set: true}
	switch st.words[1] {
	case "NAT":
		f.method = ipvs.Masq
	case "DR":
		f.method = ipvs.Route
	case "TUN":
		f.method = ipvs.Tunnel
	default:
		return kaFwd{}, &unknownMethod{e: errAt(st, 1, "%s %q: keepalived knows NAT, DR and TUN, in capitals", st.keyword(), st.words[1])}
	}
	for i := 2; i < len(st.words); i++ {
		switch w := st.words[i]; w {
		case "type":
			if i+1 >= len(st.words) {
				return kaFwd{}, errAt(st, i, "type needs ipip, gue or gre")
			}
			i++
			switch st.words[i] {
			case "ipip":
				f.tunType = ipvs.TunIPIP
			case "gue":
				f.tunType = ipvs.TunGUE
			case "gre":
				f.tunType = ipvs.TunGRE
			default:
				return kaFwd{}, errAt(st, i, "tunnel type %q: want ipip, gue or gre", st.words[i])
			}
		case "port":
			if i+1 >= len(st.words) {
				return kaFwd{}, errAt(st, i, "port needs a number")
			}
			i++
			n, err := strconv.ParseUint(st.words[i], 10, 16)
			if err != nil || n == 0 {
				return kaFwd{}, errAt(st, i, "tunnel port %q: want 1..65535", st.words[i])
			}
			f.tunPort = uint16(n)
		case "nocsum":
			f.tunFlags = 0
		case "csum":
			f.tunFlags = ipvs.TunFlagCsum
		case "remcsum":
			f.tunFlags = ipvs.TunFlagRemCsum
		default:
			return kaFwd{}, errAt(st, i, "unknown tunnel option %q", w)
		}
	}
	if (f.tunType == ipvs.TunGUE) != (f.tunPort != 0) {
		return kaFwd{}, errAt(st, 1, "gue tunnels need a port, and only they take one")
	}
	if f.tunType == ipvs.TunIPIP && f.tunFlags != 0 {
		return kaFwd{}, errAt(st, 1, "ipip tunnels take no checksum option")
	}
	if f.tunType == ipvs.TunGRE && f.tunFlags == ipvs.TunFlagRemCsum {
		return kaFwd{}, errAt(st, 1, "gre tunnels take no remcsum")
	}
	if f.method != ipvs.Tunnel && len(st.words) > 2 {
		k.warn(st.pos, fmt.Sprintf("%s %s: tunnel options without TUN have no effect", st.keyword(), st.words[1]))
	}
	return f, nil
}

// unknownMethod is a forwarding method keepalived does not know, such as
// "dr": keepalived logs a configuration error and keeps the method it had,
// so the import warns and does the same.
type unknownMethod struct{ e *Error }

func (u *unknownMethod) Error() string { return u.e.Error() }

// kaFwdFallback reads a forwarding method for st, with keepalived's
// fallback: an unknown method is reported by note, with what keepalived
// keeps (had), and ok is false.
func kaFwdFallback(k *kaImport, st *kaStmt, had string, note func(kaPos, string)) (f kaFwd, ok bool, err error) {
	f, err = parseFwd(k, st)
	var um *unknownMethod
	if errors.As(err, &um) {
		note(st.pos, fmt.Sprintf("%s; it logs a configuration error, ignores %q and keeps %s, and so does the import", um.e.Msg, st.words[1], had))
		return kaFwd{}, false, nil
	}
	return f, err == nil, err
}

// fwdName names a forwarding method as keepalived.conf writes it.
func fwdName(f kaFwd, def string) string {
	if !f.set {
		return def
	}
	switch f.method {
	case ipvs.Route:
		return "DR"
	case ipvs.Tunnel:
		return "TUN"
	}
	return "NAT"
}
