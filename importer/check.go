package importer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	find := func(list []ipvs.Service, k ipvs.ServiceKey) *ipvs.Service {
		for i := range list {
			if list[i].ServiceKey.Same(k) {
				return &list[i]
			}
		}
		return nil
	}
	for _, w := range want {
		g := find(got, w.ServiceKey)
		if g == nil {
			fmt.Fprintf(&b, "- service %s\n", w.ServiceKey)
			continue
		}
		if a, c := serviceLine(w), serviceLine(*g); a != c {
			fmt.Fprintf(&b, "- %s\n+ %s\n", a, c)
		}
		for _, wd := range w.Destinations {
			i := slices.IndexFunc(g.Destinations, func(x ipvs.Destination) bool { return x.AddrPort() == wd.AddrPort() })
			if i < 0 {
				fmt.Fprintf(&b, "- %s: destination %s\n", w.ServiceKey, destLine(wd))
				continue
			}
			if a, c := destLine(wd), destLine(g.Destinations[i]); a != c {
				fmt.Fprintf(&b, "- %s: destination %s\n+ %s: destination %s\n", w.ServiceKey, a, w.ServiceKey, c)
			}
		}
		for _, gd := range g.Destinations {
			if !slices.ContainsFunc(w.Destinations, func(x ipvs.Destination) bool { return x.AddrPort() == gd.AddrPort() }) {
				fmt.Fprintf(&b, "+ %s: destination %s\n", w.ServiceKey, destLine(gd))
			}
		}
	}
	for _, g := range got {
		if find(want, g.ServiceKey) == nil {
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
