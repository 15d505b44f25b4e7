// Package watch holds the guest test (tagged e2eguest) of `lvsgen watch` on
// the e2e VM's real kernel: watch runs inside a NAT director's namespace
// while the test edits its config directory, and the kernel and the
// client's traffic follow every valid edit and ignore an invalid one. It
// runs inside the VM only; see docs/TESTING.md.
package watch
