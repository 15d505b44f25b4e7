package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/applier"
	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/health"
	"github.com/lvsgen/lvsgen/internal/version"
	"github.com/lvsgen/lvsgen/plan"
	"github.com/lvsgen/lvsgen/watch"
)

// watchSignals subscribes to the signals watch acts on; a variable so
// tests can send their own.
var watchSignals = func() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	return ch, func() { signal.Stop(ch) }
}

type watchFlags struct {
	host         string
	stateDir     string
	prune        bool
	drainTimeout time.Duration
	maxDeletes   int
	// maxDeleteFraction is --max-delete-fraction (applier.Runner).
	maxDeleteFraction float64
	timeout           time.Duration
	policyDirs        []string
	rulesFile         string
	sysctlFile        string
	debounce          time.Duration
	resync            time.Duration
	logFormat         string
	logLevel          string
	metricsAddr       string
	metricsAny        bool
	// compileTimeout is --compile-timeout (watch.Loop.CompileTimeout).
	compileTimeout time.Duration
	allowUnsafe    bool
}

func newWatch() *cobra.Command {
	var f watchFlags
	c := &cobra.Command{
		Use:   "watch DIR --host NAME",
		Short: "Keep a host's kernel equal to a config directory as it changes",
		Long: `watch applies DIR to the host once, then follows it: every change to its
files (editors, git pull, a git-sync symlink swap) is debounced, compiled, and
applied when the whole config is valid. An invalid config is logged with its
errors and changes nothing: the last good config keeps running. Every --resync
period the kernel is re-planned against that config, which repairs drift and
finishes drains.

watch runs the config's health checks from this host: a real server whose
check fails is quiesced (or removed) at once, with the reason in the log, and
comes back when it passes again; every apply, resync included, keeps these
decisions. The health is saved in --state-dir (HOST.health.json, root-only),
so that a restart does not flap real servers, and 'lvsgen status' reads it. SIGHUP recompiles at once; SIGTERM or SIGINT stops watch once
the apply in flight has finished (exit 0).

watch takes the host's apply lock for its lifetime: a manual 'lvsgen apply'
fails while it runs. Guards work as in apply: a plan refused by --max-deletes
is logged at error level and not applied. Logs go to stderr (--log-format json
for a log pipeline); --metrics-addr serves Prometheus metrics on a loopback
address. Under systemd (Type=notify) watch sends READY=1 once the kernel first
equals the config, STATUS= with the last result, and WATCHDOG=1 pings when the
unit sets WatchdogSec=. See docs/OPERATIONS.md.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWatch(cmd, args[0], &f)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.host, "host", "", "the host whose kernel this is (required)")
	fl.StringVar(&f.stateDir, "state-dir", applier.DefaultStateDir, "where lvsgen records what it owns on this host")
	fl.BoolVar(&f.prune, "prune", false, "also delete IPVS services lvsgen did not create and the config does not name")
	fl.DurationVar(&f.drainTimeout, "drain-timeout", plan.DefaultDrainTimeout, "how long a leaving TCP/SCTP real server drains at weight 0 before deletion (0: delete at once)")
	fl.IntVar(&f.maxDeletes, "max-deletes", -1, "refuse a plan that deletes or drains more than N services and destinations (-1: no limit)")
	fl.Float64Var(&f.maxDeleteFraction, "max-delete-fraction", applier.DefaultMaxDeleteFraction, "refuse a plan that deletes more than this fraction of the managed services, one always allowed (1: no limit)")
	fl.DurationVar(&f.timeout, "timeout", watch.DefaultTimeout, "bound on one plan-and-apply's kernel calls")
	fl.StringArrayVar(&f.policyDirs, "policy", nil, "also check (and watch) the policies in this directory (repeatable)")
	fl.StringVar(&f.rulesFile, "rules-file", applier.DefaultRulesFile, "write the host's IPVS rules here after each apply (empty: don't)")
	fl.StringVar(&f.sysctlFile, "sysctl-file", applier.DefaultSysctlFile, "write the host's sysctls here after each apply (empty: don't)")
	fl.DurationVar(&f.debounce, "debounce", watch.DefaultDebounce, "wait for the files to be quiet this long before compiling")
	fl.DurationVar(&f.resync, "resync", watch.DefaultResync, "re-plan this often without a file change, to repair drift and finish drains (0: never)")
	fl.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9351 (default: off)")
	fl.BoolVar(&f.metricsAny, "metrics-allow-remote", false, "allow a --metrics-addr that is not a loopback address")
	fl.DurationVar(&f.compileTimeout, "compile-timeout", watch.DefaultCompileTimeout, "bound on one compile of the config; one that takes longer is not applied")
	fl.BoolVar(&f.allowUnsafe, "allow-unsafe-permissions", false, "apply a config that users other than root and this one can change (refused by default)")
	return c
}

func runWatch(cmd *cobra.Command, dir string, f *watchFlags) error {
	if f.host == "" {
		return usageError{errors.New("--host NAME is required")}
	}
	log, err := newLogger(cmd.ErrOrStderr(), f.logFormat, f.logLevel)
	if err != nil {
		return usageError{err}
	}
	if f.debounce <= 0 {
		return usageError{errors.New("--debounce must be positive")}
	}
	if f.maxDeleteFraction <= 0 || f.maxDeleteFraction > 1 {
		return usageError{fmt.Errorf("--max-delete-fraction %g: want more than 0 and at most 1 (1: no limit)", f.maxDeleteFraction)}
	}
	if f.resync < 0 {
		return usageError{errors.New("--resync must not be negative (0 turns resyncs off)")}
	}
	resync := f.resync
	if resync == 0 {
		resync = -1 // watch.Loop: negative is off, 0 is its default
	}
	if f.metricsAddr != "" {
		if err := checkMetricsAddr(f.metricsAddr, f.metricsAny); err != nil {
			return usageError{err}
		}
	}
	if _, err := os.Stat(dir); err != nil {
		log.Warn("the config directory is not there yet: waiting for it", "dir", dir, "error", err.Error())
	}

	k, unlock, err := lockKernel(f.stateDir, f.host)
	if err != nil {
		return err
	}
	defer unlock()
	w, err := watch.NewWatcher(log, append([]string{dir}, f.policyDirs...)...)
	if err != nil {
		return err
	}
	defer w.Close()

	reg := prometheus.NewRegistry()
	metrics := watch.NewMetrics(reg)
	if f.metricsAddr != "" {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), version.Collector())
		stop, err := serveMetrics(f.metricsAddr, reg, log)
		if err != nil {
			return err
		}
		defer stop()
	}

	// The health checks run from this process, in the director's own
	// network namespace; each transition is logged by the checker and
	// triggers an apply through the loop.
	healthChanged, onTransition := watch.HealthNotifier()
	checker := health.New(health.Options{Logger: log, OnTransition: onTransition, Metrics: health.NewMetrics(reg)})

	notify, watchdog, err := systemdNotify()
	if err != nil {
		return err
	}

	signals, stopSignals := watchSignals()
	defer stopSignals()
	policyDirs := f.policyDirs
	loop := &watch.Loop{
		Dir:        dir,
		PolicyDirs: policyDirs,
		Host:       f.host,
		// One Compiler for the loop's life: an edit recompiles what
		// it changed, not the whole config.
		Compile: compiler.NewCompiler(compiler.Options{PolicyDirs: policyDirs, CheckPermissions: !f.allowUnsafe}).Compile,
		Applier: &applier.Runner{
			Kernel:            k,
			StateDir:          f.stateDir,
			Prune:             f.prune,
			DrainTimeout:      f.drainTimeout,
			MaxDeletes:        f.maxDeletes,
			MaxDeleteFraction: f.maxDeleteFraction,
			RulesFile:         f.rulesFile,
			SysctlFile:        f.sysctlFile,
		},
		Events:         w.Events(),
		Signals:        signals,
		Log:            log,
		Metrics:        metrics,
		Debounce:       f.debounce,
		Resync:         resync,
		Timeout:        f.timeout,
		CompileTimeout: f.compileTimeout,

		Health:        checker,
		HealthChanged: healthChanged,
		HealthFile:    health.SnapshotPath(f.stateDir, f.host),

		Notify:   notify,
		Watchdog: watchdog,
	}
	// SIGTERM and SIGINT also end Run's context, so that a compile in
	// progress is abandoned at once (the apply in flight still finishes:
	// the loop applies under a context of its own).
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return loop.Run(ctx)
}

// newLogger makes the slog logger of --log-format and --log-level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("unknown --log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("unknown --log-format %q: want text or json", format)
}

// checkMetricsAddr refuses an address reachable from other hosts unless
// allowRemote: metrics name the balancer's services and commits.
func checkMetricsAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--metrics-addr %q: %w", addr, err)
	}
	if allowRemote {
		return nil
	}
	if host == "" {
		return fmt.Errorf("--metrics-addr %q listens on every address: give a loopback address such as 127.0.0.1%s, or pass --metrics-allow-remote", addr, addr)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("--metrics-addr %q is not a loopback address: pass --metrics-allow-remote to serve metrics to other hosts", addr)
	}
	return nil
}

// serveMetrics serves reg at /metrics on addr until stop is called.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serving metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err.Error())
		}
	}()
	log.Info("serving metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
