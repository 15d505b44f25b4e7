// Package failover holds the guest tests of directors that stand in for
// each other. Active/backup: two directors with IPVS connection sync, a
// long-lived connection through the first, and the VIP moved to the
// second by hand, as VRRP would. Active-active: two directors announcing
// the VIP with BIRD on the files lvsgen renders, a router spreading flows
// over them by ECMP, and a director withdrawn by its health checks.
package failover
