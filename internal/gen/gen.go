// Package gen generates large, valid lvsgen configurations for benchmarks
// and scale tests: one DR cluster of two directors and a pool of real
// servers on one subnet, with services spread over VIPs, ports, protocols
// and schedulers.
package gen

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// schedulers cycles through every scheduler the e2e kernel has (not twos).
var schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf"}

// Files returns the .cue files of a config with the given number of
// services and real servers per service, by file name. Services are
// written 100 to a file, as a large site would split them.
func Files(services, reals int) map[string][]byte {
	pool := max(reals*4, 64)
	files := map[string][]byte{}
	var b bytes.Buffer
	b.WriteString("package lvs\n\nhosts: {\n")
	b.WriteString("\tlb1: {interfaces: eth0: addresses: [\"10.0.0.2/16\"], gateway: \"10.0.0.1\"}\n")
	b.WriteString("\tlb2: {interfaces: eth0: addresses: [\"10.0.0.3/16\"], gateway: \"10.0.0.1\"}\n")
	for i := range pool {
		fmt.Fprintf(&b, "\trs%d: {interfaces: eth0: addresses: [\"%s/16\"], gateway: \"10.0.0.1\"}\n", i, hostAddr(i))
	}
	b.WriteString("}\n\nclusters: big: {\n\tdirectors: [\"lb1\", \"lb2\"]\n\tvip: bind: \"none\"\n}\n")
	files["hosts.cue"] = bytes.Clone(b.Bytes())

	for f := 0; f*100 < services; f++ {
		b.Reset()
		b.WriteString("package lvs\n\nservices: {\n")
		for i := f * 100; i < min(services, (f+1)*100); i++ {
			vip := netip.AddrFrom4([4]byte{172, 16 + byte(i>>16), byte(i >> 8), byte(i)})
			proto := "tcp"
			if i%5 == 4 {
				proto = "udp"
			}
			sched := schedulers[i%len(schedulers)]
			fmt.Fprintf(&b, "\t\"svc-%d\": {\n\t\tcluster: \"big\"\n\t\tvip: %q\n\t\tprotocol: %q\n\t\tport: %d\n\t\tscheduler: %q\n",
				i, vip, proto, 80+i%3, sched)
			if i%7 == 0 {
				b.WriteString("\t\tpersistence: {timeout: 600, netmask: 24}\n")
			}
			b.WriteString("\t\treals: [\n")
			for k := range reals {
				fmt.Fprintf(&b, "\t\t\t{host: \"rs%d\", weight: %d},\n", (i*7+k)%pool, 1+(i+k)%5)
			}
			b.WriteString("\t\t]\n\t}\n")
		}
		b.WriteString("}\n")
		files[fmt.Sprintf("services-%04d.cue", f)] = bytes.Clone(b.Bytes())
	}
	return files
}

func hostAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, byte(1 + i/250), byte(1 + i%250)})
}

// Write writes Files(services, reals) into dir.
func Write(dir string, services, reals int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("generating config: %w", err)
	}
	for name, content := range Files(services, reals) {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return fmt.Errorf("generating config: %w", err)
		}
	}
	return nil
}
