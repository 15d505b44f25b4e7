// Package guest helps tests that run inside the e2e VM (files tagged
// e2eguest): it tells whether the test is in the VM, where lvsgen and the
// data directories are, and runs commands.
package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Paths and variables the VM's /init sets up (see e2e/vm).
const (
	envGuest  = "LVSGEN_E2E_GUEST"
	envData   = "LVSGEN_E2E_DATA"
	envLvsgen = "LVSGEN_BIN"
)

// InVM reports whether the process runs inside the e2e VM.
func InVM() bool {
	return os.Getenv(envGuest) == "1"
}

// Require skips the test unless it runs inside the e2e VM, so a guest test
// binary started elsewhere (go test -tags e2eguest on a workstation) cannot
// change the host's network or IPVS tables.
func Require(t testing.TB) {
	t.Helper()
	if !InVM() {
		t.Skip("guest test: runs only inside the e2e VM (go test ./e2e/)")
	}
}

// Lvsgen returns the path of the lvsgen binary built into the VM from
// ./cmd/lvsgen. The test fails when the checkout has no ./cmd/lvsgen or it
// did not build (the message then carries the build error).
func Lvsgen(t testing.TB) string {
	t.Helper()
	return Command(t, "lvsgen", envLvsgen)
}

// Command returns the path of a command the harness built into the VM
// (vm.Options.Commands; name is the last element of its directory). env is
// the variable that may name it; empty means /bin/<name>.
func Command(t testing.TB, name, env string) string {
	t.Helper()
	if msg, err := os.ReadFile("/e2e/build-errors/" + name); err == nil {
		t.Fatalf("guest: %s did not build on the host:\n%s", name, msg)
	}
	p := "/bin/" + name
	if env != "" && os.Getenv(env) != "" {
		p = os.Getenv(env)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("guest: no %s binary in the VM: %v", name, err)
	}
	return p
}

// DataDir returns the root of the data directories copied into the VM
// (module-relative, e.g. DataDir()+"/examples").
func DataDir() string {
	if d := os.Getenv(envData); d != "" {
		return d
	}
	return "/e2e-data"
}

// Data returns the path in the VM of the module-relative file or directory
// rel, which must have been copied in (see vm.Options.DataDirs).
func Data(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(DataDir(), filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("guest: data %s: %v", rel, err)
	}
	return p
}

// Result is the outcome of a finished command.
type Result struct {
	// Stdout and Stderr are the command's outputs.
	Stdout, Stderr string
	// Exit is the exit status; -1 when a signal ended it.
	Exit int
}

// String describes the result for failure messages.
func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Exit, r.Stdout, r.Stderr)
}

// CommandTimeout bounds each command Run starts.
const CommandTimeout = 60 * time.Second

// Run runs a command and returns its result. The error is non-nil only when
// the command could not be run or timed out; a non-zero exit is in Result.
func Run(name string, args ...string) (Result, error) {
	return RunCmd(exec.Command(name, args...))
}

// RunCmd runs a prepared command (Stdout and Stderr must be unset), bounded
// by CommandTimeout, and returns its result like Run.
func RunCmd(cmd *exec.Cmd) (Result, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return Result{Exit: -1}, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		return Result{Stdout: stdout.String(), Stderr: stderr.String(), Exit: -1},
			fmt.Errorf("%s: killed after %s", strings.Join(cmd.Args, " "), CommandTimeout)
	}
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Exit = ee.ExitCode()
	default:
		return res, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	return res, nil
}

// MustRun runs a command and fails the test unless it exits 0.
func MustRun(t testing.TB, name string, args ...string) Result {
	t.Helper()
	res, err := Run(name, args...)
	if err != nil {
		t.Fatalf("guest: %v", err)
	}
	if res.Exit != 0 {
		t.Fatalf("guest: %s %s: %s", name, strings.Join(args, " "), res)
	}
	return res
}

// ModuleLoaded reports whether the kernel module is loaded.
func ModuleLoaded(name string) bool {
	_, err := os.Stat("/sys/module/" + strings.ReplaceAll(name, "-", "_"))
	return err == nil
}
