// Package compile holds guest tests (tagged e2eguest) that hold what the
// compiler renders up against the e2e VM's real kernel: the ipvsadm-save
// text of every director of examples/ and of the configs under testdata/
// loads with ipvsadm -R and reads back byte for byte, every config lvsgen
// accepts is accepted by the kernel, and the desired state of each host,
// applied by hand from `lvsgen render --format json`, carries DR, NAT and
// TUN traffic. They run inside the VM only; see docs/TESTING.md.
package compile
