package watch

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/applier"
	"github.com/lvsgen/lvsgen/applier/kernel/memory"
	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/internal/gen"
)

// BenchmarkEditToApply measures the time from an editor's save (a
// temporary file renamed over services.cue) to the end of the apply it
// causes, through real fsnotify, the debounce, hashing, compiling,
// planning and applying to the in-memory kernel.
//
//	go test ./watch -run - -bench EditToApply -benchtime 20x
func BenchmarkEditToApply(b *testing.B) {
	for _, debounce := range []time.Duration{DefaultDebounce, time.Millisecond} {
		b.Run("debounce="+debounce.String(), func(b *testing.B) {
			dir := b.TempDir()
			save(b, filepath.Join(dir, "hosts.cue"), []byte(hostsCUE))
			save(b, filepath.Join(dir, "services.cue"), []byte(servicesCUE(1, true)))
			k := memory.New()
			k.AddDevice("eth0")
			k.AddDevice("eth1")
			l := &Loop{
				Dir: dir, Host: "lb", Compile: compiler.Compile,
				Applier:  &applier.Runner{Kernel: k, StateDir: b.TempDir(), MaxDeletes: -1},
				Log:      slog.New(slog.DiscardHandler),
				Debounce: debounce,
			}
			steps, stop := runLoop(b, l)
			defer stop()
			b.ResetTimer()
			for i := range b.N {
				save(b, filepath.Join(dir, "services.cue"), []byte(servicesCUE(2+i%50, true)))
				for s := range steps {
					if s.Outcome == Applied && s.Changes > 0 {
						break
					}
				}
			}
		})
	}
}

// BenchmarkEditLarge is BenchmarkEditToApply on a generated config of
// 10,000 services with 10 real servers each, watched on director lb1 with
// the in-memory kernel holding all of it: one weight is changed in one
// file per iteration. Besides the time from the save to the end of the
// apply it reports the loop's own measures of the turn: compile-ms (read,
// re-validate) and plan-ms (read the kernel, diff).
//
//	go test ./watch -run - -bench EditLarge -benchtime 10x
func BenchmarkEditLarge(b *testing.B) {
	dir := b.TempDir()
	if err := gen.Write(dir, 10000, 10); err != nil {
		b.Fatal(err)
	}
	file, orig, edited, err := gen.WeightEdit(dir)
	if err != nil {
		b.Fatal(err)
	}
	k := memory.New()
	k.AddDevice("eth0")
	timings := &turnTimings{}
	l := &Loop{
		Dir: dir, Host: "lb1", Compile: compiler.NewCompiler(compiler.Options{}).Compile,
		Applier:  &applier.Runner{Kernel: k, StateDir: b.TempDir(), MaxDeletes: -1},
		Log:      slog.New(timings),
		Debounce: time.Millisecond,
		Timeout:  time.Minute,
	}
	steps, stop := runLoop(b, l)
	defer stop()
	timings.reset()
	i := 0
	for b.Loop() {
		content := orig
		if i%2 == 0 {
			content = edited
		}
		i++
		save(b, file, content)
		for s := range steps {
			if s.Outcome == Applied && s.Changes > 0 {
				if s.Changes != 1 {
					b.Fatalf("one weight changed, %d changes", s.Changes)
				}
				break
			}
			if s.Outcome == Invalid || s.Outcome == Failed || s.Outcome == Refused {
				b.Fatalf("turn: %+v", s)
			}
		}
	}
	n, compile, plan := timings.get()
	if n > 0 {
		b.ReportMetric(compile/float64(n)*1000, "compile-ms/op")
		b.ReportMetric(plan/float64(n)*1000, "plan-ms/op")
	}
}

// save writes content to path as an editor saves: to a temporary file
// beside it, renamed over it.
func save(b *testing.B, path string, content []byte) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
}

// runLoop watches l.Dir with real fsnotify, runs l and waits for its
// first turn (the start) to apply; l reports its turns on steps. stop
// ends the loop, then the watcher.
func runLoop(b *testing.B, l *Loop) (steps <-chan Step, stop func()) {
	w, err := NewWatcher(slog.New(slog.DiscardHandler), l.Dir)
	if err != nil {
		b.Fatal(err)
	}
	ch := make(chan Step, 100)
	l.Events, l.step = w.Events(), func(s Step) { ch <- s }
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	go func() {
		l.Run(ctx)
		close(exited)
	}()
	stop = func() {
		cancel()
		<-exited
		w.Close()
	}
	if s := <-ch; s.Outcome != Applied {
		stop()
		b.Fatalf("start: %+v", s)
	}
	return ch, stop
}

// turnTimings is a slog handler that adds up the compile_seconds and
// plan_seconds of the loop's "applied" records.
type turnTimings struct {
	mu            sync.Mutex
	n             int
	compile, plan float64
}

func (t *turnTimings) Enabled(context.Context, slog.Level) bool { return true }
func (t *turnTimings) WithAttrs([]slog.Attr) slog.Handler       { return t }
func (t *turnTimings) WithGroup(string) slog.Handler            { return t }
func (t *turnTimings) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "applied" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "compile_seconds":
			t.compile += a.Value.Float64()
		case "plan_seconds":
			t.plan += a.Value.Float64()
		}
		return true
	})
	return nil
}

func (t *turnTimings) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n, t.compile, t.plan = 0, 0, 0
}

func (t *turnTimings) get() (int, float64, float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n, t.compile, t.plan
}
