package health

import "sync"

// ExecProber runs Spec.Command, an absolute path and its arguments, with
// no shell, as Spec.User: exit status 0 passes. It refuses to run anything
// as uid 0 — the watch daemon is root, a check script must not be.
//
// The program gets a fixed environment, not the daemon's:
//
//	LVSGEN_REAL_ADDR  the real server's address, e.g. 10.0.0.5 or 2001:db8::5
//	LVSGEN_REAL_PORT  the check port (the real server's port unless the check names one)
//	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
//	HOME=/
//
// It runs in its own process group, which is killed (SIGKILL) when the
// check's timeout passes, so a script's children do not outlive it. The
// first 4 KiB of its output (stdout and stderr together) are kept for the
// result's detail; the rest is read and dropped, so a chatty program never
// blocks on a full pipe.
//
// Linux only: elsewhere every exec check fails with "not supported".
type ExecProber struct{}

// maxOutput is how much of a program's output is kept.
const maxOutput = 4 << 10

// boundedBuffer keeps the first maxOutput bytes written to it and accepts
// the rest without keeping it.
type boundedBuffer struct {
	mu  sync.Mutex // stdout and stderr are copied by two goroutines
	buf []byte
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxOutput - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
