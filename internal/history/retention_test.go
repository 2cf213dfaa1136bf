package history

import (
	"maps"
	"slices"
	"testing"
	"time"
)

// TestRetained: the newest generation always, the newest KeepGenerations,
// those made within KeepDays, those superseded within Grace, and the
// pinned ones; nothing else.
func TestRetained(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	day := 24 * time.Hour
	gens := []Stamp{{1, ago(30 * day)}, {2, ago(10 * day)}, {3, ago(5 * day)}, {4, ago(2 * day)},
		{5, ago(3 * time.Hour)}, {6, ago(time.Hour)}}
	for _, c := range []struct {
		name string
		rt   Retention
		want []int64
	}{
		{"zero", Retention{}, []int64{6}},
		{"keep 3", Retention{KeepGenerations: 3}, []int64{4, 5, 6}},
		{"grace", Retention{Grace: 2 * time.Hour}, []int64{5, 6}},                         // 5 superseded 1h ago
		{"grace 4h", Retention{Grace: 4 * time.Hour}, []int64{4, 5, 6}},                   // 4 superseded 3h ago
		{"days", Retention{KeepDays: 6}, []int64{3, 4, 5, 6}},                             // made within 6 days
		{"pinned", Retention{Pinned: []int64{1, 99}}, []int64{1, 6, 99}},                  // a pin of nothing retains nothing real
		{"all", Retention{KeepGenerations: 2, KeepDays: 3, Grace: day}, []int64{4, 5, 6}}, // 4 made 2 days ago
	} {
		got := slices.Sorted(maps.Keys(c.rt.Retained(gens, now)))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: retained %v, want %v", c.name, got, c.want)
		}
	}
	if (Retention{}).Retained(nil, now) == nil {
		t.Error("no generations: nil set")
	}
	rt := Retention{Grace: time.Hour}
	for _, c := range []struct {
		referenced bool
		since      time.Time
		want       bool
	}{{false, ago(2 * time.Hour), true}, {true, ago(2 * time.Hour), false}, {false, ago(time.Minute), false}} {
		if got := rt.Collectable(c.referenced, c.since, now); got != c.want {
			t.Errorf("Collectable(%v, %v) = %v, want %v", c.referenced, c.since, got, c.want)
		}
	}
}
