package repo

// gc applies the retention rule (prune.go, history.Retention) to the
// whole directory, as a bucket's gc does to its objects: retired package
// files (kept in place, or in the backup directory) no retained
// generation references and superseded before the grace period, the
// records of the generations retention lets go (never the newest: its
// number is the next one's base), and the history's databases no
// remaining record names (those of pruned generations, and leftovers of
// a crash before a commit). Under the lock, after recovery, like a
// change; a dry run takes no lock and deletes nothing.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/pacrepo/pacrepo/internal/history"
)

// GCResult is what gc deleted, or in a dry run would delete.
type GCResult struct {
	// Deleted are the paths, each package file before its signature.
	Deleted []string
	// Pruned are the retired package files among them.
	Pruned []Action
}

// GC deletes what the retention rule lets go.
func (r *Repo) GC(ctx context.Context, dryRun bool) (*GCResult, error) {
	if !dryRun {
		l, err := r.lock(ctx, "gc")
		if err != nil {
			return nil, err
		}
		defer l.release()
		if _, err := r.recoverJournal(); err != nil {
			return nil, err
		}
	}
	db, err := r.readDB(true)
	if err != nil {
		return nil, err
	}
	if err := r.requireDatabase(db); err != nil {
		return nil, err
	}
	registered := map[string]bool{}
	for _, k := range db.keys {
		registered[k.Filename] = true
	}
	guard, err := r.newRegisteredGuard(registered)
	if err != nil {
		return nil, err
	}
	kept, err := r.loadKept()
	if err != nil {
		return nil, err
	}
	rt := r.newRetention(nil)
	res := &GCResult{}
	acts, err := r.pruneKept(ctx, kept, nil, guard, rt, dryRun)
	res.Pruned = append(res.Pruned, acts...)
	if err == nil && !dryRun {
		err = r.saveKept(kept, registered)
	}
	if err == nil {
		acts, err = r.pruneBackups(ctx, nil, guard, rt, dryRun)
		res.Pruned = append(res.Pruned, acts...)
	}
	if err == nil {
		err = r.gcHistory(ctx, rt, dryRun)
	}
	res.Deleted = rt.deleted
	return res, err
}

// gcHistory deletes the records of the generations the retention does not
// keep, the newest excepted, then the databases no remaining record names.
func (r *Repo) gcHistory(ctx context.Context, rt *retention, dryRun bool) error {
	h := r.History()
	stamps, err := history.Stamps(ctx, h)
	if err != nil {
		return err
	}
	rule, err := r.retentionRule(ctx)
	if err != nil {
		return err
	}
	retained := rule.Retained(stamps, rt.now)
	named := map[string]bool{}
	for i, s := range stamps {
		if retained[s.Generation] || i == len(stamps)-1 {
			rec, err := h.Record(ctx, s.Generation)
			if err != nil {
				return err
			}
			for _, d := range rec.Databases {
				named[d.Path], named[d.Path+".sig"] = true, true
			}
			continue
		}
		path := h.RecordPath(s.Generation)
		if !dryRun {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("remove %s: %w", path, err)
			}
		}
		rt.deleted = append(rt.deleted, path)
	}
	files, err := h.DatabaseFiles()
	if err != nil {
		return err
	}
	slices.Sort(files)
	var errs []error
	removed := 0
	for _, f := range files {
		if named[f] {
			continue
		}
		path := filepath.Join(h.Root, filepath.FromSlash(f))
		if !dryRun {
			if err := os.Remove(path); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", path, err))
				continue
			}
		}
		rt.deleted = append(rt.deleted, path)
		removed++
	}
	if !dryRun && removed > 0 {
		errs = append(errs, h.Sync())
	}
	return errors.Join(errs...)
}
