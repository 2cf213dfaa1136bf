package s3repo

// A bucket's history is its commit records: each is a generation, with
// the history.Change of the commit and the databases it names
// (.pacrepo/NAME/gen/). gc prunes old records (their keys stay): such a
// generation is history.ErrPruned.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// changeOf is the history.Change of the commit of p on top of st, whose
// entries register the files of registeredFiles.
func (r *Repo) changeOf(st *state, p *planned, registeredFiles map[string]bool) history.Change {
	c := history.Who(r.opts.Command)
	before := map[string]*repodb.Entry{}
	for i := range st.entries {
		before[st.entries[i].Name] = &st.entries[i]
	}
	for _, e := range sortedEntries(p.upserts) {
		pkg := packageOf(e)
		if old := before[e.Name]; old != nil && old.Version != e.Version {
			pkg.From = old.Version
		}
		c.Registered = append(c.Registered, pkg)
	}
	for _, a := range p.plan.Actions {
		if e := before[a.Name]; a.Kind == repo.ActUnregister && e != nil {
			c.Unregistered = append(c.Unregistered, packageOf(e))
		}
	}
	// What the commit stops referencing stays in the bucket, kept for gc.
	retired := map[string]bool{}
	for i := range st.entries {
		if e := &st.entries[i]; !registeredFiles[e.Filename] {
			retired[e.Filename] = true
			c.Retired = append(c.Retired, history.Retired{Package: packageOf(e), Disposal: history.Kept})
		}
	}
	for _, k := range p.retired {
		if !retired[k.Filename] {
			c.Retired = append(c.Retired, history.Retired{Package: history.Package{Name: k.Name, Version: k.Version,
				File: k.Filename, Size: k.Size, SHA256: k.SHA256}, Disposal: history.Kept})
		}
	}
	return c
}

func packageOf(e *repodb.Entry) history.Package {
	return history.Package{Name: e.Name, Version: e.Version, File: e.Filename, Size: e.CSize, SHA256: e.SHA256Sum}
}

func sortedEntries(m map[string]*repodb.Entry) []*repodb.Entry {
	out := make([]*repodb.Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *repodb.Entry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// History is the bucket repository's history.
func (r *Repo) History() history.Store { return bucketHistory{r} }

type bucketHistory struct{ r *Repo }

func (b bucketHistory) Generations(ctx context.Context) ([]int64, error) {
	recs, err := b.r.commitRecords(ctx)
	if err != nil {
		return nil, err
	}
	gens := make([]int64, len(recs))
	for i, rec := range recs {
		gens[i] = rec.generation
	}
	return gens, nil
}

func (b bucketHistory) Record(ctx context.Context, g int64) (*history.Record, error) {
	h, err := b.r.readCommit(ctx, g)
	switch {
	case errors.Is(err, errPruned):
		return nil, history.ErrPruned
	case err != nil:
		return nil, err
	case h == nil:
		return nil, &history.NotFoundError{Generation: g}
	}
	return b.r.recordOf(h), nil
}

// recordOf is the history.Record of commit h.
func (r *Repo) recordOf(h *commit) *history.Record {
	rec := &history.Record{Version: history.RecordVersion, Generation: h.Generation, Time: h.Committed, Change: h.Change}
	for _, d := range []struct{ name, key, sum string }{
		{r.addr.Name + ".files" + r.addr.Ext, h.Files, h.FilesSHA},
		{r.addr.Name + ".db" + r.addr.Ext, h.DB, h.DBSHA256},
	} {
		rec.Databases = append(rec.Databases, history.Database{Name: d.name, Path: d.key, SHA256: d.sum, Signed: h.Signed})
	}
	return rec
}

func (b bucketHistory) Packages(ctx context.Context, rec *history.Record) ([]history.Package, error) {
	db, ok := rec.DB()
	if !ok {
		return nil, errors.New("the generation names no database")
	}
	tmp, err := os.MkdirTemp("", "pacrepo-s3-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, db.Name)
	if err := b.r.download(ctx, db.Path, db.SHA256, path); err != nil {
		return nil, err
	}
	return history.ReadPackages(path)
}

// Rollback makes a new generation whose packages are those of generation
// gen, planned by repo.PlanRollback against a scan of the bucket and
// committed like any change. The package objects gen needs are found
// where they are: registered, or kept for gc (their entries are gen's
// own, file lists included); when some are gone, nothing changes and the
// *repo.MissingFilesError names each.
func (r *Repo) Rollback(ctx context.Context, gen int64, req repo.Request) (*repo.Result, error) {
	rec, err := r.History().Record(ctx, gen)
	if err != nil {
		return nil, err
	}
	entries, err := r.generationEntries(ctx, rec)
	if err != nil {
		return nil, err
	}
	target := make([]history.Package, len(entries))
	for i := range entries {
		target[i] = packageOf(&entries[i])
	}
	// The libraries of gen's objects, as gen recorded them: an object
	// kept for gc is registered again without being read.
	var genLibs map[string]libraryRecord
	if h, err := r.readCommit(ctx, gen); err == nil {
		if genLibs, err = r.generationLibraries(ctx, h, newLibraryReads()); err != nil {
			return nil, err
		}
	}
	cache := readCache{}
	return r.change(ctx, req.DryRun, nil, func(st *state) (*planned, error) {
		bs, err := r.scanBucket(ctx, st, scanOptions{embedSigs: req.EmbedSignatures}, cache)
		if err != nil {
			return nil, err
		}
		// An object kept for gc has no entry of the scan's: it gets the
		// one the generation registered it with.
		for _, k := range bs.snap.Kept {
			for i := range entries {
				if e := &entries[i]; e.Filename == k.Filename && e.SHA256Sum == k.SHA256 && bs.entries[k.Filename] == nil {
					bs.entries[e.Filename] = e
					bs.files[e.Filename] = snapshotFile(e, bs.snap.Signatures[e.Filename+".sig"], "")
					if rec, ok := genLibs[e.Filename]; ok && rec.SHA256 == e.SHA256Sum {
						bs.libs[e.Filename] = rec.libraries()
					}
				}
			}
		}
		p, err := repo.PlanRollback(bs.snap, gen, target, nil, req.Force)
		return bs.planned(p), err
	})
}

// generationEntries are the entries of generation rec with their file
// lists, from its files database.
func (r *Repo) generationEntries(ctx context.Context, rec *history.Record) ([]repodb.Entry, error) {
	var files history.Database
	for _, d := range rec.Databases {
		if d.Files() {
			files = d
		}
	}
	if files.Path == "" {
		return nil, errors.New("the generation names no files database")
	}
	tmp, err := os.MkdirTemp("", "pacrepo-s3-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, files.Name)
	if err := r.download(ctx, files.Path, files.SHA256, path); err != nil {
		return nil, err
	}
	entries, err := repodb.Read(path, repodb.ReadOptions{Files: true})
	if err != nil {
		return nil, &DamagedError{URL: r.addr.URL(files.Path), Err: err}
	}
	return entries, nil
}
