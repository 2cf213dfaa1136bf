package sweep

import (
	"fmt"
	"strings"
	"testing"
)

func TestSweepSamplesOnlyUnderRace(t *testing.T) {
	all := make([]int, 100)
	for i := range all {
		all[i] = i
	}
	got := Cases(t, all)
	if want := map[bool]int{false: 100, true: sweepUnderRace}[raceDetector]; Steps(t, 100) != want {
		t.Errorf("Steps(100) = %d, want %d", Steps(t, 100), want)
	}
	if !raceDetector {
		if len(got) != len(all) {
			t.Fatalf("without the race detector Cases kept %d of %d cases, want all", len(got), len(all))
		}
		return
	}
	if len(got) != sweepUnderRace || got[0] != 0 || got[len(got)-1] != 99 {
		t.Fatalf("under the race detector Cases gave %v, want %d cases from first to last", got, sweepUnderRace)
	}
}

// nameTB is a testing.TB whose name and failure are under the test's control.
type nameTB struct {
	testing.TB
	name   string
	failed string
}

func (n *nameTB) Name() string { return n.name }
func (n *nameTB) Helper()      {}
func (n *nameTB) Fatalf(format string, args ...any) {
	n.failed = fmt.Sprintf(format, args...)
}

func TestSweepRequiresItsName(t *testing.T) {
	tb := &nameTB{TB: t, name: "TestTruncated/xz"}
	Cases(tb, []int{1, 2, 3})
	if !strings.Contains(tb.failed, "lacks \"Sweep\"") {
		t.Fatalf("a sweep in a test not named *Sweep* was not refused (got %q)", tb.failed)
	}
}
