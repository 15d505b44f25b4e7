package health

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Checker's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	up          *prometheus.GaugeVec
	duration    *prometheus.HistogramVec
	transitions *prometheus.CounterVec
	skipped     prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg:
//
//	lvsgen_real_server_up{service,real}                 1 up, 0 down
//	lvsgen_health_check_duration_seconds{type}          histogram
//	lvsgen_health_transitions_total{service,real,to}    to = up | down
//	lvsgen_health_checks_skipped_total                  every worker was busy
//
// The series of a target removed by Set are deleted.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lvsgen_real_server_up",
			Help: "1 when the health checks hold the real server up, 0 when down (quiesced or removed).",
		}, []string{"service", "real"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lvsgen_health_check_duration_seconds",
			Help:    "Time one health check took, passed or failed, by check type.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5 ms to 16 s
		}, []string{"type"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lvsgen_health_transitions_total",
			Help: "Changes of a real server's health state, by the state it changed to (up, down).",
		}, []string{"service", "real", "to"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lvsgen_health_checks_skipped_total",
			Help: "Checks not started when due because every worker was busy; raise the worker count if it grows.",
		}),
	}
	reg.MustRegister(m.up, m.duration, m.transitions, m.skipped)
	return m
}

func (m *Metrics) setUp(k Key, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(k.Service, k.Real).Set(v)
}

func (m *Metrics) transition(k Key, up bool) {
	if m == nil {
		return
	}
	to := "down"
	if up {
		to = "up"
	}
	m.transitions.WithLabelValues(k.Service, k.Real, to).Inc()
	m.setUp(k, up)
}

func (m *Metrics) observe(t Type, d time.Duration) {
	if m != nil {
		m.duration.WithLabelValues(string(t)).Observe(d.Seconds())
	}
}

func (m *Metrics) skip(n int) {
	if m != nil {
		m.skipped.Add(float64(n))
	}
}

// forget deletes the series of a removed target.
func (m *Metrics) forget(k Key) {
	if m == nil {
		return
	}
	m.up.DeleteLabelValues(k.Service, k.Real)
	m.transitions.DeletePartialMatch(prometheus.Labels{"service": k.Service, "real": k.Real})
}
