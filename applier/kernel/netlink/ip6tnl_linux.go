//go:build linux

package netlink

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// siocChgTunnel is SIOCCHGTUNNEL (SIOCDEVPRIVATE + 3).
const siocChgTunnel = unix.SIOCDEVPRIVATE + 3

// ip6TnlParm is struct ip6_tnl_parm (include/uapi/linux/ip6_tunnel.h).
type ip6TnlParm struct {
	name       [unix.IFNAMSIZ]byte
	link       int32
	proto      uint8
	encapLimit uint8
	hopLimit   uint8
	_          uint8
	flowinfo   uint32
	flags      uint32
	laddr      [16]byte
	raddr      [16]byte
}

// ifreqData is struct ifreq with its ifr_data pointer.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(unsafe.Pointer(nil))]byte
}

// setIP6TnlProto sets the inner protocol of the fallback ip6tnl device
// name as `ip -6 tunnel change ip6tnl0 mode ...` does: SIOCCHGTUNNEL with
// no addresses finds the fallback device, of which the kernel changes
// only the protocol (ip6_tnl0_update).
func (k *Kernel) setIP6TnlProto(name string, proto uint8) error {
	var p ip6TnlParm
	copy(p.name[:], name)
	p.proto = proto
	var ifr ifreqData
	copy(ifr.name[:], name)
	ifr.data = unsafe.Pointer(&p)
	return inNetNS(k.ns, func() error {
		fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("ioctl socket: %w", err)
		}
		defer unix.Close(fd)
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), siocChgTunnel, uintptr(unsafe.Pointer(&ifr)))
		runtime.KeepAlive(&p)
		if errno != 0 {
			return errno
		}
		return nil
	})
}
