package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWatchNotifiesSystemd runs watch as systemd's Type=notify would:
// with NOTIFY_SOCKET naming a datagram socket (here the test's) and a
// watchdog, and reads what watch sends there.
func TestWatchNotifiesSystemd(t *testing.T) {
	useNat1Kernel(t)
	signals := make(chan os.Signal, 1)
	old := watchSignals
	watchSignals = func() (<-chan os.Signal, func()) { return signals, func() {} }
	t.Cleanup(func() { watchSignals = old })

	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	// A 200 ms watchdog: pings every 100 ms.
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case m := <-msgs:
			return m
		case <-time.After(20 * time.Second):
			t.Fatalf("no datagram: want %s", what)
		}
		return ""
	}

	stderr := captureStderr(t)
	exit := make(chan int, 1)
	go func() {
		code, _ := runCapture(t, "watch", copyDir(t, "../../examples"), "--host", "nat1", "--state-dir", t.TempDir(),
			"--rules-file", "", "--sysctl-file", "")
		exit <- code
	}()

	first := strings.Split(next("READY=1"), "\n")
	if len(first) != 2 || first[0] != "READY=1" || !strings.HasPrefix(first[1], "STATUS=applied config ") ||
		!strings.Contains(first[1], "(start") {
		t.Fatalf("first datagram %q: want READY=1 and STATUS=applied config …", first)
	}
	// Pings follow, from the loop (nothing else is sent while idle).
	for i := range 2 {
		if m := next("WATCHDOG=1"); m != "WATCHDOG=1" {
			t.Fatalf("datagram %d after READY: %q, want WATCHDOG=1", i, m)
		}
	}
	signals <- syscall.SIGTERM
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("watch did not stop")
	}
	for {
		m := next("STOPPING=1")
		if m == "STOPPING=1" {
			break
		}
		if m != "WATCHDOG=1" {
			t.Fatalf("at stop: %q, want STOPPING=1", m)
		}
	}
}
