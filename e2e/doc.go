// Package e2e is lvsgen's end-to-end test harness: its test boots a real
// Debian kernel with IPVS under qemu and runs the guest test packages
// (files tagged e2eguest) inside it. See docs/TESTING.md.
//
// The subpackages are vm (host side: base, initramfs, qemu), guest (helpers
// for guest tests), topo (network namespaces making clients, directors, real
// servers and routers) and kernel (the guest tests that prove the kernel).
package e2e
