package importer

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/ipvs"
)

// importMap imports /etc/keepalived/keepalived.conf from files.
func importMap(t *testing.T, files MapFiles, opts KeepalivedOptions) (*Result, error) {
	t.Helper()
	opts.Files = files
	if opts.Director == "" && opts.ConfigID == "" {
		opts.Director = "lb1"
	}
	return FromKeepalived("/etc/keepalived/keepalived.conf", opts)
}

func table(t *testing.T, files MapFiles, opts KeepalivedOptions) string {
	t.Helper()
	res, err := importMap(t, files, opts)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if err := Check(res); err != nil {
		t.Fatalf("%v\n%s", err, res.CUE)
	}
	return ipvs.SaveString(res.Table)
}

const vs80 = `virtual_server 192.0.2.10 80 {
  protocol TCP
  lb_kind DR
  real_server 10.0.0.11 80 {
  }
}
`

func TestKeepalivedIncludes(t *testing.T) {
	files := MapFiles{
		"/etc/keepalived/keepalived.conf": "include conf.d/*.conf\ninclude /etc/keepalived/extra/{a,b}.conf\nincludea nothing/*.conf\n",
		"/etc/keepalived/conf.d/1.conf":   vs80 + "include ../more/x.conf\n",
		"/etc/keepalived/more/x.conf":     strings.ReplaceAll(vs80, "192.0.2.10", "192.0.2.11"),
		"/etc/keepalived/extra/a.conf":    strings.ReplaceAll(vs80, "192.0.2.10", "192.0.2.12"),
		"/etc/keepalived/extra/b.conf":    strings.ReplaceAll(vs80, "192.0.2.10", "192.0.2.13"),
		"/etc/keepalived/extra/c.conf":    strings.ReplaceAll(vs80, "192.0.2.10", "192.0.2.14"),
	}
	res, err := importMap(t, files, KeepalivedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var vips []string
	for _, s := range res.Table {
		vips = append(vips, s.Addr.String())
	}
	if want := []string{"192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"}; !cmp.Equal(vips, want) {
		t.Errorf("services %q, want %q", vips, want)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].What, `include "nothing/*.conf" matches no file`) {
		t.Errorf("warnings %v", res.Warnings)
	}
	if !strings.Contains(string(res.CUE), "// more/x.conf:1: virtual_server 192.0.2.11 80") {
		t.Errorf("comments do not name files relative to the main one:\n%s", res.CUE)
	}

	loop := MapFiles{"/etc/keepalived/keepalived.conf": "include keepalived.conf\n"}
	if _, err := importMap(t, loop, KeepalivedOptions{}); err == nil || !strings.Contains(err.Error(), "more than 32 deep") {
		t.Errorf("include loop: %v", err)
	}
}

func TestKeepalivedPreprocessing(t *testing.T) {
	conf := `# comment
! another
$VIP=192.0.2.10
$PORT=80
$REAL= \
real_server 10.0.0.${N} ${PORT} { \
  weight ${N} \
}
@lb1 $SCHED=wrr
@^lb1 $SCHED=rr
virtual_server ${VIP} $PORT
{
  protocol "TCP"   # quoted
  lb_kind DR ! comment
  lvs_sched ${SCHED}
  $N=2
  $REAL
  ~SEQ(N, 3, 4) real_server 10.0.0.${N} 80 { weight 1 }
  @lb2 real_server 10.0.0.99 80
  @^lb2 real_server 10.0.0.98 80
}
`
	want := "-A -t 192.0.2.10:80 -s wrr\n" +
		"-a -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 2\n" +
		"-a -t 192.0.2.10:80 -r 10.0.0.3:80 -g -w 1\n" +
		"-a -t 192.0.2.10:80 -r 10.0.0.4:80 -g -w 1\n" +
		"-a -t 192.0.2.10:80 -r 10.0.0.98:80 -g -w 1\n"
	if got := table(t, MapFiles{"/etc/keepalived/keepalived.conf": conf}, KeepalivedOptions{}); got != want {
		t.Errorf("table:\n%s", cmp.Diff(want, got))
	}
	// With another configuration id.
	want2 := strings.Replace(want, "-s wrr", "-s rr", 1)
	want2 = strings.Replace(want2, "10.0.0.98", "10.0.0.99", 1)
	if got := table(t, MapFiles{"/etc/keepalived/keepalived.conf": conf}, KeepalivedOptions{Options: Options{Director: "lb1"}, ConfigID: "lb2"}); got != want2 {
		t.Errorf("config id lb2:\n%s", cmp.Diff(want2, got))
	}
}

