//go:build e2eguest

package apply

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/e2e/guest"
	"github.com/lvsgen/lvsgen/e2e/topo"
)

// getOn makes an HTTP request on the open connection c and returns the
// body: the name of the real server at its other end.
func getOn(t *testing.T, c net.Conn, br *bufio.Reader) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: vip\r\n\r\n"); err != nil {
		t.Fatalf("request on the held connection: %v", err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("answer on the held connection: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestApplyServiceDrains: a service removed from the config while a client
// holds a connection through it is drained, not deleted: the connection
// goes on working after the apply, the service stays at weight 0 with its
// VIP bound, and once the connection is closed an apply deletes the
// service and unbinds the VIP (issue 17, item 11).
func TestApplyServiceDrains(t *testing.T) {
	guest.Require(t)
	tp := topo.New(t)
	lan := tp.Subnet("lan", "10.0.3.0/24")
	l := newLab(t)
	l.client = tp.Client("client", lan, "10.0.3.10")
	dir := tp.Node("dir", lan, "10.0.3.2")
	l.hosts["dir"] = dir
	l.realServers(tp, lan, 80, nil, "10.0.3.11", "10.0.3.12")
	l.applyAll(data(t, "dr"), "DR rr after apply", "10.0.3.100:80", map[string]int{"rs1": 10, "rs2": 10})

	c, err := l.client.DialContext(t.Context(), "tcp", "10.0.3.100:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	first := getOn(t, c, br)

	none := data(t, "dr-none")
	res := l.run("dir", "apply", none, "--max-delete-fraction", "1")
	if res.Exit != 0 || !strings.Contains(res.Stdout, "= service   tcp:10.0.3.100:80") {
		t.Fatalf("apply without the service: exit %d, want 0 and the service drained\n%s%s", res.Exit, res.Stdout, res.Stderr)
	}
	save := dir.MustRun("ipvsadm", "-S", "-n").Stdout
	if !strings.Contains(save, "-A -t 10.0.3.100:80") || strings.Contains(save, "-w 1") {
		t.Fatalf("the service should be there, every real server at weight 0:\n%s", save)
	}
	if addrs := dir.MustRun("ip", "-o", "addr", "show").Stdout; !strings.Contains(addrs, "10.0.3.100/32") {
		t.Fatalf("the VIP is unbound while its service drains:\n%s", addrs)
	}
	if again := getOn(t, c, br); again != first {
		t.Errorf("the held connection answered %q, then %q", first, again)
	}
	if p := l.run("dir", "plan", none, "--detailed-exitcode"); p.Exit != 0 || !strings.Contains(p.Stdout, "draining since") {
		t.Errorf("plan while the service drains: exit %d, want 0 and it waiting\n%s", p.Exit, p.Stdout)
	}

	c.Close()
	// The kernel counts a closed connection as inactive once FIN is
	// seen; give it a moment.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if res := l.run("dir", "apply", none); res.Exit != 0 {
			t.Fatalf("apply: exit %d\n%s%s", res.Exit, res.Stdout, res.Stderr)
		}
		save = dir.MustRun("ipvsadm", "-S", "-n").Stdout
		if !strings.Contains(save, "10.0.3.100") || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if strings.Contains(save, "10.0.3.100") {
		t.Fatalf("the service is still there after its connection ended:\n%s", save)
	}
	if addrs := dir.MustRun("ip", "-o", "addr", "show").Stdout; strings.Contains(addrs, "10.0.3.100/32") {
		t.Errorf("the VIP is still bound after its service left:\n%s", addrs)
	}
	l.noChanges(none, "dir")
}
