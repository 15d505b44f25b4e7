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

	"github.com/lvsgen/lvsgen/applier/kernel"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/ipvs"
)

// schedulers cycles through every scheduler the e2e kernel has (not twos).
var schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf"}

// service is one generated service: what Files writes in CUE and
// Director builds directly, from the same numbers.
type service struct {
	name       string
	vip        netip.Addr
	proto      string // "tcp" or "udp"
	port       uint16
	scheduler  string
	persistent bool // timeout 600, netmask /24
	reals      []real
}

type real struct {
	host   int // rs<host>
	weight int
}

// pool is the number of real servers of a config with reals per service.
func pool(reals int) int { return max(reals*4, 64) }

// spec is generated service i.
func spec(i, reals int) service {
	s := service{
		name:       fmt.Sprintf("svc-%d", i),
		vip:        netip.AddrFrom4([4]byte{172, 16 + byte(i>>16), byte(i >> 8), byte(i)}),
		proto:      "tcp",
		port:       uint16(80 + i%3),
		scheduler:  schedulers[i%len(schedulers)],
		persistent: i%7 == 0,
	}
	if i%5 == 4 {
		s.proto = "udp"
	}
	for k := range reals {
		s.reals = append(s.reals, real{host: (i*7 + k) % pool(reals), weight: 1 + (i+k)%5})
	}
	return s
}

// Files returns the .cue files of a config with the given number of
// services and real servers per service, by file name. Services are
// written 100 to a file, as a large site would split them.
func Files(services, reals int) map[string][]byte {
	files := map[string][]byte{}
	var b bytes.Buffer
	b.WriteString("package lvs\n\nhosts: {\n")
	b.WriteString("\tlb1: {interfaces: eth0: addresses: [\"10.0.0.2/16\"], gateway: \"10.0.0.1\"}\n")
	b.WriteString("\tlb2: {interfaces: eth0: addresses: [\"10.0.0.3/16\"], gateway: \"10.0.0.1\"}\n")
	for i := range pool(reals) {
		fmt.Fprintf(&b, "\trs%d: {interfaces: eth0: addresses: [\"%s/16\"], gateway: \"10.0.0.1\"}\n", i, hostAddr(i))
	}
	b.WriteString("}\n\nclusters: big: {\n\tdirectors: [\"lb1\", \"lb2\"]\n\tvip: bind: \"none\"\n}\n")
	files["hosts.cue"] = bytes.Clone(b.Bytes())

	for f := 0; f*100 < services; f++ {
		b.Reset()
		b.WriteString("package lvs\n\nservices: {\n")
		for i := f * 100; i < min(services, (f+1)*100); i++ {
			s := spec(i, reals)
			fmt.Fprintf(&b, "\t%q: {\n\t\tcluster: \"big\"\n\t\tvip: %q\n\t\tprotocol: %q\n\t\tport: %d\n\t\tscheduler: %q\n",
				s.name, s.vip, s.proto, s.port, s.scheduler)
			if s.persistent {
				b.WriteString("\t\tpersistence: {timeout: 600, netmask: 24}\n")
			}
			b.WriteString("\t\treals: [\n")
			for _, r := range s.reals {
				fmt.Fprintf(&b, "\t\t\t{host: \"rs%d\", weight: %d},\n", r.host, r.weight)
			}
			b.WriteString("\t\t]\n\t}\n")
		}
		b.WriteString("}\n")
		files[fmt.Sprintf("services-%04d.cue", f)] = bytes.Clone(b.Bytes())
	}
	return files
}

// Director returns the desired state of director lb1 of the config Files
// writes — what compiler.Compile makes of it — built directly, without
// CUE: for benchmarks that need 10,000 services where compiling them
// would take minutes (the e2e VM). A test holds it equal to the
// compiler's output, so the shortcut cannot drift from the real thing.
func Director(services, reals int) *hoststate.Host {
	const reason = "cluster big"
	h := &hoststate.Host{
		Version:  hoststate.FormatVersion,
		Name:     "lb1",
		Roles:    []string{"director"},
		Timeouts: &hoststate.Timeouts{Timeouts: kernel.Timeouts{TCP: 900, TCPFin: 120, UDP: 300}, Reason: []string{reason}},
	}
	// The cluster's IPVS sysctls at the schema's defaults, by key.
	for _, kv := range [][2]string{
		{"conn_reuse_mode", "1"}, {"conntrack", "0"}, {"expire_nodest_conn", "1"},
		{"expire_quiescent_template", "1"}, {"ignore_tunneled", "0"}, {"pmtu_disc", "1"},
		{"schedule_icmp", "0"}, {"sloppy_sctp", "0"}, {"sloppy_tcp", "0"},
	} {
		h.Sysctls = append(h.Sysctls, hoststate.Sysctl{Key: "net.ipv4.vs." + kv[0], Value: kv[1], Reasons: []string{reason}})
	}
	svcs := make([]ipvs.Service, services)
	names := make(map[ipvs.ServiceKey]string, services)
	dests := make([]ipvs.Destination, 0, services*reals)
	for i := range services {
		s := spec(i, reals)
		proto := ipvs.TCP
		if s.proto == "udp" {
			proto = ipvs.UDP
		}
		svc := ipvs.Service{
			ServiceKey:  ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: proto, Addr: s.vip, Port: s.port},
			Scheduler:   s.scheduler,
			NetmaskBits: 32,
		}
		if s.persistent {
			svc.Flags, svc.Timeout, svc.NetmaskBits = ipvs.FlagPersistent, 600, 24
		}
		start := len(dests)
		for _, r := range s.reals {
			dests = append(dests, ipvs.Destination{Addr: hostAddr(r.host), Port: s.port, Forward: ipvs.Route, Weight: int32(r.weight)})
		}
		svc.Destinations = dests[start:len(dests):len(dests)]
		svcs[i] = svc
		names[svc.ServiceKey] = s.name
	}
	ipvs.Sort(svcs)
	h.Services = make([]hoststate.Service, len(svcs))
	for i, s := range svcs {
		h.Services[i] = hoststate.Service{Name: names[s.ServiceKey], Service: s}
	}
	return h
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

// WeightEdit is the edit the incremental benchmarks make in a config
// Write wrote into dir: the first weight of 1 in services-0001.cue (one
// service) becomes 9. It returns the file and its content before and
// after.
func WeightEdit(dir string) (file string, orig, edited []byte, err error) {
	file = filepath.Join(dir, "services-0001.cue")
	if orig, err = os.ReadFile(file); err != nil {
		return "", nil, nil, err
	}
	if !bytes.Contains(orig, []byte("weight: 1}")) {
		return "", nil, nil, fmt.Errorf("%s has no weight of 1", file)
	}
	edited = bytes.Replace(orig, []byte("weight: 1}"), []byte("weight: 9}"), 1)
	return file, orig, edited, nil
}
