//go:build e2eguest

package ipvs

// The real-kernel oracle for the save format: these tests run inside the
// e2e VM (a Debian 6.1 kernel with IPVS and Debian's ipvsadm 1.31, see
// e2e/vm) and compare what FormatSave and ParseSave say with what ipvsadm
// and the kernel do.

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	mobyipvs "github.com/moby/ipvs"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// restore loads text with `ipvsadm -R` in a fresh namespace and returns the
// namespace and ipvsadm's result.
func restore(t *testing.T, text string) (*topo.Node, guest.Result) {
	t.Helper()
	d := topo.New(t).Node("dir", nil, "")
	cmd := exec.Command("ipvsadm", "-R")
	cmd.Stdin = strings.NewReader(text)
	res, err := d.RunCmd(cmd)
	if err != nil {
		t.Fatalf("ipvsadm -R: %v", err)
	}
	return d, res
}

// kernelHas reports whether the kernel has every scheduler the services use.
func kernelHas(services []Service) bool {
	for _, s := range services {
		if res, err := guest.Run("modprobe", "ip_vs_"+s.Scheduler); err != nil || res.Exit != 0 {
			return false
		}
	}
	return true
}

// TestOracleSaveCases loads every save case that Validate accepts with
// ipvsadm -R and checks that ipvsadm -S -n prints it back byte for byte.
func TestOracleSaveCases(t *testing.T) {
	guest.Require(t)
	for _, tc := range saveCases() {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range tc.services {
				if err := s.Validate(); err != nil {
					t.Skipf("not restorable: %v", err)
				}
			}
			want := tc.want
			if tc.name == "every scheduler" {
				// Leave out the schedulers this kernel lacks (twos
				// came with Linux 6.2).
				var keep []string
				for _, line := range strings.SplitAfter(want, "\n") {
					f := strings.Fields(line)
					if len(f) == 0 || kernelHas([]Service{{Scheduler: f[len(f)-1]}}) {
						keep = append(keep, line)
					}
				}
				want = strings.Join(keep, "")
			} else if !kernelHas(tc.services) {
				t.Skip("the kernel lacks a scheduler")
			}
			d, res := restore(t, want)
			if res.Exit != 0 || res.Stderr != "" {
				t.Fatalf("ipvsadm -R:\n%s\ninput:\n%s", res, want)
			}
			got := d.MustRun("ipvsadm", "-S", "-n").Stdout
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ipvsadm -S -n (-FormatSave +ipvsadm):\n%s", diff)
			}
		})
	}
}

// TestOracleParseCases loads each ParseSave input with ipvsadm -R and checks
// that ipvsadm -S -n prints what FormatSave prints for ParseSave's values.
func TestOracleParseCases(t *testing.T) {
	guest.Require(t)
	for _, tc := range parseCases() {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ipvsadmDiffers != "" {
				t.Skip(tc.ipvsadmDiffers)
			}
			want := SaveString(parse(t, tc.in))
			d, res := restore(t, tc.in)
			if res.Exit != 0 || res.Stderr != "" {
				t.Fatalf("ipvsadm -R:\n%s\ninput:\n%s", res, tc.in)
			}
			got := d.MustRun("ipvsadm", "-S", "-n").Stdout
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ipvsadm -S -n (-FormatSave(ParseSave) +ipvsadm):\n%s\ninput:\n%s", diff, tc.in)
			}
		})
	}
}

// TestOracleParseErrors checks that ipvsadm -R (or the kernel behind it)
// also refuses each input ParseSave refuses, except where the difference is
// deliberate.
func TestOracleParseErrors(t *testing.T) {
	guest.Require(t)
	for _, tc := range parseErrorCases() {
		t.Run(tc.want, func(t *testing.T) {
			_, res := restore(t, tc.in)
			failed := res.Exit != 0 || res.Stderr != ""
			if tc.ipvsadmAccepts != "" {
				if failed {
					t.Errorf("ipvsadm -R was expected to accept this (%s):\n%s", tc.ipvsadmAccepts, res)
				}
				return
			}
			if !failed {
				t.Errorf("ipvsadm -R accepted input ParseSave refuses:\n%s", tc.in)
			}
			t.Logf("ipvsadm: exit %d: %s", res.Exit, strings.TrimSpace(res.Stderr))
		})
	}
}

