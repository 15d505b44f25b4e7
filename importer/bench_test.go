package importer

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// bigSave is an `ipvsadm-save -n` capture of services TCP services with
// reals DR destinations each: 1 + reals lines a service, addresses
// counted up from 10.0.0.0 (VIPs) and 10.128.0.0 (real servers), so that
// every destination of a service is distinct.
func bigSave(services, reals int) []byte {
	var b bytes.Buffer
	vip := netip.MustParseAddr("10.0.0.0")
	for range services {
		vip = vip.Next()
		fmt.Fprintf(&b, "-A -t %s:80 -s wlc\n", vip)
		rip := netip.MustParseAddr("10.128.0.0")
		for range reals {
			rip = rip.Next()
			fmt.Fprintf(&b, "-a -t %s:80 -r %s:80 -g -w 1\n", vip, rip)
		}
	}
	return b.Bytes()
}

// BenchmarkImportSave imports and checks (as `lvsgen import` does)
// captures of many services, and of one service with many real servers.
//
//	go test ./importer -run - -bench ImportSave -benchtime 1x -count 6
func BenchmarkImportSave(b *testing.B) {
	for _, c := range []struct{ services, reals int }{{1, 10000}, {10000, 10}} {
		in := bigSave(c.services, c.reals)
		b.Run(fmt.Sprintf("services=%d,reals=%d,lines=%d", c.services, c.reals, bytes.Count(in, []byte("\n"))), func(b *testing.B) {
			for b.Loop() {
				res, err := FromSave(bytes.NewReader(in), Options{Director: "lb1", Source: "big.save"})
				if err != nil {
					b.Fatal(err)
				}
				if err := Check(res); err != nil {
					b.Fatal(strings.SplitN(err.Error(), "\n", 5))
				}
				if len(res.Imported) != c.services {
					b.Fatalf("imported %d services, want %d", len(res.Imported), c.services)
				}
			}
		})
	}
}

// BenchmarkImportKeepalived reads a keepalived.conf of one virtual server
// with 10,000 real servers, and one of 10,000 virtual servers with 10
// each, into the table and the CUE (without Check, which
// BenchmarkImportSave measures).
//
//	go test ./importer -run - -bench ImportKeepalived -benchtime 1x -count 6
func BenchmarkImportKeepalived(b *testing.B) {
	for _, c := range []struct{ services, reals int }{{1, 10000}, {10000, 10}} {
		var conf strings.Builder
		vip := netip.MustParseAddr("10.0.0.0")
		for range c.services {
			vip = vip.Next()
			fmt.Fprintf(&conf, "virtual_server %s 80 {\n  protocol TCP\n  lb_kind DR\n", vip)
			rip := netip.MustParseAddr("10.128.0.0")
			for range c.reals {
				rip = rip.Next()
				fmt.Fprintf(&conf, "  real_server %s 80 {\n    weight 1\n  }\n", rip)
			}
			conf.WriteString("}\n")
		}
		files := MapFiles{"/etc/keepalived/keepalived.conf": conf.String()}
		b.Run(fmt.Sprintf("services=%d,reals=%d", c.services, c.reals), func(b *testing.B) {
			for b.Loop() {
				res, err := FromKeepalived("/etc/keepalived/keepalived.conf", KeepalivedOptions{Options: Options{Director: "lb1"}, Files: files})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Imported) != c.services {
					b.Fatalf("imported %d services, want %d", len(res.Imported), c.services)
				}
			}
		})
	}
}
