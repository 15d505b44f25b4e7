package vm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCpioListsWithCpioTool(t *testing.T) {
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Skip("cpio not installed")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	cw := newCpioWriter(&buf)
	for _, err := range []error{
		cw.Bytes("/a/b/c.txt", 0o644, []byte("abc")),
		cw.Symlink("/a/link", "b/c.txt"),
		cw.File("/x/f", filepath.Join(dir, "f")),
		cw.Dir("/empty"),
		cw.Close(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive length %d is not 4-aligned", buf.Len())
	}
	cmd := exec.Command(cpio, "-it", "--quiet")
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -it: %v\n%s", err, out)
	}
	want := "a\na/b\na/b/c.txt\na/link\nx\nx/f\nempty\n"
	if string(out) != want {
		t.Errorf("cpio -it = %q, want %q", out, want)
	}
	ext := t.TempDir()
	cmd = exec.Command(cpio, "-id", "--quiet")
	cmd.Dir = ext
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -id: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(ext, "a", "link")); err != nil || string(b) != "abc" {
		t.Errorf("extracted a/link -> %q, %v; want abc", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(ext, "x", "f")); err != nil || string(b) != "hello" {
		t.Errorf("extracted x/f = %q, %v; want hello", b, err)
	}
}

func TestParseConsole(t *testing.T) {
	console := strings.Join([]string{
		"e2e: === guest package a.test (cwd /e2e-src/a)",
		"LVSGEN-E2E-RESULT 0000 status=0", // printed by a test, wrong nonce
		"e2e: === guest package a.test exit=1",
		"e2e: === guest package b.test exit=0",
		"LVSGEN-E2E-RESULT abcd status=1",
		"[    5.1] reboot: Power down",
	}, "\n")
	var res Result
	if err := parseConsole(console, "abcd", &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != 1 || len(res.Packages) != 2 || res.Packages[0] != (PackageResult{"a.test", 1}) || res.Packages[1] != (PackageResult{"b.test", 0}) {
		t.Errorf("parseConsole = %+v", res)
	}
	if err := parseConsole("LVSGEN-E2E-RESULT 0000 status=0\n", "abcd", &res); err != ErrNoMarker {
		t.Errorf("wrong nonce: err = %v, want ErrNoMarker", err)
	}
}

func TestHasGuestTag(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"guest_test.go": "//go:build e2eguest\n\npackage p\n",
		"and_test.go":   "// comment\n//go:build linux && e2eguest\n\npackage p\n",
		"host_test.go":  "package p\n\n//go:build e2eguest\n",
		"other_test.go": "//go:build e2eguestx\n\npackage p\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]bool{"guest_test.go": true, "and_test.go": true, "host_test.go": false, "other_test.go": false} {
		if got := hasGuestTag(filepath.Join(dir, name)); got != want {
			t.Errorf("hasGuestTag(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	if got, want := shellQuote(`Test'A|B$`), `'Test'\''A|B$'`; got != want {
		t.Errorf("shellQuote = %s, want %s", got, want)
	}
}

func TestModuleBase(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/net/ipv4/ipip.ko":                  "ipip",
		"kernel/net/netfilter/ipvs/ip_vs_rr.ko.xz": "ip_vs_rr",
		"kernel/drivers/net/ip6-tun.ko.zst":        "ip6_tun",
	} {
		if got := moduleBase(in); got != want {
			t.Errorf("moduleBase(%s) = %s, want %s", in, got, want)
		}
	}
}
