package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/e2e/vm"
	"github.com/lvsgen/lvsgen/internal/testinputs"
)

// required reports whether the suite must run: LVSGEN_E2E=require, which
// .ci/run sets, makes a missing prerequisite (or -short) a failure. CI=true
// alone does not: every hosted runner sets it, and a contributor's plain
// `go test ./...` there, without qemu, should skip with one line.
func required() bool { return os.Getenv("LVSGEN_E2E") == "require" }

// TestGuest boots the VM once and runs every guest test package in it.
func TestGuest(t *testing.T) {
	if testing.Short() {
		if required() {
			t.Fatal("e2e: -short skips the VM, but LVSGEN_E2E=require: the real-kernel suite must run")
		}
		t.Skip("e2e: -short: not booting the VM")
	}
	cache := vm.DefaultCacheDir()
	if err := vm.CheckPrerequisites(cache); err != nil {
		var m *vm.MissingError
		if errors.As(err, &m) && !required() {
			t.Skipf("e2e: %v", err)
		}
		t.Fatalf("e2e: %v (LVSGEN_E2E=require: a missing prerequisite fails)", err)
	}

	root, err := vm.ModuleRoot(context.Background(), ".")
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	testinputs.Consult(t, root)

	timeout := 8 * time.Minute
	if v := os.Getenv("LVSGEN_E2E_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LVSGEN_E2E_TIMEOUT: %v", err)
		}
		timeout = d
	}
	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		// Stop in time to report, before go test's own timeout panics.
		if left := time.Until(dl) - 20*time.Second; left < timeout {
			timeout = left
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-10*time.Second))
		defer cancel()
	}

	console := &lineLogger{t: t}
	opts := vm.Options{
		CacheDir:   cache,
		ModuleRoot: root,
		Keep:       os.Getenv("LVSGEN_E2E_KEEP") == "1",
		Run:        os.Getenv("LVSGEN_E2E_RUN"),
		Bench:      os.Getenv("LVSGEN_E2E_BENCH"),
		Verbose:    true,
		Timeout:    timeout,
		Console:    console,
		Logf:       t.Logf,
	}
	if os.Getenv("LVSGEN_E2E_SHELL") == "1" {
		tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			t.Fatalf("LVSGEN_E2E_SHELL needs a terminal: %v", err)
		}
		defer tty.Close()
		opts.Shell, opts.Stdin, opts.Console = true, tty, tty
		opts.Timeout = 24 * time.Hour
	}
	res, err := vm.Boot(ctx, opts)
	console.flush()
	if res != nil {
		t.Logf("e2e: prepare %.1fs, boot+tests %.1fs", res.Prepare.Seconds(), res.Boot.Seconds())
		if opts.Keep {
			t.Logf("e2e: work dir kept: %s (console.log, initrd.cpio, bin/)", res.WorkDir)
		}
	}
	if res != nil {
		for _, berr := range res.BuildErrors {
			t.Errorf("e2e: %v", berr)
		}
	}
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	if len(res.Packages) == 0 {
		t.Fatalf("e2e: the guest ran no test package")
	}
	for _, p := range res.Packages {
		if p.Exit != 0 {
			t.Errorf("e2e: guest package %s failed with exit status %d", p.Name, p.Exit)
		}
	}
	if res.Status != 0 {
		var fails []string
		for _, line := range strings.Split(res.Console, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "--- FAIL") || strings.HasPrefix(line, "e2e: failed") {
				fails = append(fails, line)
			}
		}
		t.Fatalf("e2e: guest status %d; failures:\n%s", res.Status, strings.Join(fails, "\n"))
	}
}

// lineLogger sends the console to t.Log a line at a time.
type lineLogger struct {
	t   *testing.T
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		i := bytes.IndexByte(l.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(l.buf.Next(i+1)), "\r\n")
		l.t.Log("| " + line)
	}
	return len(p), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		l.t.Log("| " + strings.TrimRight(l.buf.String(), "\r\n"))
		l.buf.Reset()
	}
}
