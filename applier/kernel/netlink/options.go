package netlink

import (
	"time"

	"github.com/vishvananda/netns"
)

// DefaultTimeout bounds a kernel call whose context has no deadline.
const DefaultTimeout = 5 * time.Second

// Option configures New.
type Option func(*config)

type config struct {
	nsPath  string
	ns      netns.NsHandle
	hasNS   bool
	timeout time.Duration
}

// WithNetNS makes the Kernel operate in the network namespace h instead
// of the current one. New duplicates h: the caller may close its own.
func WithNetNS(h netns.NsHandle) Option {
	return func(c *config) { c.ns, c.hasNS, c.nsPath = h, true, "" }
}

// WithNetNSPath makes the Kernel operate in the network namespace bound
// at path (e.g. /run/netns/NAME or /proc/PID/ns/net).
func WithNetNSPath(path string) Option {
	return func(c *config) { c.nsPath, c.hasNS = path, false }
}

// WithDefaultTimeout sets the bound on calls whose context has no
// deadline (DefaultTimeout otherwise).
func WithDefaultTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}
