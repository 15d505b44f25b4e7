package compiler

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallel calls f(w, 0) … f(w, n-1) on as many goroutines as there are
// CPUs, each taking the next index as it becomes free; w (from 0) tells
// the goroutines apart.
func parallel(n int, f func(worker, i int)) {
	parallelN(runtime.GOMAXPROCS(0), n, f)
}

// parallelN is parallel on at most workers goroutines.
func parallelN(workers, n int, f func(worker, i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			f(0, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(w, i)
			}
		})
	}
	wg.Wait()
}
