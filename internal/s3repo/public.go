package s3repo

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/objstore"
)

// Resolve is the object host serves for the public file name of the
// repository: a package or its signature is its own object; a database
// name (NAME.db, NAME.db.tar.EXT and the files database's, and their .sig,
// and the links database NAME.links.tar.EXT) is the database of the
// newest commit, as ResolveGeneration has it.
// objstore.ErrNotFound when there is none.
func (r *Repo) Resolve(ctx context.Context, name string) (objstore.Object, error) {
	base, isSig := strings.CutSuffix(name, ".sig")
	switch (layout.Names{Repo: r.addr.Name}).Classify(base) {
	case layout.Database, layout.DatabaseLink:
		obj, _, err := r.ResolveGeneration(ctx, name, -1)
		return obj, err
	case layout.Package:
		key := r.addr.key(base)
		if isSig {
			key += ".sig"
		}
		return r.bucket.Head(ctx, key)
	}
	return objstore.Object{}, fmt.Errorf("%s: %w", name, objstore.ErrNotFound)
}

// ResolveGeneration is the object serving the database name (NAME.db,
// NAME.db.tar.EXT, the files database's, or their .sig; or the links
// database NAME.links.tar.EXT, which has none) as generation gen has it, and gen; the newest commit's, and its number, when gen < 0 or
// generation gen is gone. The database is read from its generation
// rather than from the names the commit copies to, so that a database and
// its signature always belong together. Its Modified is the commit's
// time, not the object's: a database back at an earlier content is that
// generation's object, and a time going backwards would tell a client
// holding a newer database that it is up to date.
func (r *Repo) ResolveGeneration(ctx context.Context, name string, gen int64) (objstore.Object, int64, error) {
	base, isSig := strings.CutSuffix(name, ".sig")
	links := r.addr.key(base) == r.addr.linksName()
	if k := (layout.Names{Repo: r.addr.Name}).Classify(base); k != layout.Database && k != layout.DatabaseLink || !r.servedDatabase(base) && !links {
		return objstore.Object{}, 0, fmt.Errorf("%s: %w", name, objstore.ErrNotFound)
	}
	var h *commit
	if gen >= 0 {
		h, _ = r.readCommit(ctx, gen) // pruned or damaged: the newest instead
	}
	if h == nil {
		var err error
		if h, err = r.readLatest(ctx); err != nil {
			return objstore.Object{}, 0, err
		}
	}
	if h == nil || isSig && (!h.Signed || links) || links && h.Links == "" {
		return objstore.Object{}, 0, fmt.Errorf("%s: %w", name, objstore.ErrNotFound)
	}
	key := h.DB
	switch {
	case links:
		key = h.Links
	case strings.HasPrefix(base, r.addr.Name+".files"):
		key = h.Files
	}
	if isSig {
		key += ".sig"
	}
	obj, err := r.bucket.Head(ctx, key)
	if err != nil {
		return objstore.Object{}, 0, err
	}
	obj.Modified = h.Committed
	return obj, h.Generation, nil
}

// servedDatabase tells whether base is one of the repository's own
// database names (with its extension, or the bare link name).
func (r *Repo) servedDatabase(base string) bool {
	files, db := r.addr.fixedNames()
	for _, k := range append(files, db...) {
		if r.addr.key(base) == k {
			return true
		}
	}
	return false
}

// OpenAt opens obj (from Resolve) for reading from byte offset off.
func (r *Repo) OpenAt(ctx context.Context, obj objstore.Object, off int64) (io.ReadCloser, error) {
	return r.bucket.GetFrom(ctx, obj.Key, off)
}
