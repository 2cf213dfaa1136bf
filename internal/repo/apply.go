package repo

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
)

// addedFile is an argument of add, read and verified before the lock.
type addedFile struct {
	src       string        // absolute source path, as given
	content   string        // the file src resolves to (src itself unless a link)
	srcIsLink bool          // src is a symbolic link: its content is copied, never hard-linked
	srcID     fsutil.FileID // identity of content when it was read
	file      verifiedFile  // Filename is the final base name; pkg is set
	sig       bool          // a signature travels with it
	sigBytes  []byte        // the signature, binary (read from src + ".sig", or made by the package signer)
	sigSHA    string        // SHA-256 of sigBytes
	// signedHere: pacrepo signed the package; src has no .sig to move.
	signedHere bool
	place      bool // must be brought into the directory
}

// txn is a planned transaction.
type txn struct {
	command string
	plan    *Plan
	snap    *scanResult
	db      *dbContent
	added   map[string]*addedFile // by final base name
	places  []*addedFile          // the added files to place, in plan order
	mode    AddMode
	// rewrite writes the databases even when the plan changes no entry:
	// reset creates a missing database and rebuilds an unreadable one.
	rewrite bool
	// embedSigs writes %PGPSIG% for the entries registered (Request).
	embedSigs bool
}

// decideFunc plans a transaction from a fresh scan made under the lock.
type decideFunc func(s *scanResult, db *dbContent) (*txn, error)

// transact runs the read-decide-act cycle: without the lock for a dry run,
// otherwise under the lock, after finishing any interrupted transaction.
func (r *Repo) transact(ctx context.Context, command string, req Request, so scanOptions, decide decideFunc) (*Result, error) {
	if req.DryRun {
		s, db, err := r.scan(ctx, so)
		if err != nil && !(so.ignoreBadDB && s != nil) {
			return nil, err
		}
		t, derr := decide(s, db)
		if t != nil {
			r.planDisposals(t.plan)
		}
		if derr == nil && t != nil {
			if derr = r.planSigning(ctx, t); derr != nil {
				return resultOf(t), derr
			}
		}
		if derr != nil {
			return resultOf(t), derr
		}
		res := resultOf(t)
		res.IgnoredDB = err
		// What the change would leave unmet, whether installable warns or
		// refuses: a dry run shows it.
		if res.Unsatisfiable, derr = r.judgeChange(ctx, t); derr != nil {
			return res, fmt.Errorf("judge the change's dependencies: %w", derr)
		}
		return res, nil
	}
	l, err := r.lock(ctx, command)
	if err != nil {
		return nil, err
	}
	defer l.release()
	crashPoint("after-lock")
	recovered, rerr := r.recoverJournal()
	if rerr != nil {
		var dbErr *DBUnreadableError
		if !(so.ignoreBadDB && errors.As(rerr, &dbErr)) {
			return nil, rerr
		}
	}
	s, db, err := r.scan(ctx, so)
	if err != nil && !(so.ignoreBadDB && s != nil) {
		return nil, err
	}
	ignored := err
	if err := sharedDirectory(s); err != nil {
		// Before anything is touched: the temporaries found may be the
		// other repository's writer's.
		return nil, err
	}
	r.removeLeftovers(s.leftovers)
	if req.VerifyDatabase && !db.missing && ignored == nil {
		if err := r.verifyDatabase(); err != nil {
			return nil, err
		}
	}
	t, err := decide(s, db)
	if t != nil {
		r.planDisposals(t.plan)
	}
	if err == nil && t != nil {
		err = r.planSigning(ctx, t)
	}
	if err != nil {
		res := resultOf(t)
		if res != nil {
			res.Recovered = recovered
		}
		return res, err
	}
	if changes(t.plan) || t.rewrite {
		if err := r.keepsDatabaseSignature(req); err != nil {
			return resultOf(t), err
		}
	}
	unsatisfiable, err := r.judgeChange(ctx, t)
	if err != nil {
		return resultOf(t), fmt.Errorf("judge the change's dependencies: %w", err)
	}
	if len(unsatisfiable) > 0 && r.opts.Installable == "refuse" {
		res := resultOf(t)
		res.Recovered = recovered
		return res, &UnsatisfiableError{Problems: unsatisfiable}
	}
	res, err := r.execute(ctx, t)
	if res != nil {
		res.Recovered, res.IgnoredDB = recovered, ignored
		res.Unsatisfiable = unsatisfiable
	}
	if err == nil && ignored != nil {
		// reset over an unreadable database: a journal that could not be
		// recovered is obsolete now that the database is rebuilt.
		r.clearJournal()
	}
	return res, err
}

