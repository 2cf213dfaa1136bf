// Package freelist keeps a bounded number of reusable values for the life
// of the process.
//
// sync.Pool is the usual tool, but it drops what it holds at every other
// garbage collection. The values kept here (zstd and gzip coders) cost
// megabytes of zeroed tables each to make, and a process that commits
// again and again (watch, host, a build farm's stream of adds, the tests)
// collected often enough that nearly every commit made them anew. Under
// the race detector, whose shadow memory doubles the cost of every large
// allocation, making them was most of the CPU of the tests that write
// small databases. A free list of a few values, held for good, makes each
// one once.
package freelist

import "runtime"

// List holds at most its capacity of idle values; values beyond that are
// dropped to the garbage collector.
type List[T any] struct {
	idle chan T
}

// New returns a list that keeps up to n idle values. n below 1 means
// twice GOMAXPROCS: the values are used by at most one goroutine per
// worker, and the workers are GOMAXPROCS.
func New[T any](n int) *List[T] {
	if n < 1 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	return &List[T]{idle: make(chan T, n)}
}

// Get returns an idle value, or ok false when there is none.
func (l *List[T]) Get() (v T, ok bool) {
	select {
	case v = <-l.idle:
		return v, true
	default:
		return v, false
	}
}

// Put keeps v for a later Get, or drops it when the list is full. The
// caller must not use v afterwards.
func (l *List[T]) Put(v T) {
	select {
	case l.idle <- v:
	default:
	}
}
