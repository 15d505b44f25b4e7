package importer

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/ipvs"
)

// addrs parses space-separated addresses; "a-b" is every address from a
// to b.
func addrs(t *testing.T, s string) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	for _, w := range strings.Fields(s) {
		from, to, isRange := strings.Cut(w, "-")
		a := netip.MustParseAddr(from)
		if !isRange {
			out = append(out, a)
			continue
		}
		last := netip.MustParseAddr(to)
		for ; a.Compare(last) <= 0; a = a.Next() {
			out = append(out, a)
		}
	}
	return out
}

// TestInferInterfaces checks the subnets the import declares the director
// on: the narrowest from a /24 (/64) with no real server or VIP at an edge
// and an address left for the director, named in address order, and the
// addresses no subnet down to a /16 takes. The wanted subnets are worked
// out by hand from the addresses, not from the code.
func TestInferInterfaces(t *testing.T) {
	for _, tt := range []struct {
		name            string
		members, others string
		// want is "name prefix addr: first-real..last-real (n)" per
		// interface; stranded is "addr prefix edge" per address.
		want     []string
		stranded []string
	}{
		{
			name:    "one /24, its first address free",
			members: "10.1.0.6 10.1.0.5",
			want:    []string{"todo0 10.1.0.0/24 10.1.0.1: 10.1.0.5..10.1.0.6 (2)"},
		},
		{
			name:    "separate /24s in address order, whatever the input order",
			members: "10.2.0.5 192.0.2.7 10.1.0.5 10.1.0.5",
			want: []string{
				"todo0 10.1.0.0/24 10.1.0.1: 10.1.0.5..10.1.0.5 (1)",
				"todo1 10.2.0.0/24 10.2.0.1: 10.2.0.5..10.2.0.5 (1)",
				"todo2 192.0.2.0/24 192.0.2.1: 192.0.2.7..192.0.2.7 (1)",
			},
		},
		{
			name:    "a broadcast .255 widens to the /23, taking in the next /24",
			members: "10.1.1.7 10.1.0.255 10.1.4.5",
			want: []string{
				"todo0 10.1.0.0/23 10.1.0.1: 10.1.0.255..10.1.1.7 (2)",
				"todo1 10.1.4.0/24 10.1.4.1: 10.1.4.5..10.1.4.5 (1)",
			},
		},
		{
			name:    "a network .0 widens to the /23, taking in the /24 before",
			members: "10.1.1.0 10.1.0.9",
			want:    []string{"todo0 10.1.0.0/23 10.1.0.1: 10.1.0.9..10.1.1.0 (2)"},
		},
		{
			// 10.1.1.255 is the broadcast address of 10.1.1.0/24 and of
			// 10.1.0.0/23, 10.1.2.0 the network address of 10.1.2.0/24
			// and 10.1.2.0/23: the /22 holds both inside.
			name:    "edges on both sides of a /23 boundary widen to the /22 holding both",
			members: "10.1.2.0 10.1.1.255",
			want:    []string{"todo0 10.1.0.0/22 10.1.0.1: 10.1.1.255..10.1.2.0 (2)"},
		},
		{
			// 10.1.3.255 is the broadcast address of its /24, /23
			// (10.1.2.0/23) and /22 (10.1.0.0/22); 10.1.1.0 would be
			// fine in 10.1.0.0/23, which the /21 takes in.
			name:    "x.y.3.255 widens to the /21",
			members: "10.1.3.255 10.1.1.0",
			want:    []string{"todo0 10.1.0.0/21 10.1.0.1: 10.1.1.0..10.1.3.255 (2)"},
		},
		{
			// The benchmark's pool: 10.128.0.1 to 10.128.39.16. Its .255
			// addresses widen 10.128.0.0/24 until the broadcast address
			// is free: 10.128.31.255 is the /19's, 10.128.63.255 the
			// /18's.
			name:    "10,000 real servers from .0.1 on fill most of a /18",
			members: "10.128.0.1-10.128.39.16",
			want:    []string{"todo0 10.128.0.0/18 10.128.39.17: 10.128.0.1..10.128.39.16 (10000)"},
		},
		{
			name:    "the director's address is no real server's nor VIP's",
			members: "10.1.0.1 10.1.0.2 10.1.0.4",
			others:  "10.1.0.3 10.9.9.9",
			want:    []string{"todo0 10.1.0.0/24 10.1.0.5: 10.1.0.1..10.1.0.4 (3)"},
		},
		{
			name:    "a VIP at the edge widens too",
			members: "10.1.0.5",
			others:  "10.1.0.255",
			want:    []string{"todo0 10.1.0.0/23 10.1.0.1: 10.1.0.5..10.1.0.5 (1)"},
		},
		{
			name:    "a VIP or tunnel real server at an edge of a subnet the director is not on is no matter",
			members: "10.1.0.5",
			others:  "10.2.0.0 10.2.0.255 10.1.1.0",
			want:    []string{"todo0 10.1.0.0/24 10.1.0.1: 10.1.0.5..10.1.0.5 (1)"},
		},
		{
			// Every host address of the /24 is taken; in the /23,
			// 10.1.0.255 is a host address.
			name:    "a full /24 leaves the director no address: the /23",
			members: "10.1.0.1-10.1.0.200",
			others:  "10.1.0.201-10.1.0.254",
			want:    []string{"todo0 10.1.0.0/23 10.1.0.255: 10.1.0.1..10.1.0.200 (200)"},
		},
		{
			name:     "x.y.0.0 is the network address of every subnet from the /24 to the /16",
			members:  "10.1.0.0 10.1.7.7 10.2.0.5",
			want:     []string{"todo0 10.1.0.0/16 10.1.0.1: 10.1.0.0..10.1.7.7 (2)", "todo1 10.2.0.0/24 10.2.0.1: 10.2.0.5..10.2.0.5 (1)"},
			stranded: []string{"10.1.0.0 10.1.0.0/16 network"},
		},
		{
			name:     "x.y.255.255 is the broadcast address of every subnet from the /24 to the /16",
			members:  "10.1.255.255",
			want:     []string{"todo0 10.1.0.0/16 10.1.0.1: 10.1.255.255..10.1.255.255 (1)"},
			stranded: []string{"10.1.255.255 10.1.0.0/16 broadcast"},
		},
		{
			name:     "a VIP at x.y.0.0 strands itself, not the real servers",
			members:  "10.2.0.5",
			others:   "10.2.0.0",
			want:     []string{"todo0 10.2.0.0/16 10.2.0.1: 10.2.0.5..10.2.0.5 (1)"},
			stranded: []string{"10.2.0.0 10.2.0.0/16 network"},
		},
		{
			// 10.3.255.255 is the /16's broadcast only because the
			// network address widened the subnet: both are stranded.
			name:     "both edges of the /16",
			members:  "10.3.0.0 10.3.255.255",
			want:     []string{"todo0 10.3.0.0/16 10.3.0.1: 10.3.0.0..10.3.255.255 (2)"},
			stranded: []string{"10.3.0.0 10.3.0.0/16 network", "10.3.255.255 10.3.0.0/16 broadcast"},
		},
		{
			// IPv6 subnets have no edges lvsgen refuses; the director
			// still takes neither the subnet-router anycast address nor
			// a real server's.
			name:    "IPv6: a /64 each, never widened, after IPv4",
			members: "2001:db8:1:2:: 2001:db8:1:2::1 2001:db8:1:3:ffff:ffff:ffff:ffff 10.1.0.5",
			others:  "2001:db8:1:2::2",
			want: []string{
				"todo0 10.1.0.0/24 10.1.0.1: 10.1.0.5..10.1.0.5 (1)",
				"todo1 2001:db8:1:2::/64 2001:db8:1:2::3: 2001:db8:1:2::..2001:db8:1:2::1 (2)",
				"todo2 2001:db8:1:3::/64 2001:db8:1:3::1: 2001:db8:1:3:ffff:ffff:ffff:ffff..2001:db8:1:3:ffff:ffff:ffff:ffff (1)",
			},
		},
		{
			name: "none",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			members, others := addrs(t, tt.members), addrs(t, tt.others)
			for _, order := range []string{"as given", "reversed"} {
				ifaces, stranded := inferInterfaces(members, others)
				var got []string
				for _, ifc := range ifaces {
					got = append(got, fmt.Sprintf("%s %s %s: %s..%s (%d)", ifc.name, ifc.prefix, ifc.addr, ifc.reals[0], ifc.reals[len(ifc.reals)-1], len(ifc.reals)))
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s: interfaces (-want +got):\n%s", order, diff)
				}
				var gotStranded []string
				for a, st := range stranded {
					gotStranded = append(gotStranded, fmt.Sprintf("%s %s %s", a, st.prefix, st.edge))
				}
				slices.Sort(gotStranded)
				if diff := cmp.Diff(tt.stranded, gotStranded); diff != "" {
					t.Errorf("%s: stranded (-want +got):\n%s", order, diff)
				}
				slices.Reverse(members)
				slices.Reverse(others)
			}
		})
	}
}

