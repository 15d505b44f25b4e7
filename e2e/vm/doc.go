// Package vm boots a real Linux kernel with IPVS under qemu (TCG) and runs
// lvsgen's guest tests inside it. It is the host side of the e2e harness.
//
// A VM is made of a cached base and a per-run part. The base, prepared once
// per kernel package and kept in DefaultCacheDir, holds the kernel image and
// an initramfs archive with the kernel modules lvsgen needs (ip_vs and its
// schedulers, ipip, ip_gre, fou, veth, bridge, dummy, nf_conntrack,
// nf_tables, ...), busybox, ipvsadm and iproute2 with their libraries. Each
// run appends a second archive with /init, the guest test binaries (packages
// whose test files carry the e2eguest build tag, compiled with go test -c as
// static binaries), lvsgen itself as /bin/lvsgen when ./cmd/lvsgen exists,
// and data directories such as examples/ under /e2e-data.
//
// /init loads the modules, runs each guest test binary in its package's
// directory under /e2e-src, prints a result marker carrying a per-run nonce
// and the exit status, and powers off. Boot streams the serial console,
// finds the marker, and reports the status.
package vm
