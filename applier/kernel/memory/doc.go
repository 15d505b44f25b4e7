// Package memory is an in-memory twin of the Linux kernel objects lvsgen
// manages. It answers like the kernel does — the same errno for the same
// mistake, as read from net/netfilter/ipvs/ip_vs_ctl.c and the rtnetlink
// handlers of Linux 6.1, inside the same *kernel.OpError — so that unit
// tests of the applier mean something. The conformance tests in kerneltest
// hold it and the real kernel to the same answers; where they disagree,
// this model is wrong.
//
// Kernel is a whole host (kernel.Kernel); IPVS is its IPVS table alone
// (kernel.IPVS), for what has nothing else, such as a table loaded from
// an `ipvsadm-save` capture.
package memory
