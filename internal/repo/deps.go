package repo

import (
	"context"
	"errors"
	"io/fs"

	"github.com/pacrepo/pacrepo/internal/deps"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// DependencyPackages are the registered packages as the dependency
// judgement takes them (package deps): their entries' depends and
// provides, and the libraries their files provide and need, from the
// verification cache or else read from the files (and recorded in the
// cache). It takes no lock: it reads.
func (r *Repo) DependencyPackages(ctx context.Context) ([]deps.Package, error) {
	loc := r.opts.DB
	entries, err := repodb.Read(loc.DBPath(), repodb.ReadOptions{})
	if errors.Is(err, fs.ErrNotExist) && repodb.KindOf(err) == 0 {
		return nil, r.requireDatabase(&dbContent{missing: true})
	}
	if err != nil {
		return nil, &DBUnreadableError{Path: loc.DBPath(), Err: err}
	}
	keys := make([]repodb.Key, len(entries))
	for i := range entries {
		keys[i] = repodb.KeyOf(&entries[i])
	}
	libs := r.librariesOf(keys)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]deps.Package, len(entries))
	for i := range entries {
		out[i] = deps.FromEntry(&entries[i], "")
		out[i].Libs = libs[entries[i].Filename]
	}
	return out, nil
}