// removeLeftovers removes temporary files that processes holding the lock
// left when they died; we hold the lock, so none of them is in use.
func (r *Repo) removeLeftovers(names []string) {
	for _, n := range names {
		os.Remove(filepath.Join(r.dir(), n))
	}
}

func resultOf(t *txn) *Result {
	if t == nil {
		return nil
	}
	created := t.snap != nil && t.snap.dbMissing && (t.rewrite || t.plan != nil && changes(t.plan))
	return &Result{Plan: t.plan, Created: created}
}

// planDisposals says in a plan what retiring each file will do; applying
// the plan replaces it with what was done.
func (r *Repo) planDisposals(p *Plan) {
	if p == nil {
		return
	}
	for i := range p.Actions {
		if a := &p.Actions[i]; a.Kind == ActRetire {
			a.Disposal = r.disposal()
			if a.Disposal == DisposalMove {
				a.DisposedTo = r.opts.BackupDir
			}
		}
	}
}

// changes reports whether a plan does anything (a skip does nothing).
func changes(p *Plan) bool {
	return slices.ContainsFunc(p.Actions, func(a Action) bool { return a.Kind != ActSkip })
}

// execute applies t.plan in four phases: prepare the new entries and the
// journal, verify that the files read are unchanged, commit (journal,
// placements, databases) and finish (retire, prune, clear the journal).
func (r *Repo) execute(ctx context.Context, t *txn) (*Result, error) {
	res := resultOf(t)
	if !changes(t.plan) && !t.rewrite {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	c, err := r.prepare(t)
	if err != nil {
		return res, err
	}
	if err := r.verifyUnchanged(t, c.registered); err != nil {
		return res, err
	}
	if err := r.commit(t, c); err != nil {
		return res, err
	}
	res.Applied = true
	pruned, err := r.finish(c)
	t.plan.Actions = append(t.plan.Actions, pruned...)
	if err != nil {
		return res, fmt.Errorf("database updated, but: %w", err)
	}
	return res, nil
}

// change is what execute's phases pass on.
type change struct {
	// keys are the registered entries before the change.
	keys []repodb.Key
	// upserts and removed are what changes: the entries registered (in
	// full) and the names dropped.
	upserts map[string]*repodb.Entry
	removed map[string]bool
	// entries is the whole new database, by name, when it is written whole
	// (the databases were read, not their index); they point into the
	// scan's entries.
	entries       map[string]*repodb.Entry
	dbChanged     bool
	journal       *journal
	registered    []*verifiedFile
	retireActions []*Action // the plan's action of each journal.Retire
	retiredNames  map[string]bool
	// firstGeneration says the repository has no history yet; databases
	// are the databases written, as kept in the history.
	firstGeneration bool
	databases       []history.Database
}

// plannedFiles are the files a plan of t may name, by file name: the
// directory's, those kept in place (a kept file registered again) and the
// ones the change places.
func (t *txn) plannedFiles() map[string]*verifiedFile {
	files := map[string]*verifiedFile{}
	for i := range t.snap.kept {
		files[t.snap.kept[i].Filename] = &t.snap.kept[i]
	}
	for i := range t.snap.files {
		files[t.snap.files[i].Filename] = &t.snap.files[i]
	}
	for name, a := range t.added {
		files[name] = &a.file
	}
	return files
}

// prepare builds the new entries and the journal of t.plan.
func (r *Repo) prepare(t *txn) (*change, error) {
	dir := r.dir()
	files := t.plannedFiles()
	c := &change{keys: t.db.keys, upserts: map[string]*repodb.Entry{}, removed: map[string]bool{},
		dbChanged: t.rewrite, retiredNames: map[string]bool{},
		journal: &journal{Version: 1, Command: t.command, PID: os.Getpid(), Started: time.Now().UTC()}}
	if t.db.index == nil {
		c.entries = make(map[string]*repodb.Entry, len(t.db.entries))
		for i := range t.db.entries {
			e := &t.db.entries[i]
			if l, ok := t.db.fileLists[e.Name]; ok {
				e.Files = l
			}
			c.entries[e.Name] = e
		}
	}
	j := c.journal
	for i := range t.plan.Actions {
		a := &t.plan.Actions[i]
		switch {
		case isRegister(a.Kind):
			f := files[a.File]
			if f == nil {
				return nil, fmt.Errorf("internal error: %s is not a verified file", a.File)
			}
			e, err := r.entryOf(t, f)
			if err != nil {
				return nil, err
			}
			c.upserts[a.Name] = &e
			if c.entries != nil {
				c.entries[a.Name] = &e
			}
			delete(c.removed, a.Name)
			j.After = append(j.After, journalEntry{Name: a.Name, Filename: f.Filename, SHA256: f.SHA256})
			c.registered = append(c.registered, f)
			c.dbChanged = true
		case a.Kind == ActUnregister:
			delete(c.entries, a.Name) // (a no-op on a nil map)
			delete(c.upserts, a.Name)
			c.removed[a.Name] = true
			j.Unregister = append(j.Unregister, a.Name)
			c.dbChanged = true
		case a.Kind == ActRetire:
			f := files[a.File]
			if f == nil {
				return nil, fmt.Errorf("internal error: %s is not a verified file", a.File)
			}
			j.Retire = append(j.Retire, journalRetire{File: f.Filename, Size: f.CSize, MTimeNS: f.ModTime,
				Name: f.Name, Version: f.Version, SHA256: f.SHA256})
			c.retireActions = append(c.retireActions, a)
			c.retiredNames[a.Name] = true
		}
	}
	// Over the index, the file lists stay in the files database, which the
	// write copies or reads.
	if c.entries != nil && r.fillFileLists(c.entries, t.db.fileLists) {
		c.dbChanged = true
	}
	// Placements are recorded before anything exists.
	for _, ad := range t.places {
		p := journalPlace{Final: ad.file.Filename, Temp: filepath.Base(fsutil.TempPath(dir, ad.file.Filename)),
			SHA256: ad.file.SHA256, Size: ad.file.CSize}
		if t.mode == Link {
			p.Link = ad.src
		}
		if ad.sig {
			p.SigFinal = ad.file.Filename + ".sig"
			p.SigTemp = filepath.Base(fsutil.TempPath(dir, p.SigFinal))
			p.SigSHA256 = ad.sigSHA
		}
		j.Places = append(j.Places, p)
		if t.mode == Move {
			j.Sources = append(j.Sources, journalSource{Path: ad.src, Size: ad.file.CSize, Sig: ad.sig && !ad.signedHere})
		}
	}
	var err error
	if j.History, c.firstGeneration, err = r.planGeneration(t, c); err != nil {
		return nil, err
	}
	return c, nil
}

// entryOf is the database entry of the verified file f, read again when
// it was trusted from the verification cache.
func (r *Repo) entryOf(t *txn, f *verifiedFile) (repodb.Entry, error) {
	if f.entry == nil {
		got, prob := readPackage(filepath.Join(r.dir(), f.Filename))
		if prob != nil {
			return repodb.Entry{}, fmt.Errorf("%s: %s: %v", prob.Path, prob.Kind, prob.Err)
		}
		if got.SHA256 != f.SHA256 {
			return repodb.Entry{}, fmt.Errorf("%s changed while the command ran", f.Filename)
		}
		// The signature was judged by scan: keep what it found.
		got.HasSig, got.SigField, got.sigSHA256 = f.HasSig, f.SigField, f.sigSHA256
		*f = got
	}
	e := *f.entry
	e.Filename = f.Filename
	// An entry embeds its signature only when this command is asked to, as
	// with repo-add; unchanged entries keep theirs. Only a good signature
	// (judged by scan, or by add) is ever embedded.
	if t.embedSigs {
		e.PGPSig = f.SigField
		if ad := t.added[f.Filename]; ad != nil && ad.sig {
			e.PGPSig = base64.StdEncoding.EncodeToString(ad.sigBytes)
		}
	}
	return e, nil
}

// verifyUnchanged: a file registered from the directory must still be the
// file read.
func (r *Repo) verifyUnchanged(t *txn, registered []*verifiedFile) error {
	for _, f := range registered {
		if ad := t.added[f.Filename]; ad != nil && ad.place {
			continue
		}
		id, err := fsutil.StatID(filepath.Join(r.dir(), f.Filename))
		if err != nil || id.Size != f.CSize || id.MTimeNS != f.ModTime {
			return fmt.Errorf("%s changed while the command ran; nothing was changed, run it again", f.Filename)
		}
	}
	return nil
}

// commit writes the journal, places the new files and writes the
// databases. On failure the journal undoes what was done.
func (r *Repo) commit(t *txn, c *change) error {
	if err := r.writeJournal(c.journal); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	crashPoint("after-journal")
	fail := func(err error) error {
		if _, rerr := r.recoverJournal(); rerr != nil {
			return fmt.Errorf("%w (and undoing it failed: %v; run check --repair)", err, rerr)
		}
		return err
	}
	for i, ad := range t.places {
		if err := r.place(c.journal.Places[i], ad, t.mode, i == 0); err != nil {
			return fail(err)
		}
	}
	if len(t.places) > 0 {
		if err := fsutil.SyncDir(r.dir()); err != nil {
			return fail(err)
		}
	}
	crashPoint("after-place")
	if c.dbChanged {
		if c.firstGeneration && !t.db.missing {
			// Best effort: a database that cannot be kept (unreadable,
			// its files database missing) leaves the history to start
			// with this change.
			r.recordGenerationZero()
		}
		if err := r.writeLinks(c); err != nil {
			return fail(fmt.Errorf("write links database: %w", err))
		}
		crashPoint("after-links")
		if err := r.writeDatabases(t.db, c); err != nil {
			return fail(fmt.Errorf("write database: %w", err))
		}
	}
	crashPoint("after-db")
	return nil
}

// registeredFiles are the file names the database registers after c, of
// the given package names (nil: of every name).
func (c *change) registeredFiles(names map[string]bool) map[string]bool {
	files := map[string]bool{}
	for _, k := range c.keys {
		if !c.removed[k.Name] && c.upserts[k.Name] == nil && (names == nil || names[k.Name]) {
			files[k.Filename] = true
		}
	}
	for _, e := range c.upserts {
		if names == nil || names[e.Name] {
			files[e.Filename] = true
		}
	}
	return files
}

// fillFileLists gives each entry without a file list the one the files
// database has for it, or else the one of its package file, verified (no
// files database yet, or one that disagrees). It tells whether it read a
// package for that: the files database must then be written.
func (r *Repo) fillFileLists(entries map[string]*repodb.Entry, fileLists map[string][]string) (readPackages bool) {
	for name, e := range entries {
		if e.HasFileList() {
			continue
		}
		if l, ok := fileLists[name]; ok {
			e.Files = l
			continue
		}
		if got, prob := readPackage(filepath.Join(r.dir(), e.Filename)); prob == nil && got.SHA256 == e.SHA256Sum {
			e.Files = got.entry.FileList()
			if e.Files == nil {
				e.Files = []string{}
			}
			readPackages = true
		}
	}
	return readPackages
}

// writeDatabases writes the databases of change c. Over databases its
// index describes, only the chunks the change touches are written anew;
// when that cannot be done, the databases are read whole and written
// whole, as when there is no index.
func (r *Repo) writeDatabases(db *dbContent, c *change) error {
	entries := c.entries
	wo := r.writeOptions()
	wo.Keep = r.keepWritten(c)
	if db.index != nil {
		var upserts []repodb.Entry
		for _, e := range c.upserts {
			upserts = append(upserts, *e)
		}
		removed := slices.Collect(maps.Keys(c.removed))
		err := repodb.WriteChanges(r.opts.DB, db.index, upserts, removed, wo)
		if !errors.Is(err, repodb.ErrNotIncremental) {
			return err
		}
		full, err := r.readDB(false)
		if err != nil {
			return err
		}
		entries = map[string]*repodb.Entry{}
		for i := range full.entries {
			if e := &full.entries[i]; !c.removed[e.Name] {
				entries[e.Name] = e
			}
		}
		maps.Copy(entries, c.upserts)
		r.fillFileLists(entries, full.fileLists)
	}
	list := make([]repodb.Entry, 0, len(entries))
	for _, e := range entries {
		list = append(list, *e)
	}
	slices.SortFunc(list, func(a, b repodb.Entry) int { return cmp.Compare(a.Name, b.Name) })
	c.databases = nil // an incremental write that gave up kept none it installs
	return repodb.Write(r.opts.DB, list, wo)
}

// finish retires what the committed database no longer references, removes
// moved sources, prunes backups and clears the journal. It returns what it
// pruned; its errors leave the database as committed.
func (r *Repo) finish(c *change) (pruned []Action, _ error) {
	var errs []error
	kept, err := r.loadKept()
	if err != nil {
		errs = append(errs, err)
		kept = nil // retire nothing: a kept file would not be recorded
	}
	// Retiring and pruning spare what the committed database registers
	// (prune.go); only the retired names' files can be what those files are.
	var guard *registeredGuard
	if len(c.retiredNames) > 0 {
		if guard, err = r.newRegisteredGuard(c.registeredFiles(c.retiredNames)); err != nil {
			errs = append(errs, fmt.Errorf("retire nothing: %w", err))
		}
	}
	for i, rt := range c.journal.Retire {
		a := c.retireActions[i]
		if kept == nil || guard == nil {
			a.Disposal = DisposalLeft
			continue
		}
		if dest, err := r.retireIfUnchanged(rt, kept, guard); err != nil {
			errs = append(errs, err)
			a.Disposal = DisposalLeft
		} else {
			a.Disposal, a.DisposedTo = r.disposal(), dest
		}
		if i == 0 {
			crashPoint("mid-retire")
		}
	}
	var pending *int64
	if h := c.journal.History; h != nil {
		pending = &h.Generation
	}
	rt := r.newRetention(pending)
	if kept != nil {
		if guard != nil {
			acts, err := r.pruneKept(context.Background(), kept, c.retiredNames, guard, rt, false)
			pruned = append(pruned, acts...)
			if err != nil {
				errs = append(errs, fmt.Errorf("prune files kept in place: %w", err))
			}
		}
		var regFiles map[string]bool
		if len(kept.Files) > 0 {
			regFiles = c.registeredFiles(nil)
		}
		if err := r.saveKept(kept, regFiles); err != nil {
			errs = append(errs, fmt.Errorf("record files kept in place: %w", err))
		}
	}
	for _, s := range c.journal.Sources {
		removeSource(s)
	}
	if len(c.journal.Retire) > 0 {
		if err := fsutil.SyncDir(r.dir()); err != nil {
			errs = append(errs, err)
		}
	}
	if guard != nil {
		acts, err := r.pruneBackups(context.Background(), c.retiredNames, guard, rt, false)
		pruned = append(pruned, acts...)
		if err != nil {
			errs = append(errs, fmt.Errorf("prune backups: %w", err))
		}
	}
	crashPoint("before-record")
	if h := c.journal.History; h != nil {
		for i, a := range c.retireActions {
			h.Change.Retired[i].Disposal, h.Change.Retired[i].To = string(a.Disposal), a.DisposedTo
		}
		if err := r.writeGeneration(h, c.databases); err != nil {
			// The journal stays: the next command (or check --repair)
			// writes the record.
			return pruned, errors.Join(append(errs, fmt.Errorf("record generation %d: %w", h.Generation, err))...)
		}
	}
	crashPoint("before-journal-clear")
	if err := r.clearJournal(); err != nil {
		errs = append(errs, fmt.Errorf("clear journal: %w", err))
	}
	r.rememberVerified(c.registered)
	return pruned, errors.Join(errs...)
}

// place brings one added file into the directory under its temporary name,
// verifies it, and renames it (signature first) to its final name without
// ever replacing an existing file.
func (r *Repo) place(p journalPlace, ad *addedFile, mode AddMode, first bool) error {
	dir := r.dir()
	tmp, final := filepath.Join(dir, p.Temp), filepath.Join(dir, p.Final)
	// ctime is not compared: a hard link to the source (a Move, or its
	// rollback) changes it without changing the content. content is the
	// path links resolved to when it was read: a link now (Lstat) is a
	// change, which would otherwise be hard-linked into the directory as a
	// link.
	fi, err := os.Lstat(ad.content)
	if err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%s changed since it was read; nothing was added", ad.src)
	}
	if id := fsutil.IDOf(fi); id.Size != ad.srcID.Size || id.MTimeNS != ad.srcID.MTimeNS ||
		id.Inode != ad.srcID.Inode || id.Dev != ad.srcID.Dev {
		return fmt.Errorf("%s changed since it was read; nothing was added", ad.src)
	}
	if p.SigTemp != "" {
		// The signature read and judged (binary, even if the source's was
		// armored), not whatever SRC.sig holds now.
		if err := fsutil.WriteNew(filepath.Join(dir, p.SigTemp), ad.sigBytes, 0o644); err != nil {
			return fmt.Errorf("place %s: %w", p.SigFinal, err)
		}
	}
	switch mode {
	case Link:
		if err := os.Symlink(ad.src, tmp); err != nil {
			return fmt.Errorf("link %s: %w", ad.src, err)
		}
	default:
		linked := false
		if mode == Move && !ad.srcIsLink {
			// Same file system: a hard link is the move's first half; the
			// source is removed once the database is on disk. A symbolic
			// link's target is not the user's to move: it is copied, and
			// only the link is removed.
			linked = os.Link(ad.content, tmp) == nil
		}
		if !linked {
			sha, n, err := fsutil.CopyFile(ad.content, tmp, 0o644)
			if err != nil {
				return err
			}
			if sha != p.SHA256 || n != p.Size {
				return fmt.Errorf("%s changed since it was read; nothing was added", ad.src)
			}
		}
	}
	if first {
		crashPoint("mid-place")
	}
	if p.SigTemp != "" {
		if err := fsutil.RenameNoReplace(filepath.Join(dir, p.SigTemp), filepath.Join(dir, p.SigFinal)); err != nil {
			return fmt.Errorf("place %s: %w", p.SigFinal, err)
		}
		if first {
			crashPoint("mid-place-sig")
		}
	}
	if err := fsutil.RenameNoReplace(tmp, final); err != nil {
		return fmt.Errorf("place %s: %w", p.Final, err)
	}
	// A copy has its own mtime: remember it, so that rememberVerified can
	// tell the placed file from one put in its place afterwards.
	if id, err := fsutil.StatID(final); err == nil {
		ad.file.ModTime = id.MTimeNS
	}
	return nil
}

