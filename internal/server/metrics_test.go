package server

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/metrics"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// TestMetrics: /metrics counts each repository's packages (a database
// written by real repo-add), shows the watch command's counters, and is
// behind authentication like everything else.
func TestMetrics(t *testing.T) {
	watched := newFixtureRepo(t, "watched")
	plain := newFixtureRepo(t, "plain", testPackage{Name: "gamma", Version: "1-1"})
	// A repository pacrepo wrote: counted from its index.
	indexed := Repository{Name: "indexed", Dir: t.TempDir()}
	var entries []repodb.Entry
	for _, n := range []string{"a", "b", "c"} {
		entries = append(entries, repodb.Entry{Name: n, Version: "1-1", Filename: n + "-1-1-any.pkg.tar.zst"})
	}
	must(t, repodb.Write(repodb.Location{Dir: indexed.Dir, Name: "indexed", Ext: ".tar.zst"}, entries, repodb.WriteOptions{}))
	if repodb.ReadIndex(repodb.Location{Dir: indexed.Dir, Name: "indexed", Ext: ".tar.zst"}) == nil {
		t.Fatal("no index")
	}
	stats := &metrics.WatchStats{Commits: 3, Uploads: 41, Rejected: 2, LockWaits: 1, LastCommit: time.Unix(1700000000, 0)}
	stats.ObserveCommit(30 * time.Millisecond)
	stats.ObserveCommit(2 * time.Second)
	must(t, stats.Save(filepath.Join(watched.Dir, layout.Names{Repo: "watched"}.WatchStatsFile())))
	creds := NewCredentials()
	must(t, creds.Add("ops", "pw"))
	srv := startServer(t, Options{Repos: []Repository{watched.Repository, plain.Repository, indexed}, Metrics: true, Auth: creds})

	if resp, _ := get(t, srv.URL+"/metrics", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/metrics without credentials: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	req.SetBasicAuth("ops", "pw")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	var b strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	body := b.String()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, want := range []string{
		`pacrepo_packages{repo="watched"} 2`,
		`pacrepo_packages{repo="plain"} 1`,
		`pacrepo_packages{repo="indexed"} 3`,
		`pacrepo_watch_commits_total{repo="watched"} 3`,
		`pacrepo_watch_uploads_total{repo="watched"} 41`,
		`pacrepo_watch_rejected_total{repo="watched"} 2`,
		`pacrepo_watch_lock_waits_total{repo="watched"} 1`,
		`pacrepo_watch_last_commit_timestamp_seconds{repo="watched"} 1.7e+09`,
		`pacrepo_watch_commit_duration_seconds_bucket{repo="watched",le="0.05"} 1`,
		`pacrepo_watch_commit_duration_seconds_bucket{repo="watched",le="2.5"} 2`,
		`pacrepo_watch_commit_duration_seconds_bucket{repo="watched",le="+Inf"} 2`,
		`pacrepo_watch_commit_duration_seconds_count{repo="watched"} 2`,
		"# TYPE pacrepo_watch_commit_duration_seconds histogram",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("no line %q in\n%s", want, body)
		}
	}
	if strings.Contains(body, `pacrepo_watch_commits_total{repo="plain"}`) {
		t.Errorf("counters of a watch that never ran:\n%s", body)
	}
	// Off: /metrics is just another path that is not served.
	off := startServer(t, Options{Repos: []Repository{watched.Repository}})
	if resp, _ := get(t, off.URL+"/metrics", nil); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("/metrics with Metrics off: %d", resp.StatusCode)
	}
}
