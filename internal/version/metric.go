package version

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector is the lvsgen_build_info gauge that `lvsgen watch` exports:
// always 1, with the build's version, commit, dirty flag and Go version
// as labels, as Prometheus exporters conventionally say which build is
// running — so a dashboard can tell which directors run what.
func Collector() prometheus.Collector { return collector(Get()) }

func collector(i Info) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lvsgen_build_info",
		Help: "The running lvsgen build: always 1, labelled with its version, commit, dirty flag and Go version.",
		ConstLabels: prometheus.Labels{
			"version":   i.Version,
			"commit":    i.Commit,
			"dirty":     strconv.FormatBool(i.Dirty),
			"goversion": i.GoVersion,
		},
	})
	g.Set(1)
	return g
}
