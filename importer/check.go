package importer

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/ipvs"
)

// Check compiles res.CUE on its own, as `lvsgen validate` would, and
// proves that the director's desired IPVS services are exactly
// res.Imported: the same services, each with the same settings and
// destinations as far as the kernel holds them (thresholds included,
// which ipvsadm-save does not print). An error means the import is wrong:
// a bug in lvsgen.
func Check(res *Result) error {
	dir, err := os.MkdirTemp("", "lvsgen-import-check-")
	if err != nil {
		return fmt.Errorf("check the import: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "imported.cue"), res.CUE, 0o644); err != nil {
		return fmt.Errorf("check the import: %w", err)
	}
	out, err := compiler.Compile(dir)
	if err != nil {
		return fmt.Errorf("check the import: %w", err)
	}
	if !out.Valid() {
		var b bytes.Buffer
		_ = diag.WriteText(&b, out.Diagnostics)
		return fmt.Errorf("check the import: the configuration does not validate:\n%s", b.String())
	}
	h := out.Hosts[res.Director]
	if h == nil {
		return fmt.Errorf("check the import: no desired state for director %s", res.Director)
	}
	var got []ipvs.Service
	for _, s := range h.Services {
		got = append(got, s.Service)
	}
	var want []ipvs.Service
	for _, s := range res.Imported {
		want = append(want, s.Service)
	}
	if d := DiffTables(want, got); d != "" {
		return fmt.Errorf("check the import: the configuration does not reproduce the imported services (-imported +rendered):\n%s", d)
	}
	return nil
}

// DiffTables compares two IPVS tables as the kernel holds them and returns
// their differences, one per line, or "" when they are the same. Like
// lvsgen's plan, it ignores what the kernel keeps but never uses: the
// timeout and netmask of a non-persistent service, the hashed flag, the
// tunnel settings of a destination that does not tunnel, the difference
// between Local and Route forwarding, and connection counters.
func DiffTables(want, got []ipvs.Service) string {
	var b strings.Builder
	// Maps by key, not searches: an import of 10,000 services, or of a
	// service of 10,000 real servers, is checked in linear time.
	byKey := func(list []ipvs.Service) map[ipvs.ServiceKey]*ipvs.Service {
		m := make(map[ipvs.ServiceKey]*ipvs.Service, len(list))
		for i := range list {
			m[list[i].ServiceKey.Canonical()] = &list[i]
		}
		return m
	}
	byAddr := func(list []ipvs.Destination) map[netip.AddrPort]*ipvs.Destination {
		m := make(map[netip.AddrPort]*ipvs.Destination, len(list))
		for i := range list {
			m[list[i].AddrPort()] = &list[i]
		}
		return m
	}
	wantKeys, gotKeys := byKey(want), byKey(got)
	for _, w := range want {
		g := gotKeys[w.ServiceKey.Canonical()]
		if g == nil {
			fmt.Fprintf(&b, "- service %s\n", w.ServiceKey)
			continue
		}
		if a, c := serviceLine(w), serviceLine(*g); a != c {
			fmt.Fprintf(&b, "- %s\n+ %s\n", a, c)
		}
		wantDests, gotDests := byAddr(w.Destinations), byAddr(g.Destinations)
		for _, wd := range w.Destinations {
			gd := gotDests[wd.AddrPort()]
			if gd == nil {
				fmt.Fprintf(&b, "- %s: destination %s\n", w.ServiceKey, destLine(wd))
				continue
			}
			if a, c := destLine(wd), destLine(*gd); a != c {
				fmt.Fprintf(&b, "- %s: destination %s\n+ %s: destination %s\n", w.ServiceKey, a, w.ServiceKey, c)
			}
		}
		for _, gd := range g.Destinations {
			if wantDests[gd.AddrPort()] == nil {
				fmt.Fprintf(&b, "+ %s: destination %s\n", w.ServiceKey, destLine(gd))
			}
		}
	}
	for _, g := range got {
		if wantKeys[g.ServiceKey.Canonical()] == nil {
			fmt.Fprintf(&b, "+ service %s\n", g.ServiceKey)
		}
	}
	return b.String()
}

func serviceLine(s ipvs.Service) string {
	l := fmt.Sprintf("service %s scheduler %s flags %#x", s.ServiceKey, s.Scheduler, s.Flags&^ipvs.FlagHashed)
	if s.Flags&ipvs.FlagPersistent != 0 {
		l += fmt.Sprintf(" timeout %d netmask /%d", s.Timeout, s.NetmaskBits)
	}
	if s.PE != "" {
		l += " pe " + s.PE
	}
	return l
}

func destLine(d ipvs.Destination) string {
	fwd := d.Forward
	if fwd == ipvs.Local {
		fwd = ipvs.Route
	}
	l := fmt.Sprintf("%s %s weight %d thresholds %d-%d", d.AddrPort(), fwd, d.Weight, d.LowerThreshold, d.UpperThreshold)
	if fwd == ipvs.Tunnel {
		l += fmt.Sprintf(" %s port %d flags %#x", d.TunType, d.TunPort, d.TunFlags)
	}
	return l
}