func TestKeepalivedRouterID(t *testing.T) {
	files := MapFiles{"/etc/keepalived/keepalived.conf": "global_defs {\n  router_id edge1\n}\n" + vs80}
	res, err := FromKeepalived("/etc/keepalived/keepalived.conf", KeepalivedOptions{Files: files, ConfigID: "x"})
	if err != nil || res.Director != "edge1" {
		t.Fatalf("director %v, %v", res, err)
	}
	bad := MapFiles{"/etc/keepalived/keepalived.conf": "global_defs {\n  router_id \"lb 1\"\n}\n"}
	_, err = FromKeepalived("/etc/keepalived/keepalived.conf", KeepalivedOptions{Files: bad, ConfigID: "x"})
	if err == nil || !strings.Contains(err.Error(), "--director") {
		t.Errorf("router_id with a space: %v", err)
	}
}

// TestKeepalivedErrors checks that malformed configurations fail with the
// file, line and token at fault.
func TestKeepalivedErrors(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{"virtual_server 192.0.2.10 80 {\n  real_server 10.0.0.1 80 {\n}\n", `keepalived.conf:1: "{" is never closed`},
		{"}\n", `keepalived.conf:1: "}" without a matching "{"`},
		{"{\n", `keepalived.conf:1: "{" without a keyword before it`},
		{"virtual_server 192.0.2.10 80 {\n  misc \"open\n}\n", `keepalived.conf:2: unterminated " quote`},
		{"virtual_server 192.0.2.10 80 {\n  lvs_method TUN type gue\n}\n", `keepalived.conf:2: gue tunnels need a port`},
		{"virtual_server 192.0.2.10 80 {\n  lvs_method TUN type ipip csum\n}\n", `ipip tunnels take no checksum option`},
		{"virtual_server 192.0.2.10 80 {\n  lvs_method TUN type gre remcsum\n}\n", `gre tunnels take no remcsum`},
		{"virtual_server 192.0.2.10 80 {\n  lvs_method TUN type vxlan\n}\n", `tunnel type "vxlan"`},
		{"virtual_server 192.0.2.10-20 80 {\n}\n", `address ranges belong in a virtual_server_group`},
		{"virtual_server group nosuch {\n}\n", `virtual_server_group "nosuch" is not defined`},
		{"virtual_server fwmark 0 {\n}\n", `fwmark "0": want 1..4294967295`},
		{"virtual_server 192.0.2.10 80 {\n  persistence_granularity 255.255.255.x\n}\n", `IPv4 persistence_granularity`},
		{"virtual_server 192.0.2.10 80 {\n  persistence_engine rtsp\n}\n", `persistence engine "rtsp"`},
		{"virtual_server 192.0.2.10 80 {\n  ip_family inet6\n}\n", `ip_family inet6 conflicts`},
		{"virtual_server 192.0.2.10 80 {\n  real_server 10.0.0.1 80 {\n    uthreshold many\n  }\n}\n", `uthreshold "many"`},
		{"virtual_server_group g {\n  192.0.2.10-5 80\n}\n", `address range "192.0.2.10-5": the end is not above the start`},
		{"virtual_server_group g {\n  192.0.2.1/24 80\n}\n", `address bits beyond the prefix length are set`},
		{"virtual_server_group g {\n  10.0.0.0/8 80\n}\n", `more than 16384 addresses`},
		{"virtual_server_group g {\n  fwmark 1 inet7\n}\n", `fwmark family "inet7"`},
		{"virtual_server_group g {\n  fwmark 1\n}\nvirtual_server_group g {\n  fwmark 2\n}\n", `keepalived.conf:4: virtual_server_group "g" is defined twice`},
		{vs80 + vs80, `keepalived.conf:7: service tcp:192.0.2.10:80 is already defined at keepalived.conf:1`},
		{"global_defs {\n  lvs_timeouts tcp 0\n}\n", `lvs_timeouts tcp "0"`},
		{"~SEQ(N, 1, x) foo\n", `~SEQ: "x" is not a number`},
		{"~SEQ(N, 1, 1000000) foo\n", `more than 65536 steps`},
		{"$A=$A $A\n$A\n", `more than`},
		{"virtual_server 192.0.2.10 80 {\n  real_server 10.0.0.${_RANDOM 1 9} 80\n}\n", `_RANDOM`},
		{"@ real_server 10.0.0.1\n", `conditional "@" without a configuration id`},
		{"include\n", `include takes one file name`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := importMap(t, MapFiles{"/etc/keepalived/keepalived.conf": tc.conf}, KeepalivedOptions{})
			var ie *Error
			if err == nil || !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want an *Error containing %q", err, tc.want)
			}
			if ie.Line == 0 || ie.File == "" {
				t.Errorf("error %+v lacks its file or line", ie)
			}
		})
	}
}

