package health

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// checkUser returns a user the exec prober may run as here: nobody when
// the test runs as root (it switches to it), the current user otherwise
// (no switch needed). It skips the test when there is none.
func checkUser(t *testing.T) string {
	t.Helper()
	if os.Getuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Skipf("no current user: %v", err)
		}
		return u.Username
	}
	u, err := user.Lookup("nobody")
	if err != nil || u.Uid == "0" || u.Gid == "0" {
		t.Skip("running as root and no unprivileged user nobody to switch to")
	}
	return "nobody"
}

// script writes an executable shell script into a directory every user
// can read, and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	// The script runs as another user when the test is root: it must
	// reach the file through the test's private directories.
	for d := dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExecProber(t *testing.T) {
	who := checkUser(t)
	check := script(t, `echo "$LVSGEN_REAL_ADDR $LVSGEN_REAL_PORT uid=$(id -u) home=$HOME secret=$SECRET"
exit "$1"
`)
	t.Setenv("SECRET", "from the daemon")
	u, _ := user.Lookup(who)
	spec := func(args ...string) Spec {
		s := base(Exec, netipAddrPort("192.0.2.7:8080"))
		s.Command, s.User = append([]string{check}, args...), who
		return s
	}
	tests := []struct {
		name string
		spec Spec
		want Result
	}{
		{"exit 0", spec("0"), Result{OK: true, Detail: "192.0.2.7 8080 uid=" + u.Uid + " home=/ secret="}},
		{"exit 2", spec("2"), Result{Detail: "exit status 2: 192.0.2.7 8080 uid=" + u.Uid + " home=/ secret="}},
		{"missing program", func() Spec { s := spec(); s.Command = []string{"/nonexistent/check"}; return s }(),
			Result{Detail: "fork/exec /nonexistent/check: no such file or directory"}},
		{"root refused", func() Spec { s := spec("0"); s.User = "root"; return s }(),
			Result{Detail: "exec user root is uid 0: refusing to run a check as root"}},
		{"unknown user", func() Spec { s := spec("0"); s.User = "no-such-user-lvsgen"; return s }(),
			Result{Detail: "exec user: user: unknown user no-such-user-lvsgen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, probe(ExecProber{}, tt.spec)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestExecProberKillsGroupOnTimeout(t *testing.T) {
	who := checkUser(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	if err := os.Chmod(filepath.Dir(pidFile), 0o777); err != nil {
		t.Fatal(err)
	}
	// A child in the background that would outlive a kill of the
	// script alone, and holds the output pipe open.
	check := script(t, `sleep 30 &
echo $! > "$1"
wait
`)
	s := base(Exec, netipAddrPort("192.0.2.7:80"))
	s.Command, s.User = []string{check, pidFile}, who
	start := time.Now()
	got := probe(ExecProber{}, s)
	if took := time.Since(start); took > s.Timeout+waitDelay/2 {
		t.Errorf("the check took %s, want about its timeout %s", took, s.Timeout)
	}
	if diff := cmp.Diff(Result{Detail: "timeout after 300ms"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the background child to die", func() bool {
		// Dead, or a zombie waiting for init: either way not running.
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return err != nil || strings.Contains(string(st), ") Z ")
	})
	if err := syscall.Kill(pid, 0); err == nil {
		if st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); !strings.Contains(string(st), ") Z ") {
			t.Errorf("background child %d still running", pid)
		}
	}
}

func TestExecProberBoundsOutput(t *testing.T) {
	who := checkUser(t)
	check := script(t, `head -c 1000000 /dev/zero | tr '\0' x; exit 1
`)
	s := base(Exec, netipAddrPort("192.0.2.7:80"))
	s.Command, s.User = []string{check}, who
	s.Timeout = time.Second
	got := probe(ExecProber{}, s)
	if got.OK || len(got.Detail) > maxDetail+len("…") || !strings.HasPrefix(got.Detail, "exit status 1: xxx") {
		t.Errorf("got %d bytes of detail %.40q…, want a failure clipped to %d", len(got.Detail), got.Detail, maxDetail)
	}
}
