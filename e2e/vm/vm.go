package vm

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

//go:embed init.sh
var initScript []byte

// Guest paths and environment that guest tests rely on. The e2e/guest
// package wraps them for test code.
const (
	// GuestDataDir is where Options.DataDirs appear in the guest.
	GuestDataDir = "/e2e-data"
	// GuestSrcDir is the root under which each guest test binary runs in
	// its package's module-relative directory (with its testdata copied).
	GuestSrcDir = "/e2e-src"
	// GuestBinDir holds Options.Commands as built binaries (/bin/lvsgen).
	GuestBinDir = "/bin"
	// EnvGuest is set to 1 in the guest.
	EnvGuest = "LVSGEN_E2E_GUEST"
	// EnvData names GuestDataDir in the guest.
	EnvData = "LVSGEN_E2E_DATA"
	// EnvLvsgen is set to the lvsgen binary's path when ./cmd/lvsgen was
	// built into the VM.
	EnvLvsgen = "LVSGEN_BIN"
)

// DefaultCommands are the module-relative main packages built into every VM
// when they exist.
var DefaultCommands = []string{"cmd/lvsgen"}

// DefaultDataDirs are the module-relative directories copied to
// /e2e-data when they exist.
var DefaultDataDirs = []string{"examples"}

// Options configure one VM boot.
type Options struct {
	// CacheDir holds the kernel package and prepared bases; default
	// DefaultCacheDir().
	CacheDir string
	// WorkDir receives the initramfs, built binaries and console log; default
	// a new temporary directory, removed afterwards unless Keep.
	WorkDir string
	// Keep leaves WorkDir in place.
	Keep bool
	// ModuleRoot is the lvsgen checkout; default: the module of the current
	// directory.
	ModuleRoot string
	// Packages are the guest test packages; nil means GuestPackages().
	Packages []Package
	// NoTests boots without running the guest tests; their binaries are
	// still in /e2e/bin (for a shell).
	NoTests bool
	// Commands are module-relative main packages built into /bin/<base
	// name> when their directory exists; nil means DefaultCommands.
	Commands []string
	// DataDirs are module-relative directories copied to
	// /e2e-data/<dir> when they exist; nil means DefaultDataDirs.
	DataDirs []string
	// Run is passed to the guest test binaries as -test.run.
	Run string
	// Bench, when set, is passed as -test.bench (with -test.benchtime=1x):
	// the e2e benchmarks, which measure against ipvsadm in the same VM.
	Bench string
	// Verbose passes -test.v to the guest test binaries.
	Verbose bool
	// Timeout bounds the whole boot after the builds; default 8 minutes.
	Timeout time.Duration
	// Shell starts an interactive shell on the console after the tests.
	Shell bool
	// Stdin feeds the console (for Shell); nil means no input.
	Stdin io.Reader
	// Console receives the serial console output as it arrives.
	Console io.Writer
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
	// MemoryMiB is the guest's memory; default 1024.
	MemoryMiB int
	// CPUs is the guest's CPU count; default 1.
	CPUs int
}

// PackageResult is the exit status of one guest test binary.
type PackageResult struct {
	// Name is the binary's name (module-relative directory, '/' as '_').
	Name string
	// Exit is its exit status.
	Exit int
}

// Result is the outcome of a boot that reached its result marker.
type Result struct {
	// Status is 0 when every guest test binary passed and every module
	// loaded.
	Status int
	// Packages are the per-binary exit statuses, in run order.
	Packages []PackageResult
	// Console is the whole serial console output.
	Console string
	// ConsoleFile is the console log's path (gone unless Keep).
	ConsoleFile string
	// WorkDir is the work directory (gone unless Keep).
	WorkDir string
	// BuildErrors are the guest test packages and commands that did not
	// build; they were left out of the VM. A command's error is also in
	// the guest at /e2e/build-errors/<name>.
	BuildErrors []error
	// Prepare is the time spent preparing the base and building binaries.
	Prepare time.Duration
	// Boot is the time from starting qemu until it exited.
	Boot time.Duration
}

