// Package netlink is the real kernel.Kernel: it reads and writes the IPVS
// table, network devices, addresses, routes, fou ports and sysctls of a
// Linux network namespace.
//
// IPVS goes through a small generic-netlink layer of this package (on
// github.com/vishvananda/netlink/nl) that sends and reads every attribute
// the kernel has — tunnel type, port and checksum flags, the destination's
// address family, the persistence engine, full 32-bit weights — on one
// socket kept open per Kernel, with every call bounded by its context.
// Devices, addresses, routes and fou ports go through
// github.com/vishvananda/netlink; sysctls through /proc/sys.
//
// Errors keep the kernel's errno (syscall.Errno) so that errors.Is works,
// as the kernel package documents for each method.
package netlink
