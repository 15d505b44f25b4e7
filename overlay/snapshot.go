package overlay

import "github.com/lvsgen/lvsgen/health"

// Statuses turns a saved snapshot into statuses for Apply, each marked
// Restored: what `lvsgen plan` and `lvsgen apply` overlay, reading the
// snapshot `lvsgen watch` keeps, so that a manual apply never undoes a
// health decision.
func Statuses(s health.Snapshot) map[health.Key]health.Status {
	m := make(map[health.Key]health.Status, len(s.Targets))
	for _, t := range s.Targets {
		m[health.Key{Service: t.Service, Real: t.Real}] = health.Status{
			Up: t.Up, Since: t.Since, Restored: true,
			Last: health.Result{OK: t.Up, Detail: t.Detail}, LastAt: t.At,
		}
	}
	return m
}