// Boot prepares the base, builds the guest binaries, boots the VM, streams
// its console, and returns once qemu exits. An error means the harness
// failed (no marker, timeout, qemu failed); failing guest tests give a nil
// error and a Result with a non-zero Status; packages or commands that did
// not build are in Result.BuildErrors.
func Boot(ctx context.Context, o Options) (res *Result, err error) {
	start := time.Now()
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir()
	}
	if o.ModuleRoot == "" {
		o.ModuleRoot, err = ModuleRoot(ctx, ".")
		if err != nil {
			return nil, err
		}
	}
	if o.Commands == nil {
		o.Commands = DefaultCommands
	}
	if o.DataDirs == nil {
		o.DataDirs = DefaultDataDirs
	}
	if o.Timeout == 0 {
		o.Timeout = 8 * time.Minute
	}
	if o.MemoryMiB == 0 {
		o.MemoryMiB = 1024
	}
	if o.CPUs == 0 {
		o.CPUs = 1
	}
	qemu, err := FindQemu()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	base, err := PrepareBase(ctx, o.CacheDir, logf)
	if err != nil {
		return nil, err
	}

	work := o.WorkDir
	if work == "" {
		work, err = os.MkdirTemp("", "lvsgen-e2e-")
		if err != nil {
			return nil, fmt.Errorf("work dir: %w", err)
		}
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	if !o.Keep {
		defer os.RemoveAll(work)
	} else {
		logf("e2e: keeping work dir %s", work)
	}

	if o.Packages == nil {
		o.Packages, err = GuestPackages(ctx, o.ModuleRoot)
		if err != nil {
			return nil, err
		}
	}
	res = &Result{WorkDir: work, ConsoleFile: filepath.Join(work, "console.log")}
	initrd := filepath.Join(work, "initrd.cpio")
	nonce, err := buildInitrd(ctx, o, base, work, initrd, res, logf)
	if err != nil {
		return nil, err
	}
	res.Prepare = time.Since(start)
	logf("e2e: prepared in %.1fs; booting %s", res.Prepare.Seconds(), base.Release)

	bootStart := time.Now()
	console, err := runQemu(ctx, o, qemu, base.Kernel, initrd, res.ConsoleFile, nonce)
	res.Boot = time.Since(bootStart)
	res.Console = console
	parseErr := parseConsole(console, nonce, res)
	if err != nil {
		return res, err
	}
	return res, parseErr
}

