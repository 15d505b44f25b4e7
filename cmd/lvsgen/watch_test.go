package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/applier"
	"github.com/lvsgen/lvsgen/applier/kernel/memory"
)

func TestWatchUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"no host", []string{"watch", "../../examples"}},
		{"no directory", []string{"watch", "--host", "nat1"}},
		{"log format", []string{"watch", "../../examples", "--host", "nat1", "--log-format", "xml"}},
		{"log level", []string{"watch", "../../examples", "--host", "nat1", "--log-level", "loud"}},
		{"debounce", []string{"watch", "../../examples", "--host", "nat1", "--debounce", "0s"}},
		{"resync", []string{"watch", "../../examples", "--host", "nat1", "--resync", "-1s"}},
		{"metrics on every address", []string{"watch", "../../examples", "--host", "nat1", "--metrics-addr", ":9351"}},
		{"metrics on a public address", []string{"watch", "../../examples", "--host", "nat1", "--metrics-addr", "192.0.2.1:9351"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, out := runCapture(t, tt.args...); code != exitUsage {
				t.Errorf("exit %d, want %d (usage)\n%s", code, exitUsage, out)
			}
		})
	}
}

func TestCheckMetricsAddr(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:9351":  true,
		"127.0.0.53:9351": true,
		"[::1]:9351":      true,
		"localhost:9351":  true,
		":9351":           false,
		"0.0.0.0:9351":    false,
		"[::]:9351":       false,
		"10.0.0.1:9351":   false,
		"lb1.example:80":  false,
		"127.0.0.1":       false, // no port
	} {
		if err := checkMetricsAddr(addr, false); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
	}
	if err := checkMetricsAddr("0.0.0.0:9351", true); err != nil {
		t.Errorf("--metrics-allow-remote: %v", err)
	}
}

func TestWatchRefusesWhileLocked(t *testing.T) {
	useMemoryKernel(t, memory.New())
	state := t.TempDir()
	unlock, err := applier.Lock(state, "nat1")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	stderr := captureStderr(t)
	code, _ := runCapture(t, "watch", "../../examples", "--host", "nat1", "--state-dir", state)
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, stderr())
	}
	eventually(t, "the lock error", func() bool { return strings.Contains(stderr(), "another lvsgen apply or watch is running") })
}

// captureStderr sends os.Stderr to a buffer until the test ends and
// returns a function reading what was written so far.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	var mu sync.Mutex
	var b strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			mu.Lock()
			b.WriteString(sc.Text() + "\n")
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		os.Stderr = old
		w.Close()
		<-done
	})
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return b.String()
	}
}

// copyDir copies the files of src (recursively) into a new directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// eventually polls cond until it holds; the deadline only keeps a broken
// watch from hanging the test.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatchRunsAndStops(t *testing.T) {
	k := useNat1Kernel(t)
	signals := make(chan os.Signal, 1)
	old := watchSignals
	watchSignals = func() (<-chan os.Signal, func()) { return signals, func() {} }
	t.Cleanup(func() { watchSignals = old })

	dir := copyDir(t, "../../examples")
	state := t.TempDir()
	rules := filepath.Join(state, "ipvsadm.rules")
	stderr := captureStderr(t)
	exit := make(chan int, 1)
	go func() {
		code, _ := runCapture(t, "watch", dir, "--host", "nat1", "--state-dir", state, "--rules-file", rules,
			"--sysctl-file", "", "--nft-file", "", "--debounce", "20ms", "--log-format", "json", "--metrics-addr", "127.0.0.1:0")
		exit <- code
	}()

	// The start apply writes the rules file.
	eventually(t, "the start apply", func() bool { _, err := os.Stat(rules); return err == nil })
	var metricsURL string
	eventually(t, "the metrics address", func() bool {
		for _, line := range strings.Split(stderr(), "\n") {
			var r map[string]any
			if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == "serving metrics" {
				metricsURL, _ = r["addr"].(string)
			}
		}
		return metricsURL != ""
	})
	// The rules file is written inside the apply, before watch counts
	// it: wait for the count, then check the rest.
	var body []byte
	eventually(t, "the start apply in the metrics", func() bool {
		resp, err := http.Get(metricsURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Contains(string(body), `lvsgen_watch_applies_total{trigger="start"} 1`)
	})
	for _, want := range []string{
		`lvsgen_watch_applies_total{trigger="start"} 1`,
		`lvsgen_watch_config_valid 1`,
		`lvsgen_watch_managed_services 2`,
		`lvsgen_watch_failures_total{reason="refused"} 0`,
		`lvsgen_watch_apply_duration_seconds_count 1`,
		`process_resident_memory_bytes`,
		`lvsgen_build_info{commit=`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// An edit reaches the kernel.
	svcFile := filepath.Join(dir, "services-internal.cue")
	b, _ := os.ReadFile(svcFile)
	edited := strings.Replace(string(b), `{host: "app2", port: 8080, weight: 1}`, `{host: "app2", port: 8080, weight: 7}`, 1)
	if edited == string(b) {
		t.Fatal("the example changed: fix the edit")
	}
	os.WriteFile(svcFile, []byte(edited), 0o644)
	eventually(t, "the edit to be applied", func() bool { return strings.Contains(k.String(), "-r 10.20.0.12:8080 -m -w 7") })

	signals <- syscall.SIGTERM
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d after SIGTERM\n%s", code, stderr())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("watch did not stop on SIGTERM")
	}
	// The lock is free again.
	unlock, err := applier.Lock(state, "nat1")
	if err != nil {
		t.Fatalf("lock after watch: %v", err)
	}
	unlock()
	if _, err := http.Get(metricsURL); err == nil {
		t.Errorf("metrics still served after exit")
	}
	logs := stderr()
	for _, want := range []string{`"msg":"applied","trigger":"start"`, `"msg":"applied","trigger":"change"`, `"msg":"stopping","signal":"terminated"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}
