package main

import (
	"runtime/debug"
	"testing"
)

// TestOneShotGC: plan and apply set GOGC 200, unless the user set GOGC
// (the runtime read it at start; oneShotGC must leave it).
func TestOneShotGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	oneShotGC()
	if got := debug.SetGCPercent(100); got != oneShotGCPercent {
		t.Errorf("without GOGC, GC percent %d, want %d", got, oneShotGCPercent)
	}
	t.Setenv("GOGC", "50")
	oneShotGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC=50, GC percent %d, want the runtime's own (100 here) left alone", got)
	}
}
