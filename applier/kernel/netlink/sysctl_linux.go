//go:build linux

package netlink

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/lvsgen/lvsgen/applier/kernel"
)

// perDevice are the sysctl directories whose next component is a device
// name, which may itself contain dots (eth0.100).
var perDevice = []string{"net.ipv4.conf.", "net.ipv6.conf.", "net.ipv4.neigh.", "net.ipv6.neigh.", "net.mpls.conf."}

// sysctlPath maps a dotted sysctl name to its file under /proc/sys, as
// sysctl(8) does: dots separate components, except inside the device
// name of a per-device key (net.ipv4.conf.eth0.100.rp_filter is
// net/ipv4/conf/eth0.100/rp_filter). A name with slashes is taken as a
// path with literal dots. It returns false for a name that cannot be a
// key.
func sysctlPath(key string) (string, bool) {
	var parts []string
	switch {
	case strings.Contains(key, "/"):
		parts = strings.Split(key, "/")
	default:
		for _, p := range perDevice {
			rest, ok := strings.CutPrefix(key, p)
			if !ok {
				continue
			}
			i := strings.LastIndexByte(rest, '.')
			if i < 0 {
				return "", false
			}
			parts = append(strings.Split(strings.TrimSuffix(p, "."), "."), rest[:i], rest[i+1:])
			break
		}
		if parts == nil {
			parts = strings.Split(key, ".")
		}
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return "", false
		}
	}
	return path.Join(append([]string{"/proc/sys"}, parts...)...), true
}

// Sysctl implements kernel.Sysctls. In another namespace the file is
// opened from a thread inside it: /proc/sys/net shows the namespace of
// the thread that looks it up.
func (k *Kernel) Sysctl(ctx context.Context, key string) (string, error) {
	failed := func(err error) error { return &kernel.OpError{Op: "reading", Object: "sysctl " + key, Err: err} }
	if err := ctx.Err(); err != nil {
		return "", failed(err)
	}
	p, ok := sysctlPath(key)
	if !ok {
		return "", failed(fmt.Errorf("not a sysctl name: %w", unix.ENOENT))
	}
	var b []byte
	err := inNetNS(k.ns, func() (err error) {
		b, err = os.ReadFile(p)
		return err
	})
	if err != nil {
		return "", failed(unwrapPath(err))
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

// SetSysctl implements kernel.Sysctls.
func (k *Kernel) SetSysctl(ctx context.Context, key, value string) error {
	failed := func(err error) error { return &kernel.OpError{Op: "writing", Object: "sysctl " + key, Err: err} }
	if err := ctx.Err(); err != nil {
		return failed(err)
	}
	p, ok := sysctlPath(key)
	if !ok {
		return failed(fmt.Errorf("not a sysctl name: %w", unix.ENOENT))
	}
	err := inNetNS(k.ns, func() error {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, werr := f.WriteString(value + "\n")
		cerr := f.Close()
		if werr != nil {
			return werr
		}
		return cerr
	})
	if err != nil {
		return failed(unwrapPath(err))
	}
	return nil
}

// unwrapPath drops os.PathError's "open /proc/sys/...:" prefix, which
// repeats the key; the errno stays wrapped.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
