// Package watch holds the guest test (tagged e2eguest) of `lvsgen watch` on
// the e2e VM's real kernel: watch runs inside a NAT director's namespace
// while the test edits its config directory, and the kernel and the
// client's traffic follow every valid edit and ignore an invalid one; and
// while a client sends requests without pause, watch's health checks take
// a real server whose listener stopped out within fall × interval (no
// request fails from then on), bring it back after rise passes, and put
// the sorry server in while none is up. It runs inside the VM only; see
// docs/TESTING.md.
package watch
