package importer

import (
	"strings"
	"testing"
)

// TestKeepalivedChecks imports each keepalived checker and health setting
// and looks for the lvsgen fields it maps to and the warnings, with their
// lines; every import must validate.
func TestKeepalivedChecks(t *testing.T) {
	tests := []struct {
		name     string
		vs, real string // lines of the virtual_server (before real_server 10.0.0.11 80) and of the real server
		want     []string
		warn     []string // "LINE: text"
		kept     []string // unmodelled keywords
	}{
		{
			name: "tcp", vs: "delay_loop 10\ninhibit_on_failure\nalpha",
			real: "TCP_CHECK {\nconnect_port 8080\nconnect_timeout 3\nretry 2\ndelay_before_retry 4\n}",
			want: []string{`check: {type: "tcp", port: 8080, interval: "10s", timeout: "3s", rise: 1, fall: 3, initial: "down", onFailure: "quiesce"}`},
			warn: []string{"12: delay_before_retry 4: dropped"},
		},
		{
			name: "tcp defaults", real: "TCP_CHECK {\n}",
			want: []string{`check: {type: "tcp", interval: "60s", timeout: "5s", rise: 1, fall: 2, onFailure: "remove"}`},
		},
		{
			name: "timeout clamped", vs: "delay_loop 2", real: "TCP_CHECK {\nconnect_timeout 5\n}",
			want: []string{`interval: "2s", timeout: "2s"`},
			warn: []string{"6: TCP_CHECK: its timeout 5s is longer than delay_loop 2s"},
		},
		{
			name: "connect_ip elsewhere", real: "TCP_CHECK {\nconnect_ip 10.0.0.99\n}",
			kept: []string{"TCP_CHECK"},
		},
		{
			name: "http", vs: "virtualhost www.example.com",
			real: "HTTP_GET {\nurl {\npath /healthz\nstatus_code 200 301-302\ndigest abc\n}\nurl {\npath /b\n}\nnb_get_retry 3\n}",
			want: []string{`type: "http"`, `fall: 4`, `path: "/healthz", host: "www.example.com", expect: [200, 301, 302]`},
			warn: []string{"10: digest: dropped", "6: HTTP_GET checks 2 urls and needs all of them to pass; lvsgen checks one path: the url at keepalived.conf:7 is imported, not the ones at keepalived.conf:12"},
		},
		{
			name: "https sni", real: "SSL_GET {\nurl {\npath /\nvirtualhost a.example\n}\nenable_sni\n}",
			want: []string{`type: "https"`, `host: "a.example", serverName: "a.example", expect: [200, 201, 202, 203, 204, 205, 206, 207, 208, 226]`},
		},
		{
			name: "dns", real: "DNS_CHECK {\ntype A\nname example.com.\nconnect_port 53\n}",
			want: []string{`type: "dns", port: 53`, `query: "example.com.", queryType: "A"`},
		},
		{
			name: "dns defaults", real: "DNS_CHECK {\n}",
			want: []string{`query: ".", queryType: "SOA"`},
		},
		{
			name: "misc", vs: "delay_loop 20",
			real: "MISC_CHECK {\nmisc_path \"/usr/local/bin/check web1\"\nmisc_timeout 10\nuser nobody\n}",
			want: []string{`type: "exec", interval: "20s", timeout: "10s"`, `command: ["/usr/local/bin/check", "web1"], user: "nobody"`},
		},
		{
			name: "misc default user", vs: "connect_timeout 3", real: "MISC_CHECK {\nmisc_path /usr/local/bin/check\n}",
			want: []string{`timeout: "60s"`, `user: "keepalived_script"`},
			warn: []string{"6: MISC_CHECK has no user"},
		},
		{
			name: "misc shell", real: "MISC_CHECK {\nmisc_path \"/bin/check | grep ok\"\nuser nobody\n}",
			warn: []string{"6: misc_path \"/bin/check | grep ok\" needs a shell"},
			kept: []string{"MISC_CHECK"},
		},
		{
			name: "misc root", real: "MISC_CHECK {\nmisc_path /bin/check\nuser root\n}",
			kept: []string{"MISC_CHECK"},
		},
		{
			name: "several checkers", real: "TCP_CHECK {\n}\nHTTP_GET {\nurl {\npath /\n}\n}\nSMTP_CHECK {\n}",
			want: []string{`type: "tcp"`},
			warn: []string{"7: HTTP_GET: keepalived needs every checker", "12: SMTP_CHECK: keepalived needs every checker"},
			kept: []string{"HTTP_GET", "SMTP_CHECK"},
		},
		{
			name: "an unexpressed checker first", real: "SMTP_CHECK {\n}\nTCP_CHECK {\n}",
			want: []string{`type: "tcp"`},
			warn: []string{"7: TCP_CHECK: keepalived needs every checker of real_server 10.0.0.11 80 to pass; lvsgen has one check per real server and imports this one, not the ones at SMTP_CHECK keepalived.conf:5"},
			kept: []string{"SMTP_CHECK"},
		},
		{
			name: "sorry and quorum", vs: "sorry_server 10.0.0.50 8080\nsorry_server_inhibit\nquorum 2\nhysteresis 1",
			real: "TCP_CHECK {\n}",
			want: []string{`sorry: {address: "10.0.0.50", port: 8080}`, "quorum:     2", "hysteresis: 1"},
			kept: []string{"sorry_server_inhibit"},
		},
		{
			name: "sorry is a real server", vs: "sorry_server 10.0.0.12 80", real: "TCP_CHECK {\n}",
			warn: []string{"4: sorry_server 10.0.0.12 80: not imported: it is also a real server of the service"},
			kept: []string{"sorry_server"},
		},
		{
			name: "misc with an option", real: "MISC_CHECK {\nmisc_path \"/bin/check --port=80\"\nuser nobody\n}",
			want: []string{`command: ["/bin/check", "--port=80"]`},
		},
		{
			name: "hysteresis clamped", vs: "quorum 2\nhysteresis 5", real: "TCP_CHECK {\n}",
			want: []string{"hysteresis: 1"},
			warn: []string{"1: hysteresis 5 is not below quorum 2"},
		},
	}
	// A fwmark DR service's real servers have port 0: a check without
	// connect_port has nothing to connect to.
	fwmark := "virtual_server fwmark 5 {\nlb_kind DR\nreal_server 10.0.0.11 80 {\nTCP_CHECK {\n}\n}\nreal_server 10.0.0.12 80 {\nTCP_CHECK {\nconnect_port 80\n}\n}\n}\n"
	t.Run("fwmark without connect_port", func(t *testing.T) {
		res, err := importMap(t, MapFiles{"/etc/keepalived/keepalived.conf": fwmark}, KeepalivedOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Unmodelled) != 1 || res.Unmodelled[0].Where != "keepalived.conf:4" || !strings.Contains(string(res.CUE), `{address: "10.0.0.12", weight: 1, check: {type: "tcp", port: 80,`) {
			t.Errorf("unmodelled %v\n%s", res.Unmodelled, res.CUE)
		}
		if err := Check(res); err != nil {
			t.Error(err)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := ""
			if tt.vs != "" {
				vs = tt.vs + "\n"
			}
			conf := "virtual_server 192.0.2.1 80 {\nprotocol TCP\nlb_kind NAT\n" + vs +
				"real_server 10.0.0.11 80 {\n" + tt.real + "\n}\nreal_server 10.0.0.12 80 {\n}\n}\n"
			res, err := importMap(t, MapFiles{"/etc/keepalived/keepalived.conf": conf}, KeepalivedOptions{})
			if err != nil {
				t.Fatal(err)
			}
			out := string(res.CUE)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range tt.warn {
				found := false
				for _, n := range res.Warnings {
					if strings.HasPrefix(n.String(), "keepalived.conf:"+w) {
						found = true
					}
				}
				if !found {
					t.Errorf("no warning %q in %v", w, res.Warnings)
				}
			}
			var kept []string
			for _, u := range res.Unmodelled {
				kept = append(kept, u.Keyword)
			}
			if strings.Join(kept, " ") != strings.Join(tt.kept, " ") {
				t.Errorf("unmodelled %v, want %v", kept, tt.kept)
			}
			if err := Check(res); err != nil {
				t.Errorf("%v", err)
			}
			if t.Failed() {
				t.Logf("\n%s", out)
			}
		})
	}
}
