package main

import (
	"os"
	"runtime/debug"
)

// oneShotGCPercent is the collector's GOGC for plan and apply.
const oneShotGCPercent = 200

// oneShotGC lets the garbage collector run about half as often in plan
// and apply, which exit when done: most of what they allocate (the
// config's models, the host's state, the kernel's tables) lives to the
// end, so a collection while the heap grows finds little to free. At
// GOGC 200, an apply after an edit at 1,000 services in the e2e VM took
// 7 % less time, and a plan after an edit on the project's machine 9 %
// less CPU at 10,000 services (6 % at 1,000) for 5-26 MB more memory;
// at 400 the fresh pages cost more than the collections saved
// (docs/PERFORMANCE.md). watch, which runs for months, keeps Go's
// default; a GOGC the user set wins.
func oneShotGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(oneShotGCPercent)
	}
}
