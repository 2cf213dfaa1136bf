// Package layout knows the names of a repository directory: which file
// name is a package, a signature, the database, its links, its .old copy
// and repo-add's lock, pacrepo's own files (lock, journal, caches,
// temporaries), someone else's temporary file, or anything else. Every
// package that looks at a repository directory (repo scans it, server
// serves it, repodb and config name its databases) asks this one
// classifier, so that they never disagree about a file.
package layout

import (
	"path/filepath"
	"strings"
)

// Kind is what a file name is in a repository directory.
type Kind int

const (
	// Other: none of the kinds below (notes, other repositories'
	// databases, backups under other names): never read, never served.
	Other Kind = iota
	// Package: NAME.pkg.tar or NAME.pkg.tar.EXT (EXT letters and digits).
	Package
	// Signature: the .sig of a package, a database or a database link.
	Signature
	// Database: REPO.db.tar[.EXT] or REPO.files.tar[.EXT] of this
	// repository, or its links database REPO.links.tar[.EXT] (sogrep's).
	Database
	// DatabaseLink: REPO.db or REPO.files, the names pacman downloads.
	DatabaseLink
	// DatabaseOld: the previous database, REPO.db.tar[.EXT].old.
	DatabaseOld
	// DatabaseLock: repo-add's lock, REPO.db.tar[.EXT].lck.
	DatabaseLock
	// Own: pacrepo's own dot-files: the lock, the journal, the caches, the
	// record of files kept in place, and the temporaries of a writer.
	Own
	// Temporary: someone else's file in progress: other dot-files, *.part,
	// *.tmp, *~, and the configured ignore patterns.
	Temporary
	// LastUpdate: lastupdate, the time of the last database write, which
	// mirrors poll to see that something changed.
	LastUpdate
)

// LastUpdateFile is the name of the LastUpdate file.
const LastUpdateFile = "lastupdate"

func (k Kind) String() string {
	return [...]string{"other", "package", "signature", "database", "database link", "old database",
		"database lock", "pacrepo's own", "temporary", "last update"}[k]
}

// Public tells whether pacman downloads files of this kind.
func (k Kind) Public() bool {
	return k == Package || k == Signature || k == Database || k == DatabaseLink || k == LastUpdate
}

// DatabaseExtensions are the archive extensions of databases pacrepo reads
// and writes: those repo-add accepts for which a Go codec exists.
var DatabaseExtensions = []string{".tar", ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst", ".tar.lz4"}

// TempPrefix starts the name of every temporary file of pacrepo's in a
// repository directory (placements, journal, lock contents, caches).
const TempPrefix = ".pacrepo-tmp-"

// Names classifies the file names of one repository's directory.
type Names struct {
	Repo   string   // the repository's name: NAME of NAME.db.tar.EXT
	Ignore []string // more temporary names: shell patterns (ignore_patterns)
}

// Classify tells what name (a base name) is.
func (n Names) Classify(name string) Kind {
	if !plain(name) {
		return Other
	}
	if name[0] == '.' {
		if n.own(name) {
			return Own
		}
		return Temporary
	}
	if strings.HasSuffix(name, ".part") || strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, "~") {
		return Temporary
	}
	for _, pat := range n.Ignore {
		if ok, _ := filepath.Match(pat, name); ok {
			return Temporary
		}
	}
	if base, ok := strings.CutSuffix(name, ".sig"); ok {
		switch n.Classify(base) {
		case Package, Database, DatabaseLink:
			return Signature
		}
		return Other
	}
	if k := n.database(name); k != Other {
		return k
	}
	if name == LastUpdateFile {
		return LastUpdate
	}
	if i := strings.LastIndex(name, ".pkg.tar"); i > 0 && packageSuffix(name[i+len(".pkg.tar"):]) {
		return Package
	}
	return Other
}

func (n Names) database(name string) Kind {
	if n.Repo == "" {
		return Other
	}
	for _, kind := range []string{".db", ".files", ".links"} {
		if name == n.Repo+kind {
			return DatabaseLink
		}
		rest, ok := strings.CutPrefix(name, n.Repo+kind)
		if !ok {
			continue
		}
		for suffix, k := range map[string]Kind{"": Database, ".old": DatabaseOld, ".lck": DatabaseLock} {
			if ext, ok := strings.CutSuffix(rest, suffix); ok && isDatabaseExtension(ext) {
				return k
			}
		}
	}
	return Other
}

func isDatabaseExtension(ext string) bool {
	for _, e := range DatabaseExtensions {
		if ext == e {
			return true
		}
	}
	return false
}

