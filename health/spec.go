package health

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Type is the kind of a check: how a Prober decides that a real server
// answers.
type Type string

// The check types. The config's "none" never reaches this package: a real
// server without a check is simply not a Target.
const (
	TCP   Type = "tcp"   // connect and close
	HTTP  Type = "http"  // GET a path, accept listed status codes
	HTTPS Type = "https" // HTTP over TLS
	UDP   Type = "udp"   // send a datagram, expect an answer
	DNS   Type = "dns"   // ask a question, expect an answer
	Exec  Type = "exec"  // run a program as an unprivileged user, exit 0 passes
)

// Limits on a Spec's timing. The schema enforces the same range; they are
// checked again here because a zero interval would spin the scheduler.
const (
	MinInterval = time.Second
	MaxInterval = time.Hour
	MaxCount    = 100 // the largest rise or fall
)

// Spec says how to check one real server. The lead's conversion from the
// model fills every field the type uses, defaults applied; fields of other
// types are ignored.
type Spec struct {
	Type              Type
	Addr              netip.AddrPort // where to check: the real server's address, the check port
	Interval, Timeout time.Duration  // Timeout <= Interval
	Rise, Fall        int            // consecutive passes to come up, failures to go down
	InitialUp         bool           // the state before the first result (no snapshot)

	Path, Host string // http(s): the request path (with query) and Host header
	Expect     []int  // http(s): accepted status codes
	Body       string // http(s): RE2 regexp the first 64 KiB of the body must match

	ServerName string // https: TLS SNI
	Verify     bool   // https: verify the certificate chain and name

	Send, Receive []byte // udp: payload, bytes the answer must contain

	Query, QueryType, Answer string // dns

	Command []string // exec: absolute program path and arguments
	User    string   // exec: the unprivileged user to run as

	// body is Body compiled, by Validate: once per Spec, not per check.
	body *regexp.Regexp
}

// Validate reports the first problem that would make s unusable, and
// compiles Body. The schema rejects all of them first; this is the
// engine's own guard, so that a conversion bug cannot spin the scheduler
// or run a program as root.
func (s *Spec) Validate() error {
	switch s.Type {
	case TCP, HTTP, HTTPS, UDP, DNS, Exec:
	default:
		return fmt.Errorf("unknown check type %q", s.Type)
	}
	if !s.Addr.IsValid() || s.Addr.Port() == 0 {
		return fmt.Errorf("%s check: invalid address %s", s.Type, s.Addr)
	}
	if s.Interval < MinInterval || s.Interval > MaxInterval {
		return fmt.Errorf("%s check: interval %s outside %s..%s", s.Type, s.Interval, MinInterval, MaxInterval)
	}
	if s.Timeout <= 0 || s.Timeout > s.Interval {
		return fmt.Errorf("%s check: timeout %s must be positive and at most the interval %s", s.Type, s.Timeout, s.Interval)
	}
	if s.Rise < 1 || s.Rise > MaxCount || s.Fall < 1 || s.Fall > MaxCount {
		return fmt.Errorf("%s check: rise %d and fall %d must be in 1..%d", s.Type, s.Rise, s.Fall, MaxCount)
	}
	switch s.Type {
	case HTTP, HTTPS:
		if !strings.HasPrefix(s.Path, "/") {
			return fmt.Errorf("%s check: path %q does not start with /", s.Type, s.Path)
		}
		for _, c := range s.Expect {
			if c < 100 || c > 599 {
				return fmt.Errorf("%s check: expected status %d outside 100..599", s.Type, c)
			}
		}
		if s.Body != "" {
			re, err := regexp.Compile(s.Body)
			if err != nil {
				return fmt.Errorf("%s check: body: %w", s.Type, err)
			}
			s.body = re
		}
	case DNS:
		if s.Query == "" {
			return errors.New("dns check: no query")
		}
		if _, err := queryType(s.QueryType); err != nil {
			return fmt.Errorf("dns check: %w", err)
		}
	case Exec:
		if len(s.Command) == 0 || !strings.HasPrefix(s.Command[0], "/") {
			return fmt.Errorf("exec check: command %q is not an absolute path", s.Command)
		}
		if s.User == "" {
			return errors.New("exec check: no user")
		}
	}
	return nil
}

// equal reports whether s and o check the same way. The compiled body is
// derived from Body and left out.
func (s *Spec) equal(o *Spec) bool {
	return s.Type == o.Type && s.Addr == o.Addr &&
		s.Interval == o.Interval && s.Timeout == o.Timeout &&
		s.Rise == o.Rise && s.Fall == o.Fall && s.InitialUp == o.InitialUp &&
		s.Path == o.Path && s.Host == o.Host && slices.Equal(s.Expect, o.Expect) && s.Body == o.Body &&
		s.ServerName == o.ServerName && s.Verify == o.Verify &&
		bytes.Equal(s.Send, o.Send) && bytes.Equal(s.Receive, o.Receive) &&
		s.Query == o.Query && s.QueryType == o.QueryType && s.Answer == o.Answer &&
		slices.Equal(s.Command, o.Command) && s.User == o.User
}

// Key names a target: a real server of a service, in the config's words.
type Key struct {
	Service string // the service's name
	Real    string // the real server's name within it
}

// String returns "service/real".
func (k Key) String() string { return k.Service + "/" + k.Real }

// Target is one real server to check, the unit Checker.Set reconciles.
type Target struct {
	Key  Key
	Spec Spec
}

// Result is the outcome of one check.
type Result struct {
	OK bool
	// Detail is short and human: "200", "503", "connection refused",
	// "timeout after 3s", "exit status 2: <first line of output>".
	Detail string
	// Duration is how long the check took; the Checker fills it in.
	Duration time.Duration
}
