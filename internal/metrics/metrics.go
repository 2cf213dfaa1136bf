// Package metrics holds what the long-running commands count and writes it
// in Prometheus' text exposition format.
//
// watch and host are separate processes (and systemd units): watch keeps
// its counters in a small file of the repository directory
// (layout.Names.WatchStatsFile), replaced atomically after every commit,
// and host reads it, with the database, when /metrics is asked for.
package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
)

// CommitBuckets are the upper bounds, in seconds, of the commit duration
// histogram.
var CommitBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// WatchStats are the watch command's counters since its statistics file
// was made.
type WatchStats struct {
	Commits        int64     `json:"commits"`         // commits that wrote the database
	Uploads        int64     `json:"uploads"`         // uploads committed
	Added          int64     `json:"added"`           // entries registered
	Retired        int64     `json:"retired"`         // files retired
	Rejected       int64     `json:"rejected"`        // uploads moved to the rejected directory
	Problems       int64     `json:"problems"`        // uploads that could not be used as they were
	Errors         int64     `json:"errors"`          // commits that failed
	LockWaits      int64     `json:"lock_waits"`      // commits that had to wait for the lock
	LastCommit     time.Time `json:"last_commit"`     // zero before the first
	CommitSeconds  float64   `json:"commit_seconds"`  // sum of commit durations
	CommitBuckets  []int64   `json:"commit_buckets"`  // counts per CommitBuckets bound (not cumulative)
	CommitsTimed   int64     `json:"commits_timed"`   // commits in the histogram
	StartedWatches int64     `json:"started_watches"` // times watch started
}

// ObserveCommit counts one commit that took d.
func (s *WatchStats) ObserveCommit(d time.Duration) {
	if len(s.CommitBuckets) != len(CommitBuckets) {
		s.CommitBuckets = make([]int64, len(CommitBuckets))
	}
	sec := d.Seconds()
	s.CommitSeconds += sec
	s.CommitsTimed++
	for i, b := range CommitBuckets {
		if sec <= b {
			s.CommitBuckets[i]++
			break
		}
	}
}

// LoadWatchStats reads the statistics file at path; a missing one is all
// zeros.
func LoadWatchStats(path string) (*WatchStats, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &WatchStats{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var s WatchStats
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &s, nil
}

// Save replaces the statistics file at path atomically.
func (s *WatchStats) Save(path string) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return fsutil.WriteFile(path, append(data, '\n'), 0o644)
}

// Repository is what /metrics says of one repository.
type Repository struct {
	Name        string
	Packages    int       // registered entries; -1 when the database cannot be read
	DBModified  time.Time // the database's modification time (zero: none)
	DBSizeBytes int64
	Watch       *WatchStats // nil when no watch has run
}

// Write writes repos in Prometheus' text exposition format (version 0.0.4).
func Write(w io.Writer, repos []Repository) error {
	sort.Slice(repos, func(i, j int) bool { return repos[i].Name < repos[j].Name })
	var b strings.Builder
	family := func(name, typ, help string, each func(r Repository) (string, bool)) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, r := range repos {
			if v, ok := each(r); ok {
				fmt.Fprintf(&b, "%s{repo=%s} %s\n", name, quote(r.Name), v)
			}
		}
	}
	num := func(v int64) string { return strconv.FormatInt(v, 10) }
	float := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	watch := func(f func(*WatchStats) string) func(Repository) (string, bool) {
		return func(r Repository) (string, bool) {
			if r.Watch == nil {
				return "", false
			}
			return f(r.Watch), true
		}
	}
	family("pacrepo_packages", "gauge", "Packages registered in the repository's database (-1: it cannot be read).",
		func(r Repository) (string, bool) { return num(int64(r.Packages)), true })
	family("pacrepo_database_bytes", "gauge", "Size of the repository's database file.",
		func(r Repository) (string, bool) { return num(r.DBSizeBytes), !r.DBModified.IsZero() })
	family("pacrepo_database_modified_timestamp_seconds", "gauge", "When the database was last written.",
		func(r Repository) (string, bool) { return float(unixSeconds(r.DBModified)), !r.DBModified.IsZero() })
	family("pacrepo_watch_last_commit_timestamp_seconds", "gauge", "When watch last committed uploads.",
		func(r Repository) (string, bool) {
			if r.Watch == nil || r.Watch.LastCommit.IsZero() {
				return "", false
			}
			return float(unixSeconds(r.Watch.LastCommit)), true
		})
	family("pacrepo_watch_commits_total", "counter", "Commits of watch that wrote the database.",
		watch(func(s *WatchStats) string { return num(s.Commits) }))
	family("pacrepo_watch_uploads_total", "counter", "Uploads watch committed.",
		watch(func(s *WatchStats) string { return num(s.Uploads) }))
	family("pacrepo_watch_added_total", "counter", "Database entries watch registered.",
		watch(func(s *WatchStats) string { return num(s.Added) }))
	family("pacrepo_watch_retired_total", "counter", "Package files watch retired.",
		watch(func(s *WatchStats) string { return num(s.Retired) }))
	family("pacrepo_watch_rejected_total", "counter", "Uploads watch moved to the rejected directory.",
		watch(func(s *WatchStats) string { return num(s.Rejected) }))
	family("pacrepo_watch_problems_total", "counter", "Uploads watch could not use as they were.",
		watch(func(s *WatchStats) string { return num(s.Problems) }))
	family("pacrepo_watch_commit_errors_total", "counter", "Commits of watch that failed (and were retried).",
		watch(func(s *WatchStats) string { return num(s.Errors) }))
	family("pacrepo_watch_lock_waits_total", "counter", "Commits of watch that waited for the repository lock.",
		watch(func(s *WatchStats) string { return num(s.LockWaits) }))
	// The histogram's buckets need one line per bound.
	const h = "pacrepo_watch_commit_duration_seconds"
	fmt.Fprintf(&b, "# HELP %s How long watch's commits took.\n# TYPE %s histogram\n", h, h)
	for _, r := range repos {
		s := r.Watch
		if s == nil {
			continue
		}
		var cum int64
		for i, bound := range CommitBuckets {
			if i < len(s.CommitBuckets) {
				cum += s.CommitBuckets[i]
			}
			fmt.Fprintf(&b, "%s_bucket{repo=%s,le=\"%s\"} %d\n", h, quote(r.Name), float(bound), cum)
		}
		fmt.Fprintf(&b, "%s_bucket{repo=%s,le=\"+Inf\"} %d\n", h, quote(r.Name), s.CommitsTimed)
		fmt.Fprintf(&b, "%s_sum{repo=%s} %s\n", h, quote(r.Name), float(s.CommitSeconds))
		fmt.Fprintf(&b, "%s_count{repo=%s} %d\n", h, quote(r.Name), s.CommitsTimed)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// quote is a label value as the text format writes it.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
