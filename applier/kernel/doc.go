// Package kernel is the small interface between lvsgen's applier and a
// Linux kernel: the IPVS table, network devices, addresses, routes, fou
// listeners, sysctls, lvsgen's own nftables tables and the IPVS connection
// sync daemons — the objects lvsgen manages, in kernel terms. Kernel is
// the union of one interface per kind of object (IPVS, Links, Addresses,
// Routes, FOUs, Sysctls, NFTables, SyncDaemons), so that code needing one
// kind, such as a plan against a captured IPVS table, asks for that one
// only.
//
// Two implementations exist: netlink (the real kernel, Linux only) and
// memory (an in-memory twin for tests). They must return the same errors for
// the same requests — an *OpError naming the operation and the object, which
// wraps the kernel's errno so that errors.Is works (syscall.EEXIST, ENOENT,
// ESRCH, EINVAL, ERANGE...) — and the same conformance tests (kerneltest)
// run against both.
package kernel
