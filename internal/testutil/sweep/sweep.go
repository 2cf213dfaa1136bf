// Package sweep runs exhaustive sequential test cases whole, or a sample
// of them under the race detector.
package sweep

import (
	"strings"
	"testing"
)

// sweepUnderRace is how many cases of a sweep run under the race detector.
const sweepUnderRace = 3

// Cases returns the cases (cut lengths, flipped bytes, ...) an exhaustive
// sequential test tries: all of them normally, and an evenly spread sample
// of at most sweepUnderRace under the race detector. A sweep runs on one
// goroutine, so the detector finds nothing in it, while it makes each large
// allocation of a decoder (xz's dictionary, lz4's blocks) many times dearer:
// the sweeps were most of the suite's time. scripts/test.sh therefore runs
// every test named *Sweep* a second time without the race detector, where
// the sweep is whole. The name is required so that no sweep escapes that
// pass.
func Cases[T any](t testing.TB, all []T) []T {
	t.Helper()
	if !strings.Contains(t.Name(), "Sweep") {
		t.Fatalf("%s uses sweep.Cases but its name lacks \"Sweep\": scripts/test.sh's pass without the race detector selects sweeps by name", t.Name())
	}
	if !raceDetector || len(all) <= sweepUnderRace {
		return all
	}
	sample := make([]T, 0, sweepUnderRace)
	for i := range sweepUnderRace {
		sample = append(sample, all[i*(len(all)-1)/(sweepUnderRace-1)])
	}
	return sample
}

// Steps returns how many steps of a seeded random sequence a sweep takes:
// n normally, and the first sweepUnderRace of the same sequence under the
// race detector.
func Steps(t testing.TB, n int) int {
	t.Helper()
	return len(Cases(t, make([]struct{}, n)))
}
