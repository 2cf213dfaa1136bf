package server

// Snapshots (internal/history) are served read-only at
// /NAME/snapshots/S/FILE (and /snapshots/S/FILE when one repository is
// served), so that "Server = http://HOST/NAME/snapshots/S" pins a machine
// to one. The public names are the repository's (publicKind), and only
// what the snapshot holds answers: its databases (and their links and
// signatures), the packages its database lists (and their signatures).
// Its databases are the generation's kept copies; its packages are the
// pinned copies of a directory, or the objects of a bucket, which gc
// spares. A snapshot is immutable: nothing is replaced under a reader.

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	repohistory "github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/objstore"
)

// snapshotsSegment is the path element under which a repository's
// snapshots are served.
const snapshotsSegment = "snapshots"

// SnapshotObjects is a repository in object storage whose snapshots host
// serves.
type SnapshotObjects interface {
	History() repohistory.Store
	Snapshots() repohistory.Snapshots
	// ResolveSnapshot is the object serving public file name of snapshot
	// s, which the caller found s holds.
	ResolveSnapshot(ctx context.Context, s *repohistory.Snapshot, name string) (objstore.Object, error)
}

// snapshotPackages caches the package files each snapshot's database
// lists, by repository, snapshot and database content: a snapshot never
// changes, and one deleted and made again has another key unless it is
// the same.
type snapshotPackages struct {
	mu    sync.Mutex
	files map[string]map[string]string // file -> SHA-256
}

// sum is the SHA-256 of package file in snapshot s of repository repo;
// false when s does not hold it.
func (c *snapshotPackages) sum(ctx context.Context, st repohistory.Store, repo string, s *repohistory.Snapshot, file string) (string, bool, error) {
	db, ok := s.DB()
	if !ok {
		return "", false, nil
	}
	key := repo + "\x00" + s.Name + "\x00" + db.SHA256
	c.mu.Lock()
	files, ok := c.files[key]
	c.mu.Unlock()
	if !ok {
		pkgs, err := repohistory.SnapshotPackages(ctx, st, s)
		if err != nil {
			return "", false, err
		}
		files = map[string]string{}
		for _, p := range pkgs {
			files[p.File] = p.SHA256
		}
		c.mu.Lock()
		if c.files == nil {
			c.files = map[string]map[string]string{}
		}
		c.files[key] = files
		c.mu.Unlock()
	}
	sum, ok := files[file]
	return sum, ok, nil
}

// snapshotDatabase is the database of s that the public database name
// base (with its extension, or the bare link name) is.
func snapshotDatabase(repoName string, s *repohistory.Snapshot, base string) (repohistory.Database, bool) {
	files := strings.HasPrefix(base, repoName+".files")
	for _, d := range s.Databases {
		if d.Files() != files {
			continue
		}
		if base == repoName+".db" || base == repoName+".files" || base == d.Name {
			return d, true
		}
	}
	return repohistory.Database{}, false
}

// serveSnapshotFile serves the public file name of snapshot snap of repo.
func (h *handler) serveSnapshotFile(w http.ResponseWriter, r *http.Request, repo Repository, snap, name string) {
	kind := publicKind(repo.Name, name)
	if kind == layout.Other || kind == layout.LastUpdate || repohistory.CheckSnapshotName(snap) != nil {
		notFound(w)
		return
	}
	var st repohistory.Store
	var snaps repohistory.Snapshots
	objects, isObjects := repo.Objects.(SnapshotObjects)
	switch {
	case isObjects:
		st, snaps = objects.History(), objects.Snapshots()
	case repo.Objects != nil:
		notFound(w)
		return
	default:
		d := repohistory.DirOf(repo.Dir, repo.Name)
		st, snaps = d, d
	}
	ctx := r.Context()
	s, err := snaps.Snapshot(ctx, snap)
	var nf *repohistory.SnapshotNotFoundError
	if errors.As(err, &nf) {
		notFound(w)
		return
	}
	if err != nil {
		http.Error(w, "cannot read the snapshot", http.StatusInternalServerError)
		return
	}
	base, isSig := name, false
	if kind == layout.Signature {
		base, isSig = strings.TrimSuffix(name, ".sig"), true
	}
	var db repohistory.Database
	var sum string
	switch publicKind(repo.Name, base) {
	case layout.Database, layout.DatabaseLink:
		var ok bool
		if db, ok = snapshotDatabase(repo.Name, s, base); !ok || isSig && !db.Signed || !filepath.IsLocal(filepath.FromSlash(db.Path)) {
			notFound(w)
			return
		}
	case layout.Package:
		var held bool
		sum, held, err = h.snapshotPkgs.sum(ctx, st, repo.Name, s, base)
		if err != nil {
			http.Error(w, "cannot read the snapshot's database", http.StatusInternalServerError)
			return
		}
		if !held {
			notFound(w)
			return
		}
	default:
		notFound(w)
		return
	}
	if isObjects {
		h.serveResolved(w, r, repo, name, kind, func(ctx context.Context) (objstore.Object, error) {
			return objects.ResolveSnapshot(ctx, s, name)
		})
		return
	}
	d := repohistory.DirOf(repo.Dir, repo.Name)
	path := d.Path(db)
	if db.Path == "" {
		path = d.PinnedPath(repohistory.Package{File: base, SHA256: sum})
	}
	if isSig {
		path += ".sig"
	}
	h.serveSnapshotPath(w, r, name, kind, path)
}

// serveSnapshotPath serves a file of a directory's snapshot: a regular
// file of the history directory, never replaced.
func (h *handler) serveSnapshotPath(w http.ResponseWriter, r *http.Request, name string, kind layout.Kind, path string) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		notFound(w)
		return
	}
	if err != nil {
		http.Error(w, "cannot open file", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		notFound(w)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("ETag", etagOf(fi))
	if kind == layout.Package {
		hdr.Set("Cache-Control", cachePackage)
	} else {
		hdr.Set("Cache-Control", cacheDatabase)
	}
	limitRanges(r, fi.Size())
	http.ServeContent(w, r, name, fi.ModTime(), f)
}
