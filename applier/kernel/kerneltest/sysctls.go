package kerneltest

import (
	"syscall"
	"testing"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// sysctlTests are the tests of kernel.Sysctls.
var sysctlTests = []test{
	{"Sysctls/ReadWrite", testSysctls},
	{"Sysctls/Unknown", testSysctlUnknown},
	{"Sysctls/PerDevice", testSysctlPerDevice},
	{"Sysctls/OpErrors", testSysctlOpErrors},
}

func (s *suite) sysctl(key string) string {
	s.t.Helper()
	v, err := s.k.Sysctl(s.ctx, key)
	s.must(err)
	return v
}

func testSysctls(t *testing.T, s *suite) {
	for _, kv := range [][2]string{
		{"net.ipv4.ip_forward", "1"},
		{"net.ipv4.ip_forward", "0"},
		{"net.ipv6.conf.all.forwarding", "1"},
		{"net.ipv4.vs.conntrack", "1"},
		{"net.ipv4.vs.expire_nodest_conn", "1"},
		{"net.ipv4.conf.all.arp_ignore", "1"},
		{"net.ipv4.conf.all.arp_announce", "2"},
		{"net.ipv4.conf." + Device + ".rp_filter", "2"},
		{"net.ipv4.conf." + Device + ".send_redirects", "0"},
	} {
		s.must(s.k.SetSysctl(s.ctx, kv[0], kv[1]))
		if got := s.sysctl(kv[0]); got != kv[1] {
			t.Errorf("%s = %q after writing %q", kv[0], got, kv[1])
		}
	}
}

func testSysctlUnknown(t *testing.T, s *suite) {
	for _, key := range []string{"net.ipv4.nosuch", "net.ipv4.conf.nosuch0.rp_filter", "nosuch"} {
		_, err := s.k.Sysctl(s.ctx, key)
		s.wantErr("reading "+key, err, syscall.ENOENT)
		s.wantErr("writing "+key, s.k.SetSysctl(s.ctx, key, "1"), syscall.ENOENT)
	}
}

func testSysctlPerDevice(t *testing.T, s *suite) {
	// A device name may have dots: the key's device part is all of them.
	for _, name := range []string{"lvs0", "vip.100"} {
		keys := []string{"arp_ignore", "arp_announce", "rp_filter", "send_redirects"}
		for _, k := range keys {
			_, err := s.k.Sysctl(s.ctx, "net.ipv4.conf."+name+"."+k)
			s.wantErr("reading a key of a device not yet there", err, syscall.ENOENT)
		}
		s.must(s.k.AddLink(s.ctx, kernel.Link{Name: name, Kind: "dummy"}))
		for _, k := range keys {
			key := "net.ipv4.conf." + name + "." + k
			s.sysctl(key)
			s.must(s.k.SetSysctl(s.ctx, key, "2"))
			if got := s.sysctl(key); got != "2" {
				t.Errorf("%s = %q after writing 2", key, got)
			}
		}
		s.must(s.k.DelLink(s.ctx, name))
		_, err := s.k.Sysctl(s.ctx, "net.ipv4.conf."+name+".rp_filter")
		s.wantErr("reading a key of a deleted device", err, syscall.ENOENT)
	}
}

// testSysctlOpErrors: a failed sysctl read or write is an *OpError naming
// the key.
func testSysctlOpErrors(t *testing.T, s *suite) {
	_, err := s.k.Sysctl(s.ctx, "net.ipv4.nosuch")
	s.wantOpError(err, "reading", "sysctl net.ipv4.nosuch", syscall.ENOENT)
	s.wantOpError(s.k.SetSysctl(s.ctx, "net.ipv4.nosuch", "1"), "writing", "sysctl net.ipv4.nosuch", syscall.ENOENT)
}
