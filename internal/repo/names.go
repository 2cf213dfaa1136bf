package repo

import (
	"path/filepath"
	"strings"
)

// File names of our own, all dot-files in the repository directory so that
// scanners (ours, repo-add's users, `host`) ignore them.
const (
	tempPrefix = ".pacrepo-tmp-" // placements, cache and journal temporaries
)

func (r *Repo) dir() string { return r.opts.DB.Dir }

func (r *Repo) lockPath() string {
	return filepath.Join(r.dir(), "."+r.opts.DB.Name+".pacrepo.lock")
}

func (r *Repo) journalPath() string {
	return filepath.Join(r.dir(), "."+r.opts.DB.Name+".pacrepo.journal")
}

func (r *Repo) cachePath() string {
	return filepath.Join(r.dir(), "."+r.opts.DB.Name+".pacrepo.cache")
}

// repoAddLocks are the lock files repo-add creates (NAME.db.tar.EXT.lck, or
// NAME.files.tar.EXT.lck when it is given the files database).
func (r *Repo) repoAddLocks() []string {
	return []string{r.opts.DB.Lockfile(), r.opts.DB.FilesPath() + ".lck"}
}

// fileClass is what a directory entry is to us.
type fileClass int

const (
	classOther fileClass = iota
	classPackage
	classSignature
	classDatabase
	classTemporary // dot-files (ours included), *.part, *.tmp, *~, configured patterns
)

func (r *Repo) classify(name string) fileClass {
	switch {
	case strings.HasPrefix(name, "."),
		strings.HasSuffix(name, ".part"),
		strings.HasSuffix(name, ".tmp"),
		strings.HasSuffix(name, "~"):
		return classTemporary
	}
	for _, pat := range r.opts.IgnorePatterns {
		if ok, _ := filepath.Match(pat, name); ok {
			return classTemporary
		}
	}
	db := r.opts.DB.Name
	if name == db+".db" || name == db+".files" ||
		strings.HasPrefix(name, db+".db.tar") || strings.HasPrefix(name, db+".files.tar") {
		return classDatabase
	}
	if strings.HasSuffix(name, ".sig") {
		return classSignature
	}
	if isPackageName(name) {
		return classPackage
	}
	return classOther
}

// isPackageName: *.pkg.tar or *.pkg.tar.*
func isPackageName(name string) bool {
	i := strings.Index(name, ".pkg.tar")
	if i <= 0 {
		return false
	}
	rest := name[i+len(".pkg.tar"):]
	return rest == "" || (strings.HasPrefix(rest, ".") && len(rest) > 1)
}

// leftoverTemporary tells whether name is a temporary file that only a
// holder of the repository lock creates (placements, journal, repo-add
// lock contents, the database writer's .NAME.db.tar.EXT.tmp-* files): one
// found while we hold the lock was left by a process that died. The
// verification cache's temporaries are not among them: status writes them
// without the lock.
func (r *Repo) leftoverTemporary(name string) bool {
	if strings.HasPrefix(name, tempPrefix) {
		return len(name) > len(tempPrefix) && !strings.HasPrefix(name, tempPrefix+"cache-")
	}
	for _, db := range []string{r.opts.DB.DBFile(), r.opts.DB.FilesFile()} {
		if rest, ok := strings.CutPrefix(name, "."+db+".tmp-"); ok && rest != "" {
			return true
		}
	}
	return false
}
