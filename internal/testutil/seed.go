package testutil

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// Seed is the seed of a randomized test: the value of the environment
// variable env when set (to replay a failure), else a fresh one. It logs
// how to replay it, so that a failing run prints its reproducer.
func Seed(t testing.TB, env string) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(env); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", env, s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with %s=%d)", seed, env, seed)
	return seed
}
