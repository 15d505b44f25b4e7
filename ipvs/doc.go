// Package ipvs holds the typed values of the kernel's IP Virtual Server
// tables — services and their destinations — that every stage of lvsgen
// speaks: the compiler produces them, the applier diffs and writes them, and
// the ipvsadm-save text format renders and parses them.
//
// The values mirror what the kernel stores, not what a user wrote: a
// persistence netmask is a prefix length, a scheduler flag is a bit, and a
// destination carries its own forwarding method and tunnel settings, because
// that is where the kernel keeps them.
package ipvs