// rememberVerified records registered files in the verification cache. A
// file whose size or mtime is no longer the verified one was replaced
// meanwhile: recording its identity with the verified SHA-256 would let
// the next status trust a hash that is not its own.
func (r *Repo) rememberVerified(files []*verifiedFile) {
	if len(files) == 0 {
		return
	}
	names := map[string]bool{}
	for _, f := range files {
		names[f.Filename] = true
	}
	c := r.loadCache(func(filename string) bool { return names[filename] })
	for _, f := range files {
		id, err := fsutil.StatID(filepath.Join(r.dir(), f.Filename))
		if err != nil || id.Size != f.CSize || id.MTimeNS != f.ModTime {
			continue
		}
		libs := f.libs
		if old, ok := c.Files[f.Filename]; ok && libs == nil && old.SHA256 == f.SHA256 {
			libs = old.Libs
		}
		c.Files[f.Filename] = cacheRecord{ID: id, SHA256: f.SHA256, Libs: libs}
	}
	r.saveCache(c)
}

// syncFilesDB makes the files database list exactly the entries of the
// package database (after a crash between the two renames, or when check
// finds them disagreeing). File lists come from the files database where it
// agrees, otherwise from the package files, verified.
func (r *Repo) syncFilesDB() error {
	loc := r.opts.DB
	entries, err := repodb.Read(loc.DBPath(), repodb.ReadOptions{})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && repodb.KindOf(err) == 0 {
			return nil
		}
		return &DBUnreadableError{Path: loc.DBPath(), Err: err}
	}
	if agree, _ := r.filesDBAgrees(entries); agree {
		return nil
	}
	lists := map[string][]string{}
	if fe, err := repodb.Read(loc.FilesPath(), repodb.ReadOptions{Files: true}); err == nil {
		for _, f := range fe {
			lists[f.Filename+"|"+f.SHA256Sum] = f.Files
		}
	}
	for i := range entries {
		e := &entries[i]
		if l, ok := lists[e.Filename+"|"+e.SHA256Sum]; ok && l != nil {
			e.Files = l
			continue
		}
		if got, prob := readPackage(filepath.Join(r.dir(), e.Filename)); prob == nil && got.SHA256 == e.SHA256Sum {
			e.Files = got.entry.FileList()
		}
	}
	// Both databases are written again: unsigned, that would drop the
	// signature of a signed one.
	if err := r.keepsDatabaseSignature(Request{}); err != nil {
		return err
	}
	if err := repodb.Write(loc, entries, r.writeOptions()); err != nil {
		return fmt.Errorf("rewrite the files database: %w", err)
	}
	return nil
}

