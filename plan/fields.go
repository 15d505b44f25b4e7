package plan

import "fmt"

// field is one row of a kind's field table: one field of the kernel's
// struct T (ipvs.Service, ipvs.Destination) and everything the plan does
// with it. Comparing for a diff, comparing two wants, and listing old →
// new for people all read the same table, so a new field is either in it
// or, by name, in the type's list of fields not compared (a test holds
// every field of T to be in one of the two).
type field[T any] struct {
	// name is the Go field of T.
	name string
	// equal reports whether a and b hold the same value of the field.
	equal func(a, b *T) bool
	// kernel reports whether a and b mean the same to the kernel, when
	// two values can (flags the kernel sets by itself, an alias); nil
	// is equal.
	kernel func(a, b *T) bool
	// matters reports, of the wanted value, whether the field matters:
	// the kernel keeps but ignores some fields in some modes. nil is
	// always.
	matters func(want *T) bool
	// show appends the field's "name: old → new" entries, for people.
	show func(c *changeList, a, b *T)
}

// by compares a field got by get; generic, so that a diff of 100,000
// destinations boxes no value.
func by[T any, V comparable](get func(*T) V) func(a, b *T) bool {
	return func(a, b *T) bool { return get(a) == get(b) }
}

// showAs shows a field under one name, as get gives it.
func showAs[T, V any](name string, get func(*T) V) func(*changeList, *T, *T) {
	return func(c *changeList, a, b *T) { c.add(name, get(a), get(b)) }
}

// same reports whether have and want agree on every field of table, as
// the kernel means them, where it matters for want: whether the update
// operation has nothing to change.
func same[T any](table []field[T], have, want *T) bool {
	for i := range table {
		f := &table[i]
		if f.matters != nil && !f.matters(want) {
			continue
		}
		eq := f.equal
		if f.kernel != nil {
			eq = f.kernel
		}
		if !eq(have, want) {
			return false
		}
	}
	return true
}

// equal reports whether a and b are equal in every field of table, as
// they are: two wants that ask the same of the kernel.
func equal[T any](table []field[T], a, b *T) bool {
	for i := range table {
		if !table[i].equal(a, b) {
			return false
		}
	}
	return true
}

// changes lists the "name: old → new" entries of every field of table
// that differs between a and b, in the table's order.
func changes[T any](table []field[T], a, b *T) []string {
	var c changeList
	for i := range table {
		table[i].show(&c, a, b)
	}
	return c
}

// changeList collects "name: old → new" entries.
type changeList []string

// add appends "name: a → b" when a and b print differently.
func (c *changeList) add(name string, a, b any) {
	if fmt.Sprint(a) != fmt.Sprint(b) {
		*c = append(*c, fmt.Sprintf("%s: %v → %v", name, a, b))
	}
}
