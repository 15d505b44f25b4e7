// Package netlink is the real kernel.Kernel: it reads and writes the IPVS
// table, network devices, addresses, routes, fou ports, sysctls and
// lvsgen's nftables tables of a Linux network namespace, and starts and
// stops its IPVS sync daemons.
//
// IPVS goes through a small generic-netlink layer of this package (on
// github.com/vishvananda/netlink/nl) that sends and reads every attribute
// the kernel has — tunnel type, port and checksum flags, the destination's
// address family, the persistence engine, full 32-bit weights, the sync
// daemons (sync_linux.go) — on one
// socket kept open per Kernel, with every call bounded by its context.
// Devices, addresses, routes and fou ports go through
// github.com/vishvananda/netlink; sysctls through /proc/sys; nftables
// tables are written through github.com/google/nftables, in one
// transaction per table, and read with a rule dump of this package's own
// (nftread_linux.go says why).
//
// Errors are *kernel.OpError naming the operation and the object, around
// the kernel's errno (syscall.Errno) so that errors.Is works, as the
// kernel package documents for each method.
//
// # Why not github.com/moby/ipvs
//
// moby/ipvs (v1.1.0, the version in go.mod) is the usual Go client for
// IPVS, and lvsgen cannot use it to manage a table, for these reasons, each
// read from its source:
//
//   - It never sends a destination's tunnel type, tunnel port or tunnel
//     checksum flags: fillDestination (netlink_linux.go) sends address,
//     port, forwarding method, weight and thresholds only, and the
//     package has no constant for IPVS_DEST_ATTR_TUN_TYPE, _TUN_PORT or
//     _TUN_FLAGS (constants_linux.go). GUE tunnels cannot be set up, and
//     editing a tunnel destination would reset it to ipip.
//   - It never sends a destination's address family: fillDestination
//     leaves out IPVS_DEST_ATTR_ADDR_FAMILY (only assembleDestination
//     reads it), so the kernel takes the service's family, and an IPv4
//     real server behind an IPv6 service (a tunnel across families)
//     cannot be added.
//   - It reads a weight as 16 bits: assembleDestination decodes
//     IPVS_DEST_ATTR_WEIGHT with native.Uint16, so a weight above 65535,
//     which it does send in full, reads back modulo 65536 (on a
//     little-endian host), and every plan would see it changed.
//   - Its calls have no context and, in effect, no receive deadline: New
//     sets a 3-second SO_RCVTIMEO, but execute (netlink_linux.go) treats the
//     EAGAIN it causes as "timeout fired" and receives again, so a lost
//     answer blocks the caller for ever.
//   - It does one request at a time: execute sends one message and reads
//     until its answer before the next call can start, so loading 10,000
//     services with 10 destinations is 110,000 round trips (this package
//     pipelines them, see Kernel.WriteBatch). A Handle also has no lock:
//     two calls at once on one Handle can each read and drop (another
//     sequence number) the other's answer.
//
// moby/ipvs is still used, in the e2e VM's tests only, as a netlink
// client independent of this package — a second opinion on what the
// kernel holds and answers: ipvs/oracle_e2eguest_test.go writes and dumps
// tables through it to hold lvsgen's save format to ipvsadm's;
// e2e/kernel/smoke_test.go checks the errno of a missing scheduler with
// it; e2e/compile/thresholds_e2eguest_test.go sets thresholds through it
// (IPVS_CMD_SET_DEST and _NEW_DEST); e2e/importer's keepalived test reads
// the live thresholds through it, which ipvsadm-save does not print.
// Those tests keep to what it can say: no tunnels, and weights read from
// ipvsadm.
package netlink
