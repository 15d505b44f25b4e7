package watch

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/plan"
)

// Failure reasons, the values of the reason label of
// lvsgen_watch_failures_total.
const (
	// ReasonInvalidConfig: the config did not compile, or does not name
	// the host. Nothing was applied.
	ReasonInvalidConfig = "invalid_config"
	// ReasonRefused: a guard refused the plan (--max-deletes, a missing
	// interface). Nothing was applied.
	ReasonRefused = "refused"
	// ReasonKernelError: observing or changing the kernel, or saving the
	// state or rules files, failed.
	ReasonKernelError = "kernel_error"
)

// Metrics are the loop's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	lastSuccess  prometheus.Gauge
	applies      *prometheus.CounterVec
	failures     *prometheus.CounterVec
	configValid  prometheus.Gauge
	driftRepairs prometheus.Counter
	services     prometheus.Gauge
	destinations prometheus.Gauge
	duration     prometheus.Histogram
	operations   *prometheus.CounterVec
	info         *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lvsgen_watch_last_success_timestamp_seconds",
			Help: "When the kernel was last made equal to a config (an apply, possibly with no changes, that succeeded), in Unix seconds.",
		}),
		applies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lvsgen_watch_applies_total",
			Help: "Plan-and-apply runs that succeeded, by what triggered them (start, change, sighup, resync, health); runs with no changes count too.",
		}, []string{"trigger"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lvsgen_watch_failures_total",
			Help: "Cycles that did not make the kernel equal to the newest config, by reason: invalid_config, refused, kernel_error.",
		}, []string{"reason"}),
		configValid: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lvsgen_watch_config_valid",
			Help: "1 when the newest config compiled and names the host, 0 when it does not (the last good config keeps running).",
		}),
		driftRepairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lvsgen_watch_drift_repairs_total",
			Help: "Resyncs that changed the kernel with no config change: drift repaired or drains finished.",
		}),
		services: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lvsgen_watch_managed_services",
			Help: "IPVS services of the config last applied successfully.",
		}),
		destinations: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lvsgen_watch_managed_destinations",
			Help: "IPVS destinations (real servers) of the config last applied successfully.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lvsgen_watch_apply_duration_seconds",
			Help:    "Time to plan and apply a config (compile excluded), failed runs included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms to 33 s
		}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lvsgen_watch_operations_total",
			Help: "Kernel operations applied, by object kind and action.",
		}, []string{"kind", "action"}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lvsgen_watch_config_info",
			Help: "1, labelled with the content hash and git commit of the config last applied successfully.",
		}, []string{"hash", "commit"}),
	}
	reg.MustRegister(m.lastSuccess, m.applies, m.failures, m.configValid, m.driftRepairs,
		m.services, m.destinations, m.duration, m.operations, m.info)
	for _, r := range []string{ReasonInvalidConfig, ReasonRefused, ReasonKernelError} {
		m.failures.WithLabelValues(r)
	}
	for _, t := range []Trigger{TriggerStart, TriggerChange, TriggerSignal, TriggerResync, TriggerHealth} {
		m.applies.WithLabelValues(string(t))
	}
	return m
}

func (m *Metrics) failure(reason string) {
	if m != nil {
		m.failures.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) valid(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.configValid.Set(1)
	} else {
		m.configValid.Set(0)
	}
}

func (m *Metrics) observe(d time.Duration) {
	if m != nil {
		m.duration.Observe(d.Seconds())
	}
}

// success records an apply that succeeded.
func (m *Metrics) success(t Trigger, now time.Time, want *hoststate.Host, done []plan.Op, hash, commit string) {
	if m == nil {
		return
	}
	m.applies.WithLabelValues(string(t)).Inc()
	m.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	dests := 0
	for _, s := range want.Services {
		dests += len(s.Destinations)
	}
	m.services.Set(float64(len(want.Services)))
	m.destinations.Set(float64(dests))
	changed := false
	for _, op := range done {
		if op.Action != plan.Wait {
			m.operations.WithLabelValues(string(op.Kind()), string(op.Action)).Inc()
			changed = true
		}
	}
	if t == TriggerResync && changed {
		m.driftRepairs.Inc()
	}
	m.info.Reset()
	m.info.WithLabelValues(hash, commit).Set(1)
}