// kernelTable reads the namespace's table over netlink in the order the
// kernel dumps it, which is the order ipvsadm's qsort starts from.
func kernelTable(t *testing.T, d *topo.Node) []Service {
	t.Helper()
	h, err := mobyipvs.New(d.NsPath())
	if err != nil {
		t.Fatalf("ipvs handle: %v", err)
	}
	defer h.Close()
	ks, err := h.GetServices()
	if err != nil {
		t.Fatalf("get services: %v", err)
	}
	var out []Service
	for _, k := range ks {
		s := Service{
			ServiceKey: ServiceKey{FWMark: k.FWMark, Family: Family(k.AddressFamily)},
			Scheduler:  k.SchedName,
			Flags:      k.Flags,
			Timeout:    k.Timeout,
			PE:         k.PEName,
		}
		if k.FWMark == 0 {
			s.Protocol = Protocol(k.Protocol)
			s.Addr = ipAddr(k.Address, s.Family)
			s.Port = k.Port
		}
		if s.Family == IPv6 {
			s.NetmaskBits = int(k.Netmask)
		} else {
			// The mask's bytes are in network order; moby/ipvs
			// read them as a native integer.
			var b [4]byte
			binary.NativeEndian.PutUint32(b[:], k.Netmask)
			n, ok := MaskBits(binary.BigEndian.Uint32(b[:]))
			if !ok {
				t.Fatalf("service %s: non-contiguous netmask %v", s.ServiceKey, b)
			}
			s.NetmaskBits = n
		}
		kd, err := h.GetDestinations(k)
		if err != nil {
			t.Fatalf("get destinations of %s: %v", s.ServiceKey, err)
		}
		for _, x := range kd {
			s.Destinations = append(s.Destinations, Destination{
				Addr:    ipAddr(x.Address, Family(x.AddressFamily)),
				Port:    x.Port,
				Forward: Forward(x.ConnectionFlags & 7),
				Weight:  int32(x.Weight),
			})
		}
		out = append(out, s)
	}
	return out
}

func ipAddr(ip net.IP, f Family) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	if f == IPv4 {
		return a.Unmap()
	}
	return a
}