// TestKeepalivedUnmodelled checks that what lvsgen does not model is
// listed, and written where it was.
func TestKeepalivedUnmodelled(t *testing.T) {
	conf := `global_defs {
  router_id lb1
  notification_email_from lb@example.com
  lvs_sync_daemon eth1 VI_1
  lvs_flush
  lvs_flush_on_stop
}
vrrp_script chk {
  script "/bin/true"
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  virtual_ipaddress {
    192.0.2.10/32 dev eth0
  }
}
virtual_server 192.0.2.10 80 {
  delay_loop 6
  protocol TCP
  lb_kind DR
  quorum 2
  quorum_up "/bin/true up"
  sorry_server 10.0.0.99 80
  sorry_server_lvs_method DR
  real_server 10.0.0.11 80 {
    notify_down /bin/true
    HTTP_GET {
      url {
        path /
        digest 0123456789abcdef
      }
    }
    SSL_GET {
      url {
        path /
      }
    }
  }
  real_server 10.0.0.12 80 {
    TCP_CHECK {
      connect_port 80
    }
    SMTP_CHECK {
    }
    DNS_CHECK {
    }
    BFD_CHECK {
    }
    UDP_CHECK {
    }
    PING_CHECK {
    }
    FILE_CHECK {
    }
  }
}
linkbeat_interfaces {
  eth0
}
static_routes {
  10.99.0.0/16 via 10.0.0.1
}
whatever_this_is 42
`
	res, err := importMap(t, MapFiles{"/etc/keepalived/keepalived.conf": conf}, KeepalivedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var kws []string
	for _, u := range res.Unmodelled {
		kws = append(kws, u.Keyword)
	}
	want := []string{"lvs_sync_daemon", "global_defs", "vrrp_script", "vrrp_instance", "quorum_up", "sorry_server_lvs_method",
		"notify_down", "SSL_GET", "SMTP_CHECK", "DNS_CHECK", "BFD_CHECK", "UDP_CHECK", "PING_CHECK", "FILE_CHECK",
		"linkbeat_interfaces", "static_routes", "whatever_this_is"}
	if diff := cmp.Diff(want, kws); diff != "" {
		t.Errorf("unmodelled keywords (-want +got):\n%s", diff)
	}
	cue := strings.Join(strings.Fields(strings.ReplaceAll(string(res.CUE), "//", "")), " ")
	for _, w := range []string{"virtual_ipaddress 192.0.2.10/32", "keepalived keeps (keepalived.conf:27): real_server 10.0.0.11 80: notify_down", "SSL_GET health checker {url}", "(a keyword the import does not know)",
		"lvs_sync_daemon eth1 VI_1: IPVS connection synchronisation, left to keepalived", "declare the cluster's sync (docs/OPERATIONS.md) and remove this line, never both"} {
		if !strings.Contains(cue, w) {
			t.Errorf("output lacks %q:\n%s", w, cue)
		}
	}
	var warned int
	for _, w := range res.Warnings {
		if strings.HasPrefix(w.What, "lvs_flush") {
			warned++
		}
	}
	if warned != 2 {
		t.Errorf("want warnings about lvs_flush and lvs_flush_on_stop: %v", res.Warnings)
	}
}

func TestExpandBraces(t *testing.T) {
	got := expandBraces("a{b,c{d,e}}f{,g}")
	want := []string{"abf", "abfg", "acdf", "acdfg", "acef", "acefg"}
	if !cmp.Equal(got, want) {
		t.Errorf("expandBraces = %q", got)
	}
}

// TestKeepalivedBigGroup imports a group of a thousand addresses: one
// lvsgen service each, which compile and render as keepalived programs
// them.
func TestKeepalivedBigGroup(t *testing.T) {
	conf := "virtual_server_group big {\n  10.100.0.0/22 80\n}\nvirtual_server group big {\n  protocol TCP\n  lb_kind DR\n  real_server 10.0.0.11 {\n  }\n}\n"
	res, err := importMap(t, MapFiles{"/etc/keepalived/keepalived.conf": conf}, KeepalivedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Imported) != 1024 {
		t.Fatalf("%d services, want 1024", len(res.Imported))
	}
	if err := Check(res); err != nil {
		t.Fatal(err)
	}
}