// buildInitrd writes the VM's initramfs: the base archive followed by a
// second archive with /init, this run's settings, the guest test binaries,
// the commands and the data directories. It returns the run's nonce.
func buildInitrd(ctx context.Context, o Options, base *Base, work, initrd string, res *Result, logf func(string, ...any)) (string, error) {
	bin := filepath.Join(work, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", fmt.Errorf("mkdir: %w", err)
	}
	// A package or command that does not build is reported in res and left
	// out; the rest still runs, so one broken package does not hide the
	// others' results.
	var tests strings.Builder
	var pkgs []Package
	for _, p := range o.Packages {
		t0 := time.Now()
		if err := BuildGuestTest(ctx, o.ModuleRoot, p, filepath.Join(bin, p.binName())); err != nil {
			res.BuildErrors = append(res.BuildErrors, fmt.Errorf("build guest tests of %s: %w", p.ImportPath, err))
			continue
		}
		logf("e2e: built guest tests %s (%.1fs)", p.ImportPath, time.Since(t0).Seconds())
		fmt.Fprintf(&tests, "%s %s %s\n", p.binName(), path.Join(GuestSrcDir, p.Dir), p.skipRegexp())
		pkgs = append(pkgs, p)
	}
	var cmds []string
	cmdErrs := map[string]string{}
	for _, c := range o.Commands {
		if !hasGoFiles(filepath.Join(o.ModuleRoot, filepath.FromSlash(c))) {
			continue
		}
		t0 := time.Now()
		name := path.Base(c)
		if err := BuildCommand(ctx, o.ModuleRoot, c, filepath.Join(bin, "cmd-"+name)); err != nil {
			err = fmt.Errorf("build %s: %w", c, err)
			res.BuildErrors = append(res.BuildErrors, err)
			cmdErrs[name] = err.Error()
			continue
		}
		logf("e2e: built %s (%.1fs)", c, time.Since(t0).Seconds())
		cmds = append(cmds, name)
	}

	nonceBytes := make([]byte, 8)
	if _, err := rand.Read(nonceBytes); err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	nonce := hex.EncodeToString(nonceBytes)
	var conf strings.Builder
	setVar := func(k, v string) { fmt.Fprintf(&conf, "%s=%s\n", k, shellQuote(v)) }
	setVar("E2E_NONCE", nonce)
	setVar("E2E_TESTS", boolStr(!o.NoTests))
	setVar("E2E_SHELL", boolStr(o.Shell))
	setVar("E2E_VERBOSE", boolStr(o.Verbose))
	setVar("E2E_RUN", o.Run)
	setVar("E2E_BENCH", o.Bench)
	// Leave the guest a minute to print its results before the host gives up.
	guestTimeout := o.Timeout - time.Minute
	if guestTimeout < time.Minute {
		guestTimeout = o.Timeout / 2
	}
	setVar("E2E_TEST_TIMEOUT", guestTimeout.Round(time.Second).String())
	fmt.Fprintf(&conf, "export %s=1 %s=%s GOTRACEBACK=all\n", EnvGuest, EnvData, GuestDataDir)
	for _, c := range cmds {
		if c == "lvsgen" {
			fmt.Fprintf(&conf, "export %s=%s\n", EnvLvsgen, path.Join(GuestBinDir, c))
		}
	}

	f, err := os.Create(initrd)
	if err != nil {
		return "", fmt.Errorf("create initramfs: %w", err)
	}
	defer f.Close()
	bf, err := os.Open(base.Archive)
	if err != nil {
		return "", fmt.Errorf("open base archive: %w", err)
	}
	_, err = io.Copy(f, bf)
	bf.Close()
	if err != nil {
		return "", fmt.Errorf("copy base archive: %w", err)
	}
	cw := newCpioWriter(f)
	add := func(err error) error {
		if err != nil {
			return fmt.Errorf("write initramfs: %w", err)
		}
		return nil
	}
	if err := add(cw.Bytes("/init", 0o755, initScript)); err != nil {
		return "", err
	}
	if err := add(cw.Bytes("/e2e/run.conf", 0o644, []byte(conf.String()))); err != nil {
		return "", err
	}
	if err := add(cw.Bytes("/e2e/tests", 0o644, []byte(tests.String()))); err != nil {
		return "", err
	}
	if err := add(cw.Bytes("/e2e/modules", 0o644, []byte(strings.Join(base.Modules, "\n")+"\n"))); err != nil {
		return "", err
	}
	for name, msg := range cmdErrs {
		if err := add(cw.Bytes(path.Join("/e2e/build-errors", name), 0o644, []byte(msg))); err != nil {
			return "", err
		}
	}
	for _, p := range pkgs {
		if err := add(cw.File(path.Join("/e2e/bin", p.binName()), filepath.Join(bin, p.binName()))); err != nil {
			return "", err
		}
		if err := add(cw.Dir(path.Join(GuestSrcDir, p.Dir))); err != nil {
			return "", err
		}
		td := filepath.Join(o.ModuleRoot, filepath.FromSlash(p.Dir), "testdata")
		if st, err := os.Stat(td); err == nil && st.IsDir() {
			if err := add(cw.Tree(path.Join(GuestSrcDir, p.Dir, "testdata"), td)); err != nil {
				return "", err
			}
		}
	}
	for _, c := range cmds {
		if err := add(cw.File(path.Join(GuestBinDir, c), filepath.Join(bin, "cmd-"+c))); err != nil {
			return "", err
		}
	}
	if err := add(cw.Dir(GuestDataDir)); err != nil {
		return "", err
	}
	for _, d := range o.DataDirs {
		src := filepath.Join(o.ModuleRoot, filepath.FromSlash(d))
		if st, err := os.Stat(src); err == nil && st.IsDir() {
			if err := add(cw.Tree(path.Join(GuestDataDir, d), src)); err != nil {
				return "", err
			}
		}
	}
	if err := add(cw.Close()); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write initramfs: %w", err)
	}
	return nonce, nil
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// powerOffGrace is how long qemu may take to exit after the guest printed
// its result marker (without a shell) before it is killed.
const powerOffGrace = 30 * time.Second

