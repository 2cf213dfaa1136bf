package s3repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// GCResult is what gc deleted (or, in a dry run, would delete) and what
// it kept for the grace period.
type GCResult struct {
	Deleted []string // keys
	// Young are unreferenced objects still within the grace period: an
	// upload not committed yet, or files a mirror may still need.
	Young []string
}

// GC deletes the package objects and database generations that no retained
// generation (history.Retention) and no snapshot references and that are
// older than the grace period: files the commits
// retired (a mirror may serve an older database for the grace period) and
// orphans of killed publishers (an upload may be committed any moment
// within it). It never touches an object it does not recognise.
//
// A publisher may commit while gc runs, registering again a package gc
// found unreferenced (one retired long ago, published again): it touches
// such an object before its commit, and gc, after the plan, starts again
// when a commit happened and reads each object's time once more just
// before deleting it.
func (r *Repo) GC(ctx context.Context, dryRun bool) (*GCResult, error) {
	for range 5 {
		res, gen, err := r.planGC(ctx)
		if err != nil || dryRun {
			return res, err
		}
		if latest, err := r.readLatest(ctx); err != nil {
			return nil, err
		} else if latest.Generation != gen {
			continue // a commit since the plan: plan again
		}
		return r.deleteUnreferenced(ctx, res)
	}
	return nil, &GCOvertakenError{Addr: r.addr.String()}
}

// GCOvertakenError: commits kept landing while gc planned, each one
// making its plan stale, so it deleted nothing. Nothing is wrong; a later
// run, at a quieter moment, does the work.
type GCOvertakenError struct{ Addr string }

func (e *GCOvertakenError) Error() string {
	return fmt.Sprintf("gc of %s: commits kept coming while it planned; run it again", e.Addr)
}

// planGC finds what gc deletes, against the newest generation, which it
// returns.
func (r *Repo) planGC(ctx context.Context) (*GCResult, int64, error) {
	st, err := r.readWithoutFileLists(ctx)
	if err != nil {
		return nil, 0, err
	}
	if st.commit == nil {
		return nil, 0, &NoRepositoryError{Address: r.addr}
	}
	now := r.opts.Now()
	cutoff := now.Add(-r.opts.Grace)
	// A snapshot pins what it references until it is deleted.
	keep, err := r.snapshotKeys(ctx)
	if err != nil {
		return nil, 0, err
	}
	generation := func(db, files string) {
		for _, k := range []string{db, files} {
			keep[k], keep[k+".sig"] = true, true
		}
	}
	file := func(name string) {
		k := r.addr.key(name)
		keep[k], keep[k+".sig"] = true, true
	}
	generation(st.commit.DB, st.commit.Files)
	for _, k := range st.commit.sideObjects() {
		keep[k] = true
	}
	for _, e := range st.entries {
		file(e.Filename)
	}
	shown, err := r.shownFiles(ctx)
	if err != nil {
		return nil, 0, err
	}
	for _, f := range shown {
		file(f)
	}
	for _, s := range st.commit.Recent {
		if s.At.After(cutoff) {
			generation(s.DB, s.Files)
			for _, f := range s.Retired {
				file(f)
			}
		}
	}
	records, err := r.commitRecords(ctx)
	if err != nil {
		return nil, 0, err
	}
	retained, refs, side, err := r.retained(ctx, records, now)
	if err != nil {
		return nil, 0, err
	}
	for _, k := range side {
		keep[k] = true
	}
	for f := range refs.Files {
		file(f)
	}
	for _, rec := range refs.Records {
		for _, d := range rec.Databases {
			keep[d.Path], keep[d.Path+".sig"] = true, true
		}
	}
	objects, err := r.collectable(ctx)
	if err != nil {
		return nil, 0, err
	}
	res := &GCResult{}
	for _, o := range objects {
		switch {
		case keep[o.Key]:
		case !writtenBefore(o.Modified, cutoff):
			res.Young = append(res.Young, o.Key)
		default:
			res.Deleted = append(res.Deleted, o.Key)
		}
	}
	for _, rec := range prunable(records, cutoff, retained) {
		res.Deleted = append(res.Deleted, rec.Key)
	}
	return res, st.commit.Generation, nil
}

// shownFiles are the package files the databases under the names pacman
// reads name. They may show a generation older than the newest commit,
// for longer than the grace period: its publisher is still copying (on a
// loaded machine, seconds after its commit) or was killed before the
// copies. What they name is kept whatever its age, so that a client of
// the repository never meets a package that is gone.
func (r *Repo) shownFiles(ctx context.Context) ([]string, error) {
	tmp, err := os.MkdirTemp("", "pacrepo-s3-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var out []string
	_, db := r.addr.fixedNames()
	for i, key := range db {
		path := filepath.Join(tmp, fmt.Sprintf("%d.db", i))
		err := r.downloadTo(ctx, key, path)
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", r.addr.URL(key), err)
		}
		entries, err := repodb.Read(path, repodb.ReadOptions{})
		if err != nil {
			return nil, &DamagedError{URL: r.addr.URL(key), Err: err}
		}
		for _, e := range entries {
			out = append(out, e.Filename)
		}
	}
	return out, nil
}

