package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWatchStatsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".r.pacrepo.watch")
	s, err := LoadWatchStats(path)
	if err != nil || s.Commits != 0 {
		t.Fatalf("missing file: %+v %v", s, err)
	}
	s.Commits, s.Rejected = 2, 1
	s.ObserveCommit(70 * time.Millisecond)
	s.ObserveCommit(time.Hour) // beyond every bound: only +Inf
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadWatchStats(path)
	if err != nil || got.Commits != 2 || got.CommitsTimed != 2 || got.CommitBuckets[2] != 1 {
		t.Fatalf("read back %+v %v", got, err)
	}
	var b strings.Builder
	Write(&b, []Repository{{Name: `we"ird`, Packages: 5, Watch: got}})
	for _, want := range []string{
		`pacrepo_packages{repo="we\"ird"} 5`,
		`pacrepo_watch_commit_duration_seconds_bucket{repo="we\"ird",le="60"} 1`,
		`pacrepo_watch_commit_duration_seconds_bucket{repo="we\"ird",le="+Inf"} 2`,
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	os.WriteFile(path, []byte("{not json"), 0o644)
	if _, err := LoadWatchStats(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a damaged file: %v", err)
	}
}
