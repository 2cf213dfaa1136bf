package repo

// Snapshots of a repository directory (history/snapshot.go): a snapshot
// names a generation and pins its package files by hard links in the
// history directory, so that no retirement, backup pruning or cleaning of
// the backup directory loses a file a snapshot serves. Creating and
// deleting snapshots happen under the repository's lock: a delete removes
// the pinned files no snapshot names, which must not be those of a
// snapshot being created.

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pacrepo/pacrepo/internal/history"
)

// CreateSnapshot makes generation from (the newest when from < 0)
// snapshot name, made by command. Every package file of the generation is
// pinned, found where it is: pinned by another snapshot, in the directory (registered or kept in
// place), in the backup directory, or where the history says a retirement
// moved it; when some are gone, no snapshot is made and the
// *MissingFilesError names each. A repository with a database but no
// history yet records the state it has as generation 0 first.
func (r *Repo) CreateSnapshot(ctx context.Context, name string, from int64, command string) (*history.Snapshot, error) {
	if err := history.CheckSnapshotName(name); err != nil {
		return nil, err
	}
	l, err := r.lock(ctx, command)
	if err != nil {
		return nil, err
	}
	defer l.release()
	if _, err := r.recoverJournal(); err != nil {
		return nil, err
	}
	h := r.History()
	if _, err := h.Snapshot(ctx, name); err == nil {
		return nil, &history.SnapshotExistsError{Name: name}
	}
	if from < 0 {
		if from, err = h.Latest(ctx); err != nil {
			return nil, err
		}
		if from < 0 {
			if _, err := os.Stat(r.opts.DB.DBPath()); err != nil {
				return nil, fmt.Errorf("no snapshot of %s: %w", r.opts.DB.DBPath(), err)
			}
			if err := r.recordGenerationZero(); err != nil {
				return nil, err
			}
			from = 0
		}
	}
	rec, err := h.Record(ctx, from)
	if err != nil {
		return nil, err
	}
	s, err := history.NewSnapshot(name, rec, command)
	if err != nil {
		return nil, err
	}
	pkgs, err := h.Packages(ctx, rec)
	if err != nil {
		return nil, err
	}
	need := map[string]history.Package{}
	for _, p := range pkgs {
		need[p.File] = p
	}
	places, err := r.placesOutside(ctx, need)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, p := range pkgs {
		pinned := false
		here := []string{h.PinnedPath(p), filepath.Join(r.dir(), p.File)}
		for _, path := range append(here, places[p.File]...) {
			if real, err := filepath.EvalSymlinks(path); err == nil && h.Pin(real, p) == nil {
				pinned = true
				break
			}
		}
		if !pinned {
			missing = append(missing, p.File)
		}
	}
	if len(missing) > 0 {
		return nil, &MissingFilesError{Generation: from, Files: missing}
	}
	if len(pkgs) > 0 {
		if err := h.SyncPinned(); err != nil {
			return nil, err
		}
	}
	if err := h.WriteSnapshot(s); err != nil {
		return nil, err
	}
	return s, nil
}

// DeleteSnapshot removes snapshot name and the pinned files no other
// snapshot names (*history.SnapshotNotFoundError when there is none).
func (r *Repo) DeleteSnapshot(ctx context.Context, name, command string) error {
	if err := history.CheckSnapshotName(name); err != nil {
		return err
	}
	l, err := r.lock(ctx, command)
	if err != nil {
		return err
	}
	defer l.release()
	h := r.History()
	return h.DeleteSnapshot(name, func(s *history.Snapshot) ([]history.Package, error) {
		return history.SnapshotPackages(ctx, h, s)
	})
}

// SnapshotFile is the path of a snapshot's package file (or its .sig):
// its pinned copy. fs.ErrNotExist when the snapshot has no such file.
func (r *Repo) SnapshotFile(ctx context.Context, s *history.Snapshot, name string) (string, error) {
	pkgs, err := history.SnapshotPackages(ctx, r.History(), s)
	if err != nil {
		return "", err
	}
	base, sig := name, false
	if b, ok := cutSig(name); ok {
		base, sig = b, true
	}
	for _, p := range pkgs {
		if p.File == base {
			path := r.History().PinnedPath(p)
			if sig {
				path += ".sig"
			}
			return path, nil
		}
	}
	return "", fs.ErrNotExist
}

func cutSig(name string) (string, bool) {
	if len(name) > 4 && name[len(name)-4:] == ".sig" {
		return name[:len(name)-4], true
	}
	return "", false
}

// placesOutside are the paths outside the directory where the files of
// need (by file name) may be: the backup directory under their name, and
// where the history says a retirement moved each (with the same content).
func (r *Repo) placesOutside(ctx context.Context, need map[string]history.Package) (map[string][]string, error) {
	places := map[string][]string{}
	if r.opts.BackupDir != "" {
		for f := range need {
			places[f] = append(places[f], filepath.Join(r.opts.BackupDir, f))
		}
	}
	gens, err := r.History().Generations(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range gens {
		rec, err := r.History().Record(ctx, g)
		if err != nil {
			continue // a record that cannot be read only names fewer places
		}
		for _, rt := range rec.Retired {
			if t, ok := need[rt.File]; ok && rt.To != "" && rt.SHA256 == t.SHA256 && filepath.IsAbs(rt.To) {
				places[rt.File] = append(places[rt.File], rt.To)
			}
		}
	}
	return places, nil
}
