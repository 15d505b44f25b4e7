package watch

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsgen/lvsgen/applier"
	"github.com/lvsgen/lvsgen/applier/kernel/memory"
	"github.com/lvsgen/lvsgen/compiler"
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
			write := func(name, content string) {
				tmp := filepath.Join(dir, "."+name+".tmp")
				if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
					b.Fatal(err)
				}
				if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
					b.Fatal(err)
				}
			}
			write("hosts.cue", hostsCUE)
			write("services.cue", servicesCUE(1, true))
			k := memory.New()
			k.AddDevice("eth0")
			k.AddDevice("eth1")
			w, err := NewWatcher(slog.New(slog.DiscardHandler), dir)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			steps := make(chan Step, 100)
			l := &Loop{
				Dir: dir, Host: "lb", Compile: compiler.Compile,
				Applier:  &applier.Runner{Kernel: k, StateDir: b.TempDir(), MaxDeletes: -1},
				Events:   w.Events(),
				Log:      slog.New(slog.DiscardHandler),
				Debounce: debounce,
				step:     func(s Step) { steps <- s },
			}
			ctx, cancel := context.WithCancel(context.Background())
			exited := make(chan struct{})
			go func() {
				l.Run(ctx)
				close(exited)
			}()
			defer func() {
				cancel()
				<-exited
			}()
			if s := <-steps; s.Outcome != Applied {
				b.Fatalf("start: %+v", s)
			}
			b.ResetTimer()
			for i := range b.N {
				write("services.cue", servicesCUE(2+i%50, true))
				for s := range steps {
					if s.Outcome == Applied && s.Changes > 0 {
						break
					}
				}
			}
		})
	}
}
