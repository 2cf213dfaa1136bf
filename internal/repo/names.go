package repo

import (
	"path/filepath"

	"github.com/pacrepo/pacrepo/internal/layout"
)

func (r *Repo) dir() string { return r.opts.DB.Dir }

// names classifies the names of the repository's directory; every decision
// about what a file is asks it (internal/layout).
func (r *Repo) names() layout.Names {
	return layout.Names{Repo: r.opts.DB.Name, Ignore: r.opts.IgnorePatterns}
}

func (r *Repo) classify(name string) layout.Kind { return r.names().Classify(name) }

func (r *Repo) lockPath() string    { return filepath.Join(r.dir(), r.names().LockFile()) }
func (r *Repo) journalPath() string { return filepath.Join(r.dir(), r.names().JournalFile()) }
func (r *Repo) cachePath() string   { return filepath.Join(r.dir(), r.names().CacheFile()) }
func (r *Repo) keptPath() string    { return filepath.Join(r.dir(), r.names().KeptFile()) }

// repoAddLocks are the lock files repo-add creates (NAME.db.tar.EXT.lck, or
// NAME.files.tar.EXT.lck when it is given the files database).
func (r *Repo) repoAddLocks() []string {
	return []string{r.opts.DB.Lockfile(), r.opts.DB.FilesPath() + ".lck"}
}