// TestInferInterfacesValid checks the inferred subnets against the rules
// they are inferred for, on addresses drawn around the edges of /24s and
// /16s: every member is in exactly one subnet, no member or other is at the
// edge of one, and the director's address is a host address of its subnet
// that is neither; where a subnet has an address at an edge, it is a /16
// and the address is stranded; and a subnet wider than a /24 was needed:
// one of its members is at an edge of, or leaves no address in, each
// narrower subnet from its /24 up.
func TestInferInterfacesValid(t *testing.T) {
	pick := []string{"0", "1", "127", "128", "254", "255"}
	var pool []netip.Addr
	for _, b := range []string{"0", "1", "2", "255"} {
		for _, c := range pick {
			for _, d := range pick {
				pool = append(pool, netip.MustParseAddr(fmt.Sprintf("10.%s.%s.%s", b, c, d)))
			}
		}
	}
	// A fixed walk over the pool: each round takes every k-th address as
	// a member and the one after it as another.
	for k := 2; k <= 9; k++ {
		var members, others []netip.Addr
		for i := 0; i < len(pool); i += k {
			members = append(members, pool[i])
			if i+1 < len(pool) {
				others = append(others, pool[i+1])
			}
		}
		ifaces, stranded := inferInterfaces(members, others)
		occupied := map[netip.Addr]bool{}
		for _, a := range append(slices.Clone(members), others...) {
			occupied[a] = true
		}
		for _, m := range members {
			n := 0
			for _, ifc := range ifaces {
				if ifc.prefix.Contains(m) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("k=%d: member %s is in %d subnets", k, m, n)
			}
		}
		for _, ifc := range ifaces {
			if ifc.prefix.Bits() < widestBits4 || ifc.prefix.Bits() > baseBits4 {
				t.Errorf("k=%d: %s is not from a /24 to a /16", k, ifc.prefix)
			}
			for _, e := range compiler.SubnetEdges(ifc.prefix) {
				if occupied[e.Addr] {
					if st, ok := stranded[e.Addr]; !ok || st.prefix != ifc.prefix || ifc.prefix.Bits() != widestBits4 {
						t.Errorf("k=%d: %s at the edge of %s, stranded %+v", k, e.Addr, ifc.prefix, st)
					}
				}
				if ifc.addr == e.Addr {
					t.Errorf("k=%d: the director's address %s is an edge of %s", k, ifc.addr, ifc.prefix)
				}
			}
			if !ifc.prefix.Contains(ifc.addr) || occupied[ifc.addr] {
				t.Errorf("k=%d: the director's address %s on %s is taken or outside", k, ifc.addr, ifc.prefix)
			}
			invalid := func(p netip.Prefix) bool {
				for _, e := range compiler.SubnetEdges(p) {
					if occupied[e.Addr] {
						return true
					}
				}
				_, ok := directorAddr(p, occupied)
				return !ok
			}
			needed := ifc.prefix.Bits() == baseBits4
			for _, m := range ifc.reals {
				all := true
				for bits := ifc.prefix.Bits() + 1; bits <= baseBits4; bits++ {
					p, _ := m.Prefix(bits)
					all = all && invalid(p)
				}
				needed = needed || all
			}
			if !needed {
				t.Errorf("k=%d: %s is wider than its real servers need", k, ifc.prefix)
			}
		}
	}
}

