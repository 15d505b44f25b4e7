// Package kerneltest holds the conformance tests of kernel.Kernel: one
// suite that the in-memory twin (on any host) and the real kernel (in the
// e2e VM, through applier/kernel/netlink) must both pass, so that what the
// applier's unit tests learn from the twin holds for the kernel. Every
// method is exercised with what it must store and read back, and with the
// errno of each documented mistake, inside an *OpError naming the
// operation and the object.
//
// The tests are grouped by object interface, one file each (ipvs.go,
// links.go, addresses.go, routes.go, fous.go, sysctls.go, nft.go; host.go for
// those where two kinds meet). Run runs them all; RunIPVS runs the IPVS
// group alone, for a kernel that has only an IPVS table.
package kerneltest
