// Package kernel holds guest tests (tagged e2eguest) that prove the e2e VM's
// kernel does what lvsgen relies on: IPVS with its schedulers, and DR, NAT
// and tunnel forwarding configured by hand with ipvsadm. They run inside the
// VM only; see docs/TESTING.md.
package kernel