// filesDBAgrees compares the files database with the package database
// entries (name, file name, version, SHA-256).
func (r *Repo) filesDBAgrees(entries []repodb.Entry) (bool, string) {
	fe, err := repodb.Read(r.opts.DB.FilesPath(), repodb.ReadOptions{Files: true})
	if err != nil {
		return false, err.Error()
	}
	key := func(e repodb.Entry) string {
		return e.Name + " " + e.Version + " " + e.Filename + " " + e.SHA256Sum
	}
	a := map[string]bool{}
	for _, e := range entries {
		a[key(e)] = true
	}
	if len(fe) != len(entries) {
		return false, fmt.Sprintf("%d entries in the files database, %d in the package database", len(fe), len(entries))
	}
	for _, e := range fe {
		if !a[key(e)] {
			return false, fmt.Sprintf("%s %s differs from the package database", e.Name, e.Version)
		}
	}
	return true, ""
}

// writeOptions are how the databases are written: entries keep what they
// embed, and with a database signer the databases are signed together with
// their write.
func (r *Repo) writeOptions() repodb.WriteOptions {
	o := repodb.WriteOptions{PGPSig: true}
	if r.opts.DatabaseSigner != nil {
		o.Sign = func(path string) ([]byte, error) { return r.opts.DatabaseSigner.Sign(context.Background(), path) }
	}
	return o
}

