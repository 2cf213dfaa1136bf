package server

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/metrics"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// packageCounts remembers how many entries each database holds, keyed by
// the database file's identity, so that a scrape every few seconds reads a
// database only after it changed.
type packageCounts struct {
	mu   sync.Mutex
	byDB map[string]countedDB
}

type countedDB struct {
	id    fsutil.FileID
	count int
}

// count is the number of entries of loc's database (whose file is fi),
// -1 when it cannot be read. The databases' index, when it describes
// them, spares reading them.
func (c *packageCounts) count(loc repodb.Location, fi os.FileInfo) int {
	path := loc.DBPath()
	id := fsutil.IDOf(fi)
	c.mu.Lock()
	prev, ok := c.byDB[path]
	c.mu.Unlock()
	if ok && prev.id == id {
		return prev.count
	}
	n := -1
	if ix := repodb.ReadIndex(loc); ix != nil {
		n = ix.Len()
	} else if entries, err := repodb.Read(path, repodb.ReadOptions{}); err == nil {
		n = len(entries)
	}
	c.mu.Lock()
	if c.byDB == nil {
		c.byDB = map[string]countedDB{}
	}
	c.byDB[path] = countedDB{id: id, count: n}
	c.mu.Unlock()
	return n
}

// serveMetrics answers /metrics: for every repository served, its
// packages and database, and the counters of the watch command.
func (h *handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	var repos []metrics.Repository
	for _, name := range h.names {
		repo := h.repos[name]
		m := metrics.Repository{Name: name, Packages: -1}
		if repo.Objects != nil {
			repos = append(repos, m) // nothing local to count
			continue
		}
		if locs, err := repodb.DatabasesIn(repo.Dir); err == nil {
			for _, loc := range locs {
				if loc.Name != name {
					continue
				}
				if fi, err := os.Stat(loc.DBPath()); err == nil {
					m.Packages = h.counts.count(loc, fi)
					m.DBModified, m.DBSizeBytes = fi.ModTime(), fi.Size()
				}
			}
		}
		stats := filepath.Join(repo.Dir, layout.Names{Repo: name}.WatchStatsFile())
		if _, err := os.Stat(stats); err == nil {
			if s, err := metrics.LoadWatchStats(stats); err == nil {
				m.Watch = s
			}
		}
		repos = append(repos, m)
	}
	var b bytes.Buffer
	if err := metrics.Write(&b, repos); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b.Bytes()))
}
