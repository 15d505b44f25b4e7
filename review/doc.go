// Package review says what a config change does to every host, without a
// kernel: Compare takes two compiled configs (a base and a head, as in a
// pull request) and returns, per host, the operations a deploy of the
// head onto hosts running the base would make, as data (Review); text.go,
// json.go and markdown.go render that one value for people, for scripts
// and for a pull-request comment.
//
// Compare does not compare objects itself: it builds, from the base's
// desired state, the kernel the base leaves (plan.ObservedOf) and the
// ownership its apply records, and runs plan.Diff against the head's.
// So every object kind plan knows — and the next one it learns — is
// reviewed with exactly the rules an apply uses, drains included.
//
// Without a kernel the connections of a real server are unknown: Compare
// assumes every real server has some, so a leaving TCP or SCTP real
// server shows the drain the default drain settings give it (plan.Drain,
// "="), not the immediate deletion an idle one would get.
package review