// deleteUnreferenced deletes what planGC found, each object only when it
// is still older than the grace period (a publisher about to reference it
// again touches it).
func (r *Repo) deleteUnreferenced(ctx context.Context, plan *GCResult) (*GCResult, error) {
	cutoff := r.opts.Now().Add(-r.opts.Grace)
	res := &GCResult{Young: plan.Young}
	for _, k := range plan.Deleted {
		if strings.HasPrefix(k, r.addr.commitPrefix()) {
			// A pruned record keeps its key (prunedRecord).
			if err := r.bucket.Put(ctx, k, prunedRecord); err != nil {
				return res, err
			}
			res.Deleted = append(res.Deleted, k)
			continue
		}
		obj, err := r.bucket.Head(ctx, k)
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return res, err
		}
		if !writtenBefore(obj.Modified, cutoff) {
			res.Young = append(res.Young, k)
			continue
		}
		crashPoint("before-delete")
		// A package's .sig goes after the package (collectable's order): a
		// reader never finds a package whose signature is gone.
		if err := r.bucket.Delete(ctx, k); err != nil {
			return res, err
		}
		res.Deleted = append(res.Deleted, k)
		if len(res.Deleted) == 1 {
			crashPoint("mid-gc")
		}
	}
	return res, nil
}

// serverTimeResolution is how coarse the times a server gives its objects
// are: S3 states them to the second (Last-Modified is an HTTP date, and
// versitygw lists whole seconds too), the fraction cut off. An object
// may have been written almost a second after the time it shows.
const serverTimeResolution = time.Second

// writtenBefore tells whether an object whose server time is modified was
// certainly written before cutoff. Taking the time shown for the time
// written made gc collect objects up to a second younger than the grace
// period: with a short one, an upload a publisher had just checked was
// fresh enough to commit. An object without a time is young.
func writtenBefore(modified, cutoff time.Time) bool {
	return !modified.IsZero() && !modified.Add(serverTimeResolution).After(cutoff)
}

// retained are the generations the retention rule keeps (history.Retention,
// the rule of both stores, with the bucket's grace period) among records,
// and what they reference: their databases and package objects, and the
// keys of their links databases and libraries objects (side).
func (r *Repo) retained(ctx context.Context, records []listedRecord, now time.Time) (retained map[int64]bool, refs *history.References, side []string, err error) {
	var stamps []history.Stamp
	sideOf := map[int64][]string{}
	for _, rec := range records {
		if rec.obj.Size == int64(len(prunedRecord)) {
			continue
		}
		h, err := r.readCommit(ctx, rec.generation)
		if errors.Is(err, errPruned) || err == nil && h == nil {
			continue
		}
		if err != nil {
			return nil, nil, nil, err
		}
		stamps = append(stamps, history.Stamp{Generation: rec.generation, Time: h.Committed})
		sideOf[rec.generation] = h.sideObjects()
	}
	rule := r.opts.Retention
	rule.Grace = r.opts.Grace
	// A snapshot's generation stays whole: its record and databases too.
	pinned, err := history.PinnedGenerations(ctx, r.Snapshots())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("the generations snapshots pin: %w", err)
	}
	rule.Pinned = append(slices.Clone(rule.Pinned), pinned...)
	retained = rule.Retained(stamps, now)
	for g := range retained {
		side = append(side, sideOf[g]...)
	}
	refs, err = history.Referenced(ctx, r.History(), retained)
	return retained, refs, side, err
}

// prunable are the commit records superseded before cutoff, not retained
// and not pruned yet, oldest first (a reader whose hint names a pruned
// record lists the records instead). The newest record is never pruned.
func prunable(records []listedRecord, cutoff time.Time, retained map[int64]bool) []objstore.Object {
	var out []objstore.Object
	for i := 0; i+1 < len(records); i++ {
		// Generation g was superseded when g+1 was written.
		next := records[i+1]
		if next.generation != records[i].generation+1 || !writtenBefore(next.obj.Modified, cutoff) {
			break
		}
		if records[i].obj.Size != int64(len(prunedRecord)) && !retained[records[i].generation] {
			out = append(out, records[i].obj)
		}
	}
	return out
}

// collectable lists the objects gc may delete: package files and their
// signatures directly in the repository's prefix, and database
// generations. Packages come before signatures. A prefix that holds
// another repository is refused (*SharedPrefixError): nothing there can be
// told to be this repository's orphan.
func (r *Repo) collectable(ctx context.Context) ([]objstore.Object, error) {
	prefix := r.addr.key("")
	all, err := r.bucket.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	names := layout.Names{Repo: r.addr.Name}
	gen := r.addr.generationPrefix()
	var out []objstore.Object
	for _, o := range all {
		// Another repository's packages look like orphans of this one.
		if err := r.sharedBy(o.Key); err != nil {
			return nil, err
		}
		rest := strings.TrimPrefix(o.Key, prefix)
		switch {
		case strings.HasPrefix(o.Key, gen):
			out = append(out, o)
		case strings.Contains(rest, "/"):
		case names.Classify(rest) == layout.Package:
			out = append(out, o)
		case names.Classify(rest) == layout.Signature && names.Classify(strings.TrimSuffix(rest, ".sig")) == layout.Package:
			out = append(out, o)
		}
	}
	slices.SortStableFunc(out, func(a, b objstore.Object) int {
		return boolInt(strings.HasSuffix(a.Key, ".sig")) - boolInt(strings.HasSuffix(b.Key, ".sig"))
	})
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