// runQemu boots the VM and returns the console output. The console is
// copied to consoleFile and o.Console as it arrives.
func runQemu(ctx context.Context, o Options, qemu, kernel, initrd, consoleFile, nonce string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	qctx, qcancel := context.WithCancel(ctx)
	defer qcancel()
	logFile, err := os.Create(consoleFile)
	if err != nil {
		return "", fmt.Errorf("console log: %w", err)
	}
	defer logFile.Close()

	serial := "stdio"
	if o.Shell {
		serial = "mon:stdio" // Ctrl-A x quits, Ctrl-A c is the monitor
	}
	args := []string{
		"-accel", "tcg", "-cpu", "max",
		"-m", strconv.Itoa(o.MemoryMiB), "-smp", strconv.Itoa(o.CPUs),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-serial", serial,
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 quiet panic=-1",
	}
	var buf bytes.Buffer
	var mu sync.Mutex
	marker := []byte("LVSGEN-E2E-RESULT " + nonce)
	markerSeen := make(chan struct{})
	seen := false
	sink := io.Writer(logFile)
	if o.Console != nil {
		sink = io.MultiWriter(logFile, o.Console)
	}
	out := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		buf.Write(p)
		_, _ = sink.Write(p) // a failing log sink must not stop the VM
		if !seen {
			tail := buf.Bytes()[max(0, buf.Len()-len(p)-len(marker)):]
			if bytes.Contains(tail, marker) {
				seen = true
				close(markerSeen)
			}
		}
		return len(p), nil
	})
	graceKilled := false
	go func() {
		select {
		case <-markerSeen:
		case <-qctx.Done():
			return
		}
		if o.Shell {
			return
		}
		select {
		case <-time.After(powerOffGrace):
			mu.Lock()
			graceKilled = true
			mu.Unlock()
			qcancel()
		case <-qctx.Done():
		}
	}()

	// Start and wait on one locked thread: Pdeathsig fires when the
	// starting thread exits, so qemu dies with the test process.
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cmd := exec.CommandContext(qctx, qemu, args...)
		cmd.Stdin = o.Stdin
		cmd.Stdout = out
		cmd.Stderr = out
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.WaitDelay = 5 * time.Second
		errc <- cmd.Run()
	}()
	err = <-errc
	mu.Lock()
	console := strings.ReplaceAll(buf.String(), "\r\n", "\n")
	killed := graceKilled
	mu.Unlock()
	if killed {
		// The guest reported; it only failed to power off.
		return console, nil
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return console, fmt.Errorf("qemu killed after the %s timeout", o.Timeout)
	}
	if err != nil {
		return console, fmt.Errorf("qemu: %w", err)
	}
	return console, nil
}

type writerFunc func([]byte) (int, error)

// Write calls f.
func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// ErrNoMarker is returned when the guest never printed its result marker:
// it crashed, hung, or its /init failed before running the tests.
var ErrNoMarker = errors.New("guest printed no result marker")

var packageLine = regexp.MustCompile(`(?m)^e2e: === guest package (\S+) exit=(\d+)\s*$`)

// parseConsole fills res from the console output; it fails when the result
// marker for this run's nonce is missing.
func parseConsole(console, nonce string, res *Result) error {
	for _, m := range packageLine.FindAllStringSubmatch(console, -1) {
		n, _ := strconv.Atoi(m[2])
		res.Packages = append(res.Packages, PackageResult{Name: m[1], Exit: n})
	}
	marker := regexp.MustCompile(`(?m)^LVSGEN-E2E-RESULT ` + nonce + ` status=(\d+)\s*$`)
	m := marker.FindStringSubmatch(console)
	if m == nil {
		return ErrNoMarker
	}
	res.Status, _ = strconv.Atoi(m[1])
	return nil
}