// TestImportSubnetEdges imports captures (and a keepalived.conf) whose
// real servers, VIPs or sorry servers are at the edge of a /24 and checks
// what is imported and skipped, the subnets the director is declared on,
// and that the output validates and renders the imported services exactly
// (Check, and the ipvsadm-save text), so that the first plan against the
// capture shows no IPVS change.
func TestImportSubnetEdges(t *testing.T) {
	svc := func(vip string, reals ...string) string {
		s := "-A -t " + vip + " -s rr\n"
		for _, r := range reals {
			s += "-a -t " + vip + " -r " + r + " -w 1\n"
		}
		return s
	}
	for _, tt := range []struct {
		name, save, conf string
		// skipped maps a service key to a word of the reason.
		skipped map[string]string
		// ifaces are the interfaces' lines in the CUE, in order.
		ifaces []string
	}{
		{
			name:   "a pool across two /24s",
			save:   svc("192.0.2.1:80", "10.1.0.254:80 -g", "10.1.0.255:80 -g", "10.1.1.0:80 -g", "10.1.1.1:80 -g"),
			ifaces: []string{`todo0: {addresses: ["10.1.0.1/23"]}`},
		},
		{
			name:   "NAT real servers at .255 with their own port",
			save:   svc("192.0.2.1:80", "10.5.0.255:8080 -m", "10.5.3.7:8080 -m"),
			ifaces: []string{`todo0: {addresses: ["10.5.0.1/23"]}`, `todo1: {addresses: ["10.5.3.1/24"]}`},
		},
		{
			name:   "a VIP at the broadcast address of its real servers' /24",
			save:   svc("10.1.0.255:80", "10.1.0.5:80 -g"),
			ifaces: []string{`todo0: {addresses: ["10.1.0.1/23"]}`},
		},
		{
			name:   "the director's address is neither a VIP nor a real server",
			save:   svc("10.1.0.1:80", "10.1.0.2:80 -g") + svc("10.1.0.3:80", "10.1.0.4:80 -g"),
			ifaces: []string{`todo0: {addresses: ["10.1.0.5/24"]}`},
		},
		{
			name:   "a tunnel real server at the edge of a DR subnet",
			save:   svc("192.0.2.1:80", "10.3.0.5:80 -g") + svc("192.0.2.2:80", "10.3.0.255:80 -i --tun-type ipip"),
			ifaces: []string{`todo0: {addresses: ["10.3.0.1/23"]}`},
		},
		{
			// Without the skipped service's 10.2.0.0, 10.2.5.4 needs no
			// more than its /24.
			name:    "a real server at x.y.0.0 is skipped, and the others' subnets are narrow again",
			save:    svc("192.0.2.1:80", "10.2.0.0:80 -g", "10.2.3.4:80 -g") + svc("192.0.2.2:80", "10.2.5.4:80 -g"),
			skipped: map[string]string{"tcp:192.0.2.1:80": "real server 10.2.0.0 is the network address of every subnet from the /24 to the /16 holding it (10.2.0.0/16)"},
			ifaces:  []string{`todo0: {addresses: ["10.2.5.1/24"]}`},
		},
		{
			name:    "a NAT real server at x.y.255.255",
			save:    svc("192.0.2.1:80", "10.2.255.255:80 -m"),
			skipped: map[string]string{"tcp:192.0.2.1:80": "(rule real-subnet-edge)"},
		},
		{
			name:    "a VIP at x.y.0.0 with its real servers in that /24",
			save:    svc("10.4.0.0:80", "10.4.0.5:80 -g") + svc("192.0.2.1:80", "10.4.0.6:80 -g"),
			skipped: map[string]string{"tcp:10.4.0.0:80": "the virtual address 10.4.0.0 is the network address of 10.4.0.0/16"},
			ifaces:  []string{`todo0: {addresses: ["10.4.0.1/24"]}`},
		},
		{
			name:    "a tunnel real server at x.y.0.0 with DR real servers in that /24",
			save:    svc("192.0.2.1:80", "10.6.0.5:80 -g") + svc("192.0.2.2:80", "10.6.0.0:80 -i --tun-type ipip"),
			skipped: map[string]string{"tcp:192.0.2.2:80": "(rule real-subnet-edge)"},
			ifaces:  []string{`todo0: {addresses: ["10.6.0.1/24"]}`},
		},
		{
			name:    "the VIP as a real server stays skipped as such",
			save:    svc("10.1.0.9:80", "10.1.0.9:80 -g", "10.1.0.255:80 -g"),
			skipped: map[string]string{"tcp:10.1.0.9:80": "real-vip"},
		},
		{
			name:   "IPv6: the subnet-router anycast address is a real server like another",
			save:   svc("[2001:db8::1]:80", "[2001:db8:1:2::]:80 -g", "[2001:db8:1:2::1]:80 -g"),
			ifaces: []string{`todo0: {addresses: ["2001:db8:1:2::2/64"]}`},
		},
		{
			name: "a keepalived sorry server at .255",
			conf: "virtual_server 192.0.2.10 80 {\n  protocol TCP\n  lb_kind DR\n  sorry_server 10.7.0.255 80\n" +
				"  real_server 10.7.0.5 80 {\n  }\n}\n",
			ifaces: []string{`todo0: {addresses: ["10.7.0.1/23"]}`},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var res *Result
			var err error
			if tt.conf != "" {
				res, err = importMap(t, MapFiles{"/etc/keepalived/keepalived.conf": tt.conf}, KeepalivedOptions{})
			} else {
				res, err = FromSave(strings.NewReader(tt.save), Options{Director: "lb1", Source: "lb1.save"})
			}
			if err != nil {
				t.Fatal(err)
			}
			skipped := checkSkipped(t, res, tt.skipped)
			var got []string
			for _, l := range strings.Split(string(res.CUE), "\n") {
				if l = strings.TrimSpace(l); strings.HasPrefix(l, "todo") {
					got = append(got, l)
				}
			}
			if diff := cmp.Diff(tt.ifaces, got); diff != "" {
				t.Errorf("interfaces (-want +got):\n%s\n%s", diff, res.CUE)
			}
			if err := Check(res); err != nil {
				t.Fatal(err)
			}
			var kept []ipvs.Service
			for _, s := range res.Table {
				if _, ok := skipped[s.ServiceKey.String()]; !ok {
					kept = append(kept, s)
				}
			}
			if diff := cmp.Diff(ipvs.SaveString(kept), render(t, res)); diff != "" {
				t.Errorf("rendered (-imported services +lvsgen render):\n%s", diff)
			}
		})
	}
}
