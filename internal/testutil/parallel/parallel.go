// Package parallel runs the independent steps of the benchmark tools on
// every core.
package parallel

import (
	"runtime"
	"sync"
)

// Each calls f(0), ..., f(n-1) on GOMAXPROCS goroutines and returns one of
// the errors they returned (nil when none did). Every step runs.
func Each(n int, f func(i int) error) error {
	next := make(chan int)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
