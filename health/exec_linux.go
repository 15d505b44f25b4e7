package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

// waitDelay bounds the wait for the output pipes after the process group
// was killed, in case something outside the group still holds them.
const waitDelay = time.Second

// Probe runs the program once.
func (ExecProber) Probe(ctx context.Context, s *Spec) Result {
	if len(s.Command) == 0 || s.Command[0] == "" || s.Command[0][0] != '/' {
		return Result{Detail: fmt.Sprintf("command %q is not an absolute path", s.Command)}
	}
	cred, err := credential(s.User)
	if err != nil {
		return Result{Detail: clip(err.Error())}
	}
	cmd := exec.CommandContext(ctx, s.Command[0], s.Command[1:]...)
	cmd.Env = []string{
		"LVSGEN_REAL_ADDR=" + s.Addr.Addr().String(),
		"LVSGEN_REAL_PORT=" + strconv.Itoa(int(s.Addr.Port())),
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/",
	}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	// The group, not just the program: a shell script's children would
	// otherwise keep running, and keep the output pipes open.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	var out boundedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return Result{Detail: "timeout after " + s.Timeout.String()}
	}
	text := clip(out.String())
	var ee *exec.ExitError
	switch {
	case err == nil:
		if text == "" {
			text = "exit status 0"
		}
		return Result{OK: true, Detail: text}
	case errors.As(err, &ee):
		if text != "" {
			return Result{Detail: clip(ee.Error() + ": " + text)}
		}
		return Result{Detail: ee.Error()}
	default:
		return Result{Detail: clip(err.Error())}
	}
}

// credential returns who to run as. A user the daemon already is needs no
// switch (nil): that is how the tests run the prober without root. Root is
// refused whoever asks.
func credential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("exec user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("exec user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("exec user %s: gid %q: %w", name, u.Gid, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("exec user %s is uid 0: refusing to run a check as root", name)
	}
	if gid == 0 {
		return nil, fmt.Errorf("exec user %s has group 0: refusing to run a check with root's group", name)
	}
	if int(uid) == os.Getuid() && int(gid) == os.Getgid() {
		return nil, nil
	}
	var groups []uint32
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("exec user %s: groups: %w", name, err)
	}
	for _, g := range ids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("exec user %s: group %q: %w", name, g, err)
		}
		if n == 0 {
			continue // root's group would give back what dropping uid 0 took
		}
		groups = append(groups, uint32(n))
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, nil
}
