package history

// Retention by reference, one rule for a directory and a bucket: a
// package file (object) is deleted only when no retained generation
// references it and it was superseded longer ago than the grace period.
// The stores only list, read and delete; what may go is decided here.
//
// A generation is retained when it is the newest, one of the newest
// KeepGenerations, made within KeepDays, pinned, or superseded within the
// grace period (it was the repository's present then, so a client may
// still hold its database). Everything a retained generation's database
// registers stays restorable. A file no retained generation references
// (retired before the history began, or whose generations were pruned)
// waits out the grace period from when it was superseded, or, when that
// is not known, from when it last changed.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Retention says which generations stay restorable and how long a file
// no retained generation references stays.
type Retention struct {
	// KeepGenerations is how many of the newest generations are
	// retained; below 1, the newest alone.
	KeepGenerations int
	// KeepDays retains every generation made within that many days (0:
	// none for its age).
	KeepDays int
	// Grace retains every generation superseded within it, and keeps a
	// file referenced by none until it was superseded longer ago.
	Grace time.Duration
	// Pinned generations are retained whatever their age (snapshots).
	Pinned []int64
}

// Stamp is a generation as retention sees it: its number and when it was
// made (which is when the one before it was superseded).
type Stamp struct {
	Generation int64
	Time       time.Time
}

// Retained are the generations of gens (oldest first) that stay
// restorable at now.
func (rt Retention) Retained(gens []Stamp, now time.Time) map[int64]bool {
	keep := map[int64]bool{}
	for _, g := range rt.Pinned {
		keep[g] = true
	}
	newest := max(rt.KeepGenerations, 1)
	graceCutoff := now.Add(-rt.Grace)
	daysCutoff := now.AddDate(0, 0, -rt.KeepDays)
	for i, g := range gens {
		switch {
		case i >= len(gens)-newest:
			keep[g.Generation] = true
		case rt.KeepDays > 0 && g.Time.After(daysCutoff):
			keep[g.Generation] = true
		case gens[i+1].Time.After(graceCutoff): // superseded within the grace period
			keep[g.Generation] = true
		}
	}
	return keep
}

// Collectable tells whether a file may be deleted at now: referenced says
// a retained generation references it (or the present registers it);
// since is when it was superseded, or last changed when that is not
// known.
func (rt Retention) Collectable(referenced bool, since, now time.Time) bool {
	return !referenced && !since.After(now.Add(-rt.Grace))
}

// Stamps reads the time of every generation of st that is not pruned,
// oldest first.
func Stamps(ctx context.Context, st Store) ([]Stamp, error) {
	gens, err := st.Generations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Stamp, 0, len(gens))
	for _, g := range gens {
		rec, err := st.Record(ctx, g)
		if errors.Is(err, ErrPruned) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Stamp{Generation: g, Time: rec.Time})
	}
	return out, nil
}

// References are the package files a set of generations references, by
// file name and by content (SHA-256): a file moved to a backup directory
// keeps its content, not always its name.
type References struct {
	Files    map[string]bool
	Contents map[string]bool
	// Records are the records read, by generation.
	Records map[int64]*Record
}

// Holds tells whether file (a base name) or content sha is referenced.
func (r *References) Holds(file, sha string) bool {
	return r.Files[file] || sha != "" && r.Contents[sha]
}

// Referenced reads what the generations gens of st reference. A
// generation without a record (a pin of a pruned one) references
// nothing; a database that cannot be read is an error, since what it
// references cannot be told.
func Referenced(ctx context.Context, st Store, gens map[int64]bool) (*References, error) {
	refs := &References{Files: map[string]bool{}, Contents: map[string]bool{}, Records: map[int64]*Record{}}
	var nf *NotFoundError
	read := map[string]bool{} // generations share the database of the same content
	for g := range gens {
		rec, err := st.Record(ctx, g)
		if errors.Is(err, ErrPruned) || errors.As(err, &nf) {
			continue
		}
		if err != nil {
			return nil, err
		}
		refs.Records[g] = rec
		if db, ok := rec.DB(); ok {
			if read[db.Path] {
				continue
			}
			read[db.Path] = true
		}
		pkgs, err := st.Packages(ctx, rec)
		if err != nil {
			return nil, err
		}
		for _, p := range pkgs {
			refs.Files[p.File] = true
			if p.SHA256 != "" {
				refs.Contents[p.SHA256] = true
			}
		}
	}
	return refs, nil
}

// DatabaseFiles are the paths of every database file (and signature) the
// history directory keeps, relative to its root as Database.Path has
// them.
func (d Dir) DatabaseFiles() ([]string, error) {
	dirents, err := os.ReadDir(filepath.Join(d.Root, genDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read history %s: %w", d.Root, err)
	}
	var out []string
	for _, e := range dirents {
		if e.Type().IsRegular() {
			out = append(out, genDir+"/"+e.Name())
		}
	}
	return out, nil
}