// TestOracleKernelValues loads values through netlink that ipvsadm -R cannot
// express and checks ipvsadm -S -n against FormatSave of the table the
// kernel dumps: the sort from the kernel's own order (including a
// non-transitive case), sh with flag-3, Local forwarding, a -g destination
// on another port, a destination on a local address, the timeout and
// netmask of a non-persistent service, and fwmarks from 2^31 up. It then
// reads ipvsadm's output back with ParseSave.
//
// Weights above 65535 are left to the ipvsadm -R tests: moby/ipvs v1.1.0
// reads a destination's weight as 16 bits.
func TestOracleKernelValues(t *testing.T) {
	guest.Require(t)
	d := topo.New(t).Node("dir", nil, "")
	d.AddDummy("lo0")
	d.AddAddr("lo0", "10.0.0.5/32")
	h, err := mobyipvs.New(d.NsPath())
	if err != nil {
		t.Fatalf("ipvs handle: %v", err)
	}
	defer h.Close()
	for _, m := range []string{"rr", "sh"} {
		guest.MustRun(t, "modprobe", "ip_vs_"+m)
	}

	v4mask := func(a, b, c, d byte) uint32 { return binary.NativeEndian.Uint32([]byte{a, b, c, d}) }
	services := []*mobyipvs.Service{
		{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_TCP, Address: net.ParseIP("10.0.0.1").To4(), Port: 80,
			SchedName: "rr", Netmask: v4mask(255, 255, 255, 0), Timeout: 300},
		{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_TCP, Address: net.ParseIP("10.0.0.1").To4(), Port: 81,
			SchedName: "sh", Netmask: v4mask(255, 255, 255, 255), Flags: FlagSched3},
		{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_UDP, Address: net.ParseIP("200.0.0.1").To4(), Port: 53,
			SchedName: "rr", Netmask: v4mask(255, 255, 255, 255)},
		{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_UDP, Address: net.ParseIP("100.0.0.1").To4(), Port: 53,
			SchedName: "rr", Netmask: v4mask(255, 255, 255, 255)},
		{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_UDP, Address: net.ParseIP("10.0.0.1").To4(), Port: 53,
			SchedName: "rr", Netmask: v4mask(255, 255, 255, 255)},
		{AddressFamily: syscall.AF_INET, FWMark: 1, SchedName: "rr", Netmask: v4mask(255, 255, 255, 255)},
		{AddressFamily: syscall.AF_INET, FWMark: 2147483650, SchedName: "rr", Netmask: v4mask(255, 255, 255, 255)},
		{AddressFamily: syscall.AF_INET, FWMark: 3000000000, SchedName: "rr", Netmask: v4mask(255, 255, 255, 255)},
		{AddressFamily: syscall.AF_INET6, FWMark: 4294967295, SchedName: "rr", Netmask: 128},
	}
	for _, s := range services {
		if err := h.NewService(s); err != nil {
			t.Fatalf("new service %+v: %v", s, err)
		}
	}
	dests := []struct {
		svc  *mobyipvs.Service
		addr string
		port uint16
		fwd  uint32
		w    int
	}{
		{services[0], "10.0.0.2", 8080, uint32(Route), 65535},
		{services[0], "10.0.0.3", 80, uint32(Local), 1},
		{services[0], "10.0.0.4", 80, uint32(Masq), 0},
		{services[0], "10.0.0.5", 80, uint32(Route), 2},
		{services[4], "10.0.0.1", 53, uint32(Masq), 1},
		{services[4], "100.0.0.1", 53, uint32(Masq), 1},
		{services[4], "200.0.0.1", 53, uint32(Masq), 1},
		{services[4], "150.0.0.1", 53, uint32(Masq), 1},
		{services[4], "50.0.0.1", 53, uint32(Masq), 1},
	}
	for _, x := range dests {
		err := h.NewDestination(x.svc, &mobyipvs.Destination{
			AddressFamily: syscall.AF_INET, Address: net.ParseIP(x.addr).To4(), Port: x.port,
			ConnectionFlags: x.fwd, Weight: x.w,
		})
		if err != nil {
			t.Fatalf("new destination %s: %v", x.addr, err)
		}
	}

	table := kernelTable(t, d)
	t.Logf("kernel dump order:\n%s", dumpOrder(table))
	for _, s := range table {
		for _, x := range s.Destinations {
			switch x.Addr {
			case netip.MustParseAddr("10.0.0.3"):
				t.Logf("the kernel dumps the Local destination with forwarding method %s", x.Forward)
			case netip.MustParseAddr("10.0.0.5"):
				t.Logf("the kernel dumps the direct-routing destination on a local address with forwarding method %s", x.Forward)
			}
		}
	}
	want := SaveString(table)
	got := d.MustRun("ipvsadm", "-S", "-n").Stdout
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ipvsadm -S -n (-FormatSave +ipvsadm):\n%s", diff)
	}
	for _, line := range []string{
		"-A -t 10.0.0.1:80 -s rr\n",
		"-A -t 10.0.0.1:81 -s sh -b \n",
		"-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -g -w 65535\n",
		"-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 1\n",
		"-a -t 10.0.0.1:80 -r 10.0.0.5:80 -g -w 2\n",
		"-A -f -2147483646 -s rr\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("ipvsadm -S -n lacks %q:\n%s", line, got)
		}
	}

	// ParseSave reads ipvsadm's output back, all but the sh service whose
	// "-b " has no argument and the -g destination whose port ParseSave,
	// like ipvsadm -R, replaces by the service port.
	var lines []string
	for _, line := range strings.SplitAfter(got, "\n") {
		if !strings.Contains(line, " 10.0.0.1:81 ") && !strings.Contains(line, " 10.0.0.2:8080 -g ") {
			lines = append(lines, line)
		}
	}
	text := strings.Join(lines, "")
	back, err := ParseSave(strings.NewReader(text))
	if err != nil {
		t.Fatalf("ParseSave of ipvsadm -S -n: %v\n%s", err, text)
	}
	// The UDP services 10.0.0.1, 100.0.0.1 and 200.0.0.1 have no total
	// order, so sorting ipvsadm's order again may move them: compare the
	// lines, not their order.
	if diff := cmp.Diff(sortedLines(text), sortedLines(SaveString(back))); diff != "" {
		t.Errorf("FormatSave(ParseSave(ipvsadm -S -n)) lines (-ipvsadm +FormatSave):\n%s", diff)
	}
}

func dumpOrder(table []Service) string {
	var b strings.Builder
	for _, s := range table {
		b.WriteString(s.ServiceKey.String())
		var ds []string
		for _, x := range s.Destinations {
			ds = append(ds, x.AddrPort().String())
		}
		if len(ds) > 0 {
			b.WriteString(" [" + strings.Join(ds, " ") + "]")
		}
		b.WriteByte('\n')
	}
	return b.String()
}
