package watch

import (
	"fmt"
	"strings"
)

// maxStatus bounds a STATUS= text: systemctl status shows one line, and
// an error naming many files must not grow the datagram without bound.
const maxStatus = 300

// setStatus records the result of the last cycle for STATUS=.
func (l *Loop) setStatus(format string, args ...any) {
	l.status = oneLine(fmt.Sprintf(format, args...), maxStatus)
}

// notifyStep tells the service manager what turn s did: STOPPING=1 at
// stop, READY=1 the first time the kernel equals a config, and STATUS=
// when the last result changed (a resync that changes nothing sends
// nothing).
//
// READY=1 waits for an applied config, not merely a running loop: a unit
// ordered after lvsgen-watch (keepalived taking over the VIPs, say) must
// find the IPVS table in place. An invalid or refused config at start
// therefore leaves the unit activating, with the reason in STATUS=, until
// a valid config is applied or TimeoutStartSec= ends it.
func (l *Loop) notifyStep(s Step) {
	if l.Notify == nil {
		return
	}
	var states []string
	if s.Kind == "stop" {
		states = append(states, "STOPPING=1")
	}
	if s.Outcome == Applied && !l.ready {
		l.ready = true
		states = append(states, "READY=1")
	}
	if l.status != l.sentStatus {
		l.sentStatus = l.status
		states = append(states, "STATUS="+l.status)
	}
	if len(states) > 0 {
		l.notify(strings.Join(states, "\n"))
	}
}

// notify sends state; a failure is logged, never fatal: the kernel
// matters more than systemd's view of it.
func (l *Loop) notify(state string) {
	if err := l.Notify(state); err != nil {
		l.Log.Warn("cannot notify systemd", "error", err.Error())
	}
}

// keeping says what the kernel runs when a new config is not applied.
func (l *Loop) keeping() string {
	if l.current == nil {
		return "no config applied yet"
	}
	return "the kernel keeps config " + short(l.current.hash)
}

// short is a config hash or commit cut to 12 characters, as in the logs'
// summaries.
func short(hash string) string {
	if hash == "" {
		return "(unread)"
	}
	return hash[:min(len(hash), 12)]
}

// behindNote is "; newer config H not applied: invalid" or nothing: a
// resync keeps applying the running config, and its STATUS= must not hide
// that the newest one was not taken.
func behindNote(behind string) string {
	if behind == "" {
		return ""
	}
	return "; newer " + behind
}

// commitNote is ", commit C" or nothing.
func commitNote(commit string) string {
	if commit == "" {
		return ""
	}
	return ", commit " + short(commit)
}

// oneLine makes s one line of at most n bytes. sd_notify's datagram is
// newline-separated assignments: a newline in an error (a file name may
// hold one) would let the text add a READY=1 or MAINPID= of its own.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == 0 {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n-3], "") + "..."
	}
	return s
}