// packageSuffix accepts what may follow ".pkg.tar" in a package file name:
// nothing, or one compression extension of letters and digits (makepkg
// writes .gz, .bz2, .xz, .zst, .lz4, .lrz, .lzo, .Z, .lz). Words that mark
// copies and partial files are not extensions.
func packageSuffix(s string) bool {
	if s == "" {
		return true
	}
	ext, ok := strings.CutPrefix(s, ".")
	if !ok || ext == "" || len(ext) > 8 {
		return false
	}
	switch ext {
	case "old", "tmp", "part", "lck", "sig", "bak", "new", "swp", "orig":
		return false
	}
	for _, c := range ext {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// plain tells whether name is one file name with no directory part. (A
// name with a newline may be a package, reported as one that cannot be a
// database entry.)
func plain(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\\x00")
}

// own tells whether the dot-file name is one of pacrepo's.
func (n Names) own(name string) bool {
	if strings.HasPrefix(name, TempPrefix) {
		return true
	}
	if n.Repo == "" {
		return false
	}
	if strings.HasPrefix(name, "."+n.Repo+".pacrepo.") {
		return true
	}
	_, ok := n.databaseTemporary(name)
	return ok
}

// databaseTemporary tells whether name is a temporary of the database
// writer (.REPO.db.tar.EXT.tmp-RANDOM).
func (n Names) databaseTemporary(name string) (string, bool) {
	for _, kind := range []string{".db", ".files", ".links"} {
		rest, ok := strings.CutPrefix(name, "."+n.Repo+kind)
		if !ok {
			continue
		}
		ext, random, ok := strings.Cut(rest, ".tmp-")
		if ok && random != "" && isDatabaseExtension(ext) {
			return ext, true
		}
	}
	return "", false
}

// Leftover tells whether name is a temporary that only a holder of the
// repository lock creates: one found while the lock is held was left by a
// process that died. The temporaries of the verification cache and of the
// watch command's statistics are not: they are written without the lock.
func (n Names) Leftover(name string) bool {
	if strings.HasPrefix(name, TempPrefix) {
		return len(name) > len(TempPrefix) && !strings.HasSuffix(name, "-"+n.CacheFile()) &&
			!strings.HasSuffix(name, "-"+n.WatchStatsFile())
	}
	_, ok := n.databaseTemporary(name)
	return ok
}

// The files of pacrepo's in a repository directory.
func (n Names) LockFile() string    { return "." + n.Repo + ".pacrepo.lock" }
func (n Names) JournalFile() string { return "." + n.Repo + ".pacrepo.journal" }
func (n Names) CacheFile() string   { return "." + n.Repo + ".pacrepo.cache" }
func (n Names) KeptFile() string    { return "." + n.Repo + ".pacrepo.kept" }

// HistoryDir holds the repository's history: a record of every
// generation and its databases (internal/history).
func (n Names) HistoryDir() string { return "." + n.Repo + ".pacrepo.history" }

// IndexFile is the databases' sidecar index (repodb.Index).
func (n Names) IndexFile() string { return "." + n.Repo + ".pacrepo.index" }

// LinksIndexFile is the links database's sidecar index
// (repodb.LinksIndex).
func (n Names) LinksIndexFile() string { return "." + n.Repo + ".pacrepo.links-index" }

// WatchStatsFile holds the watch command's counters, which host serves as
// metrics.
func (n Names) WatchStatsFile() string { return "." + n.Repo + ".pacrepo.watch" }

// WatchLockFile is the flock a watch holds on the directory it watches
// (the inbox, or the repository directory) for as long as it runs, with
// who holds it: two watches of one directory would take the same uploads.
// It is a dot-file, which no scan takes for an upload.
const WatchLockFile = ".pacrepo-watch.lock"

// TempName is the name of one of pacrepo's temporaries for final, with
// random (hex) making it unique.
func TempName(random, final string) string {
	return TempPrefix + random + "-" + final
}

// DatabaseTempName is the database writer's temporary for base, with
// random making it unique.
func DatabaseTempName(base, random string) string {
	return "." + base + ".tmp-" + random
}

// SplitDatabase splits a database file name NAME.db.tar[.EXT] (files false)
// or NAME.files.tar[.EXT] (files true). Like repo-add, the name ends at the
// last ".db." (or ".files."); it must not be empty.
func SplitDatabase(base string) (name string, files bool, ext string, ok bool) {
	for _, kind := range []string{".db", ".files"} {
		i := strings.LastIndex(base, kind+".tar")
		if i <= 0 || strings.Contains(base, "/") {
			continue
		}
		if ext := base[i+len(kind):]; isDatabaseExtension(ext) {
			return base[:i], kind == ".files", ext, true
		}
	}
	return "", false, "", false
}

// ValidRepoName tells whether name can name a repository: in a URL path
// segment, a pacman.conf section and a file name.
func ValidRepoName(name string) bool {
	if name == "" || name[0] == '.' || name[0] == '-' || len(name) > 255 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '+' || c == '@') {
			return false
		}
	}
	return true
}