// planSigning adds the sign action (PlanSigning) when the databases are to
// be signed (DatabaseSigner) and the current database's signature is
// missing or not made by the signing key.
func (r *Repo) planSigning(ctx context.Context, t *txn) error {
	if r.opts.DatabaseSigner == nil || t.plan == nil || t.snap == nil || t.snap.dbMissing || changes(t.plan) {
		return nil
	}
	db := r.opts.DB.DBPath()
	reason := ""
	sig, err := signature.ReadFile(db + ".sig")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		reason = NotSigned
	case signature.KindOf(err) == signature.Malformed:
		reason = "its signature is malformed"
	case err != nil:
		return err
	default:
		// A signer that cannot tell who made a signature re-signs only a
		// database without one.
		if m, ok := r.opts.DatabaseSigner.(interface {
			Made(context.Context, []byte) (bool, error)
		}); ok {
			made, err := m.Made(ctx, sig)
			if err != nil {
				return fmt.Errorf("%s.sig: %w", db, err)
			}
			if !made {
				reason = "signed by another key than " + r.opts.DatabaseSigner.Key()
			}
		}
	}
	if reason != "" && PlanSigning(t.plan, filepath.Base(db), reason) {
		t.rewrite = true
	}
	return nil
}

// keepsDatabaseSignature refuses a write of a signed database without a
// signer, unless req drops the signature on purpose: repodb.Write removes
// the signature and its link of a database it writes unsigned.
func (r *Repo) keepsDatabaseSignature(req Request) error {
	if r.opts.DatabaseSigner != nil || req.UnsignDatabase {
		return nil
	}
	db := r.opts.DB.DBPath()
	if _, err := os.Lstat(db + ".sig"); err == nil {
		return &UnsignedDatabaseError{Path: db}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stat %s: %w", db+".sig", err)
	}
	return nil
}

// verifyDatabase checks the current database's signature against the
// keyring before a change (repo-add's --verify): a database whose signature
// is missing or does not verify is changed no further.
func (r *Repo) verifyDatabase() error {
	if r.opts.Keyring == nil {
		return errors.New("verifying the database's signature needs a keyring (keyring in the profile, or --keyring)")
	}
	db := r.opts.DB.DBPath()
	sig, err := signature.ReadFile(db + ".sig")
	if errors.Is(err, fs.ErrNotExist) {
		return &signature.Error{Path: db + ".sig", Kind: signature.Missing}
	}
	if err != nil {
		return err
	}
	f, err := fsutil.OpenRegular(db)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = r.opts.Keyring.Verify(f, sig, db+".sig")
	return err
}
