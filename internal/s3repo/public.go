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
// name (NAME.db, NAME.db.tar.EXT and the files database's, and their .sig)
// is the database of the newest commit, read from its generation rather
// than from the names the commit copies to, so that a database and its
// signature always belong together. objstore.ErrNotFound when there is
// none.
func (r *Repo) Resolve(ctx context.Context, name string) (objstore.Object, error) {
	names := layout.Names{Repo: r.addr.Name}
	base, isSig := strings.CutSuffix(name, ".sig")
	var key string
	switch names.Classify(base) {
	case layout.Database, layout.DatabaseLink:
		h, err := r.readLatest(ctx)
		if err != nil {
			return objstore.Object{}, err
		}
		if h == nil || isSig && !h.Signed || !r.servedDatabase(base) {
			return objstore.Object{}, fmt.Errorf("%s: %w", name, objstore.ErrNotFound)
		}
		key = h.DB
		if strings.HasPrefix(base, r.addr.Name+".files") {
			key = h.Files
		}
	case layout.Package:
		key = r.addr.key(base)
	default:
		return objstore.Object{}, fmt.Errorf("%s: %w", name, objstore.ErrNotFound)
	}
	if isSig {
		key += ".sig"
	}
	return r.bucket.Head(ctx, key)
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
