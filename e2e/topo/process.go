package topo

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/internal/syncbuf"
)

// Process is a long-running child process in a node's namespace — a
// daemon the test talks to (keepalived, BIRD, lvsgen watch). Its output is
// kept for failure messages, and the test's cleanup stops it.
type Process struct {
	// Name is the node's and the program's, for messages.
	Name string
	Cmd  *exec.Cmd
	// Out is its standard output and error together.
	Out    syncbuf.Buffer
	exited chan struct{}
	stop   os.Signal
}

// StartProcess starts path with args in n's namespace. The test's cleanup
// (and Stop) sends it stop, and SIGKILL 10 s later if it has not exited.
func (n *Node) StartProcess(t testing.TB, stop os.Signal, path string, args ...string) *Process {
	t.Helper()
	p := &Process{Name: n.Name + " " + filepath.Base(path), Cmd: exec.Command(path, args...), exited: make(chan struct{}), stop: stop}
	p.Cmd.Stdout, p.Cmd.Stderr = &p.Out, &p.Out
	if err := n.Start(p.Cmd); err != nil {
		t.Fatalf("%s: start: %v", p.Name, err)
	}
	go func() { p.Cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.Stop)
	return p
}

// Signal sends s to the process.
func (p *Process) Signal(s os.Signal) { p.Cmd.Process.Signal(s) }

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stop stops the process (see StartProcess) and waits for it; a second
// call does nothing.
func (p *Process) Stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.Cmd.Process.Signal(p.stop)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.Cmd.Process.Kill()
		<-p.exited
	}
}
