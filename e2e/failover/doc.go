// Package failover holds the guest tests of director failover: two
// directors with IPVS connection sync, a long-lived connection through
// the first, and the VIP moved to the second by hand, as VRRP would.
package failover
