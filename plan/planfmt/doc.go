// Package planfmt renders a plan.Plan: for people (WriteText, the lines
// `lvsgen plan` prints) and for programs (WriteJSON, a versioned
// document). Both read the same plan value and the same methods of its
// objects (name, attributes, changes, JSON form), so they never disagree,
// and a new object kind needs nothing here.
//
// It is apart from package plan so that the plan stays data: what a plan
// holds, and how it is shown, change for different reasons.
package planfmt
