package repo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// DBUnreadableError says an existing database cannot be read. Every command
// except Reset stops on it (invariant 5): an unreadable database is never
// "no packages".
type DBUnreadableError struct {
	Path string
	Err  error
}

func (e *DBUnreadableError) Error() string {
	return fmt.Sprintf("database %s cannot be read (only reset rebuilds it): %s", e.Path, e.Reason())
}

// Reason is why the database cannot be read, without its path.
func (e *DBUnreadableError) Reason() string { return reasonAbout(e.Path, e.Err) }

// reasonAbout is err's message for a message that names path already: the
// path is not repeated when err is about that very file.
func reasonAbout(path string, err error) string {
	var de *repodb.Error
	if errors.As(err, &de) && de.Path == path {
		return de.Reason()
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

func (e *DBUnreadableError) Unwrap() error { return e.Err }

// NoDatabaseError says a repository has no database: the commands that
// only look (status, list, check) refuse rather than report an empty,
// healthy repository when a disk is not mounted or --repo is mistyped.
// add, update and reset create the database.
type NoDatabaseError struct {
	Path       string // the database path
	DirMissing bool   // the repository directory does not exist either
}

func (e *NoDatabaseError) Error() string {
	if e.DirMissing {
		return fmt.Sprintf("repository directory %s does not exist (reset or add creates a repository)", filepath.Dir(e.Path))
	}
	return fmt.Sprintf("no database %s (reset or add creates it)", e.Path)
}

// requireDatabase returns a *NoDatabaseError when the database is missing.
func (r *Repo) requireDatabase(db *dbContent) error {
	if !db.missing {
		return nil
	}
	_, err := os.Stat(r.dir())
	return &NoDatabaseError{Path: r.opts.DB.DBPath(), DirMissing: errors.Is(err, fs.ErrNotExist)}
}

// ErrUnsigned is the reason of a Problem (kind Incomplete: the signature
// may still be coming) for a package file without its .sig when
// Options.RequireSignature is set, and of an add refused for that reason.
var ErrUnsigned = errors.New("no signature file (.sig) and signatures are required")

// dbContent is what the databases say.
type dbContent struct {
	// keys are the registered entries' key fields, in no particular order
	// (the index's own: not to be changed).
	keys []repodb.Key
	// entries are the entries in full (sorted by name) when the databases
	// were read; nil when the keys came from the index.
	entries   []repodb.Entry
	fileLists map[string][]string // name -> file list, only where the files db agrees with the db
	missing   bool                // no database: a new repository
	// index, when set, is where the keys came from: the entries and their
	// file lists stay in the databases.
	index *repodb.Index
}

// readDB reads both databases. A database that does not exist is a new
// repository, unless its .old exists: then someone removed it, and we refuse
// rather than rebuild a repository from nothing.
//
// With useIndex, the databases' index is used when it describes them (so
// nothing is parsed); callers that need every field of every entry, or
// judge the databases themselves (check, reset, recovery), read them.
func (r *Repo) readDB(useIndex bool) (*dbContent, error) {
	loc := r.opts.DB
	c := &dbContent{fileLists: map[string][]string{}}
	if useIndex {
		if ix := repodb.ReadIndex(loc); ix != nil {
			c.keys, c.index = ix.Keys(), ix
			return c, nil
		}
	}
	entries, err := repodb.Read(loc.DBPath(), repodb.ReadOptions{})
	switch {
	case errors.Is(err, fs.ErrNotExist) && repodb.KindOf(err) == 0:
		if _, oerr := os.Lstat(loc.DBPath() + ".old"); oerr == nil {
			return nil, &DBUnreadableError{Path: loc.DBPath(),
				Err: errors.New("it is missing but its .old exists (removed by hand?)")}
		}
		c.missing = true
		return c, nil
	case err != nil:
		return nil, &DBUnreadableError{Path: loc.DBPath(), Err: err}
	}
	c.entries = entries
	c.keys = make([]repodb.Key, len(entries))
	for i := range entries {
		c.keys[i] = repodb.KeyOf(&entries[i])
	}
	files, err := repodb.Read(loc.FilesPath(), repodb.ReadOptions{Files: true})
	switch {
	case errors.Is(err, fs.ErrNotExist) && repodb.KindOf(err) == 0:
		// file lists are rebuilt from the packages when written
	case err != nil:
		return nil, &DBUnreadableError{Path: loc.FilesPath(), Err: err}
	default:
		byName := map[string]*repodb.Entry{}
		for i := range entries {
			byName[entries[i].Name] = &entries[i]
		}
		for _, f := range files {
			if e := byName[f.Name]; e != nil && e.Filename == f.Filename && e.SHA256Sum == f.SHA256Sum && f.Files != nil {
				c.fileLists[f.Name] = f.Files
			}
		}
	}
	return c, nil
}

// scanOptions choose how much scan trusts.
type scanOptions struct {
	useIndex    bool // take the entries from the databases' index (not for check and reset)
	trustCache  bool // trust unchanged files verified before (not for check and reset)
	recordCache bool // record the files read completely (not for check without repair)
	ignoreBadDB bool // reset: an unreadable database is reported, not fatal
	embedSigs   bool // the command writes %PGPSIG%: read each package's signature
	// scope, when set, limits the scan to what a change of some names
	// concerns (nil: the whole repository).
	scope *scope
}

// scope is what a change of some package names concerns: their entries,
// and the package files of the directory that may be theirs. A change of
// one package in a repository of 100,000 then stats, hashes and plans
// over a handful of files, not every one. What it leaves out stays as it
// is: a file of the name that is named after another package is neither
// read nor retired by the change (the next update of everything retires
// it), which loses nothing.
type scope struct {
	names map[string]bool // package names
	files map[string]bool // more base names: add's destinations, the names' registered files
}

// newScope is the scope of names and of the file base names files.
func newScope(names, files []string) *scope {
	sc := &scope{names: map[string]bool{}, files: map[string]bool{}}
	for _, n := range names {
		sc.names[n] = true
	}
	for _, f := range files {
		sc.files[f] = true
	}
	return sc
}

// withRegistered is sc with the files keys register to its names (nil
// for nil): a scope for one scan, which the scan options' own is not (a
// change scans twice).
func (sc *scope) withRegistered(keys []repodb.Key) *scope {
	if sc == nil {
		return nil
	}
	out := &scope{names: sc.names, files: maps.Clone(sc.files)}
	for _, k := range keys {
		if sc.names[k.Name] {
			out.files[k.Filename] = true
		}
	}
	return out
}

// holds tells whether the package file filename may be of the scope's
// names: named after one, given, or named so that its name cannot be
// guessed.
func (sc *scope) holds(filename string) bool {
	if sc == nil || sc.files[filename] {
		return true
	}
	g := guessName(filename)
	return g == "" || sc.names[g]
}

// holdsEntry tells whether a directory entry's name is in scope: package
// files (and their signatures) of the scope, and every name that is no
// package file's (databases, dot-files, others), which are few.
func (sc *scope) holdsEntry(name string) bool {
	if sc == nil || strings.HasPrefix(name, ".") {
		return true
	}
	return sc.holds(strings.TrimSuffix(name, ".sig"))
}

// scopedIf is so limited to names when there are any (none: everything).
func (so scanOptions) scopedIf(names []string) scanOptions {
	if len(names) == 0 {
		return so
	}
	return so.scoped(names, nil)
}

// scoped is so limited to names and the file base names files.
func (so scanOptions) scoped(names, files []string) scanOptions {
	so.scope = newScope(names, files)
	return so
}

// scanFor are the scan options of a change made for req.
func scanFor(req Request) scanOptions {
	return scanOptions{useIndex: true, trustCache: true, recordCache: true, embedSigs: req.EmbedSignatures}
}

// scan reads the database and the directory and classifies every file.
func (r *Repo) scan(ctx context.Context, so scanOptions) (*scanResult, *dbContent, error) {
	db, err := r.readDB(so.useIndex)
	var dbErr error
	if err != nil {
		if !so.ignoreBadDB {
			return nil, nil, err
		}
		dbErr = err
		db = &dbContent{fileLists: map[string][]string{}, missing: true}
	}
	s := &scanResult{dbMissing: db.missing, registered: len(db.keys),
		present: map[string]bool{}, sigs: map[string]bool{}, dir: r.dir(), database: r.opts.DB.DBFile()}
	sc := so.scope.withRegistered(db.keys)
	dirents, err := readDir(r.dir(), sc)
	if errors.Is(err, fs.ErrNotExist) && db.missing {
		// No directory and so no database: a repository not made yet
		// (add or reset creates it), which a dry run may still plan for.
		err = nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read repository directory: %w", err)
	}
	s.entries = scopedKeys(db.keys, sc, dirents)
	var cache *verifyCache
	if so.trustCache || so.recordCache {
		var want func(string) bool
		if sc != nil {
			want = sc.holds
		}
		cache = r.loadCache(want)
	}
	kept, err := r.loadKept()
	if err != nil {
		return nil, nil, err
	}
	reg := s.entryByName()
	regByFile := map[string]*repodb.Key{}
	for _, e := range reg {
		regByFile[e.Filename] = e
	}
	var toRead []string
	var trusted []verifiedFile
	for _, d := range dirents {
		name := d.Name()
		s.present[name] = true
		if d.IsDir() {
			continue
		}
		if otherDatabase(r.opts.DB.Name, name) {
			s.otherDatabases = append(s.otherDatabases, name)
		}
		switch r.classifyScanned(name, regByFile) {
		case layout.Own, layout.Temporary:
			if r.names().Leftover(name) {
				s.leftovers = append(s.leftovers, name)
			}
		case layout.Database, layout.DatabaseLink, layout.DatabaseOld, layout.DatabaseLock, layout.LastUpdate:
		case layout.Signature:
			s.sigs[name] = true
		case layout.Package:
			if rec, ok := kept.Files[name]; ok && regByFile[name] == nil && so.trustCache {
				if id, ok := cache.trusted(r.dir(), name, rec.Size, rec.SHA256); ok {
					s.kept = append(s.kept, verifiedFile{Filename: name, Name: rec.Name, Version: rec.Version,
						CSize: rec.Size, SHA256: rec.SHA256, ModTime: id.MTimeNS})
					continue
				}
			}
			if e := regByFile[name]; e != nil && so.trustCache {
				if id, ok := cache.trusted(r.dir(), name, e.CSize, e.SHA256Sum); ok {
					trusted = append(trusted, verifiedFile{Filename: name, Name: e.Name, Version: e.Version,
						CSize: e.CSize, SHA256: e.SHA256Sum, ModTime: id.MTimeNS, libs: cache.Files[name].Libs})
					continue
				}
			}
			toRead = append(toRead, name)
		default:
			s.others = append(s.others, name)
		}
	}
	read, problems := r.readPackages(ctx, toRead)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	for i := range problems {
		damagedSinceRegistered(&problems[i], regByFile[baseName(problems[i].Path)])
	}
	s.files = append(trusted, read...)
	s.problems = problems
	// Files retired in place that still hold what they held then take part
	// in nothing.
	s.files = slices.DeleteFunc(s.files, func(f verifiedFile) bool {
		if regByFile[f.Filename] == nil && kept.holds(f.Filename, f.CSize, f.SHA256) {
			s.kept = append(s.kept, f)
			return true
		}
		return false
	})
	s.embedSigs = so.embedSigs
	r.judgeSignatures(s, regByFile, cache, so.trustCache)
	slices.SortFunc(s.files, func(a, b verifiedFile) int { return cmp.Compare(a.Filename, b.Filename) })
	slices.SortFunc(s.problems, func(a, b Problem) int { return cmp.Compare(a.Path, b.Path) })
	if so.recordCache {
		r.updateCache(cache, s, read)
	}
	if dbErr != nil {
		return s, db, dbErr
	}
	return s, db, nil
}

// classifyScanned is what the directory entry name is to a scan. A file
// the database registers, and its signature, are never ignored: an
// ignore pattern hides uploads in progress, and a registered package it
// matched would look missing and be unregistered.
func (r *Repo) classifyScanned(name string, regByFile map[string]*repodb.Key) layout.Kind {
	if regByFile[strings.TrimSuffix(name, ".sig")] != nil {
		return layout.Names{Repo: r.opts.DB.Name}.Classify(name)
	}
	return r.classify(name)
}

// otherDatabase tells whether the directory entry name is the package
// database (NAME.db.tar.EXT) of a repository other than repoName.
func otherDatabase(repoName, name string) bool {
	other, files, _, ok := layout.SplitDatabase(name)
	return ok && !files && other != repoName && (layout.Names{Repo: other}).Classify(name) == layout.Database
}

// readDir lists the entries of dir in scope, sorted by name. A scoped
// listing takes the names alone and looks at the few in scope: making an
// entry of, and sorting, a hundred thousand names would be a third of a
// change of one package.
func readDir(dir string, sc *scope) ([]fs.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var dirents []fs.DirEntry
	if sc == nil {
		if dirents, err = f.ReadDir(-1); err != nil {
			return nil, err
		}
	} else {
		names, err := f.Readdirnames(-1)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			if !sc.holdsEntry(name) {
				continue
			}
			fi, err := os.Lstat(filepath.Join(dir, name))
			if errors.Is(err, fs.ErrNotExist) {
				continue // gone since the listing, as if listed after
			}
			if err != nil {
				return nil, err
			}
			dirents = append(dirents, fs.FileInfoToDirEntry(fi))
		}
	}
	slices.SortFunc(dirents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return dirents, nil
}

// scopedKeys are the registered keys a scan looks at, sorted by name: all
// of them, or those of the scope's names and of the scoped directory
// entries (a file of the scope may be registered under another name).
func scopedKeys(keys []repodb.Key, sc *scope, dirents []fs.DirEntry) []repodb.Key {
	var out []repodb.Key
	if sc == nil {
		out = slices.Clone(keys)
	} else {
		files := make(map[string]bool, len(dirents))
		for _, d := range dirents {
			files[d.Name()] = true
		}
		for _, k := range keys {
			if sc.names[k.Name] || files[k.Filename] {
				out = append(out, k)
			}
		}
	}
	slices.SortFunc(out, func(a, b repodb.Key) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// judgeSignatures reads each package's .sig and, with a keyring, verifies
// it (unless the verification cache, when trusted, vouches for this very
// content and signature). A package whose signature is missing when one is
// required, malformed or not verified is no candidate for anything: a
// Problem. A registered one keeps its entry; its problem is reported.
func (r *Repo) judgeSignatures(s *scanResult, regByFile map[string]*repodb.Key, cache *verifyCache, trustCache bool) {
	kept := s.files[:0]
	for _, f := range s.files {
		registered := regByFile[f.Filename] != nil
		prob := r.judgeSignature(&f, s.sigs[f.Filename+".sig"], cache, trustCache)
		if prob != nil {
			s.problems = append(s.problems, *prob)
			if !registered {
				continue
			}
		}
		kept = append(kept, f)
	}
	s.files = kept
}

func (r *Repo) judgeSignature(f *verifiedFile, hasSig bool, cache *verifyCache, trustCache bool) *Problem {
	vouched := func(sigSHA string) bool {
		return trustCache && cache.sigVerified(f.Filename, f.SHA256, sigSHA, r.opts.Keyring.ID())
	}
	return r.signaturePolicy().judge(filepath.Join(r.dir(), f.Filename), f, hasSig, vouched)
}

// verifySignature verifies the binary signature sig of the file at path,
// which must still hold the content of SHA-256 sha, with the keyring.
func (r *Repo) verifySignature(path, sha string, sig []byte) *Problem {
	return verifySignature(r.opts.Keyring, path, sha, sig)
}

// updateCache records the files read completely just now, and forgets files
// that are gone.
func (r *Repo) updateCache(c *verifyCache, s *scanResult, read []verifiedFile) {
	changed := false
	for name := range c.Files {
		if !s.present[name] {
			delete(c.Files, name)
			changed = true
		}
	}
	for _, f := range read {
		if f.entry == nil {
			continue
		}
		// Only the very file that was read (same inode, size and times) may
		// be vouched for by the hash it had then.
		id, err := fsutil.StatID(filepath.Join(r.dir(), f.Filename))
		if err != nil || id != f.id {
			continue
		}
		c.Files[f.Filename] = cacheRecord{ID: id, SHA256: f.SHA256, Libs: f.libs}
		changed = true
	}
	for _, f := range s.files {
		if rec, ok := c.Files[f.Filename]; ok && f.sigSHA256 != "" && rec.SHA256 == f.SHA256 &&
			(rec.SigSHA256 != f.sigSHA256 || rec.Keyring != r.opts.Keyring.ID()) {
			rec.SigSHA256, rec.Keyring = f.sigSHA256, r.opts.Keyring.ID()
			c.Files[f.Filename] = rec
			changed = true
		}
	}
	if changed {
		r.saveCache(c)
	}
}

// packFileListsFrom is how many packages a read holds at once before their
// file lists are kept compressed (repodb.Entry.PackFiles): at 100,000 that
// is the difference between 2 GB and 0.8 GB; below a few thousand the
// lists are small and compressing them costs more than it saves.
var packFileListsFrom = 5000

// readPackages reads files completely in parallel. A file that fails, or
// whose identity changed during the read, becomes a Problem.
func (r *Repo) readPackages(ctx context.Context, names []string) ([]verifiedFile, []Problem) {
	type result struct {
		file verifiedFile
		prob *Problem
	}
	results := make([]result, len(names))
	var next, done int
	var mu sync.Mutex
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), len(names))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(names) || ctx.Err() != nil {
					return
				}
				f, prob := readPackage(filepath.Join(r.dir(), names[i]))
				if prob == nil && len(names) >= packFileListsFrom {
					f.entry.PackFiles()
				}
				results[i] = result{f, prob}
				if r.opts.Progress != nil {
					mu.Lock()
					done++
					r.opts.Progress(done, len(names))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	var files []verifiedFile
	var probs []Problem
	for _, res := range results {
		if res.prob != nil {
			probs = append(probs, *res.prob)
		} else if res.file.Filename != "" {
			files = append(files, res.file)
		}
	}
	return files, probs
}

// damagedSinceRegistered makes the Incomplete problem of a registered file
// Corrupt. Its entry records the size and SHA-256 it was verified with: a
// file that now ends early or holds other bytes was damaged after it was
// complete, not still being written, and no wait mends it (a build farm
// retrying on "retry later" would retry forever). A file that changed
// while it was read, vanished or could not be read stays as judged.
func damagedSinceRegistered(p *Problem, e *repodb.Key) {
	var errno syscall.Errno
	if e == nil || e.CSize <= 0 || e.SHA256Sum == "" || p.Kind != pkgfile.Incomplete ||
		errors.Is(p.Err, pkgfile.ErrChanged) || errors.Is(p.Err, fs.ErrNotExist) ||
		errors.Is(p.Err, fs.ErrPermission) || errors.As(p.Err, &errno) {
		return
	}
	reason := p.Err
	var pe *pkgfile.Error
	if errors.As(p.Err, &pe) {
		reason = pe.Err // without the path and kind, which the problem shows
	}
	now := ""
	if fi, err := os.Stat(p.Path); err == nil {
		now = fmt.Sprintf(", now %d", fi.Size())
	}
	p.Kind = pkgfile.Corrupt
	p.Err = fmt.Errorf("damaged since it was registered at %d bytes%s: %w; restore it, or update or remove the package",
		e.CSize, now, reason)
}

// readPackage reads one file completely and checks that it did not change
// while being read (a file still being written is Incomplete).
func readPackage(path string) (verifiedFile, *Problem) {
	if base := filepath.Base(path); strings.ContainsAny(base, "\n\x00") {
		// %FILENAME% is one line of desc: such an entry cannot be written.
		return verifiedFile{}, &Problem{Path: path, Kind: pkgfile.NotPackage,
			Err: fmt.Errorf("file name %q has a newline: it cannot be a database entry", base)}
	}
	before, err := fsutil.StatID(path)
	if err != nil {
		return verifiedFile{}, &Problem{Path: path, Kind: pkgfile.OpenErrorKind(path, err), Err: err}
	}
	p, err := pkgfile.Read(path, pkgfile.ReadOptions{Files: true})
	if err != nil {
		kind := pkgfile.KindOf(err)
		if kind == 0 {
			kind = pkgfile.Incomplete
		}
		return verifiedFile{}, &Problem{Path: path, Kind: kind, Err: err}
	}
	after, err := fsutil.StatID(path)
	if err != nil || after != before || after.Size != p.CSize {
		return verifiedFile{}, &Problem{Path: path, Kind: pkgfile.Incomplete,
			Err: fmt.Errorf("file %w (still being written?)", pkgfile.ErrChanged)}
	}
	if p.Name == "" || p.Version == "" {
		return verifiedFile{}, &Problem{Path: path, Kind: pkgfile.Corrupt,
			Err: errors.New(".PKGINFO has no pkgname or pkgver")}
	}
	if err := checkIdentity(p.Name, p.Version); err != nil {
		return verifiedFile{}, &Problem{Path: path, Kind: pkgfile.Corrupt, Err: err}
	}
	e := repodb.FromPackage(p)
	libs := p.Libraries // a copy: a pointer into p would keep all of it alive
	return verifiedFile{Filename: filepath.Base(path), Name: p.Name, Version: p.Version,
		CSize: p.CSize, SHA256: p.SHA256, ModTime: after.MTimeNS, id: after, entry: &e,
		libs: &libs, canonical: p.CanonicalFilename()}, nil
}

// checkIdentity refuses, with the database writer's own rule, a package
// whose name or version cannot be an entry of the database. Such a file is
// Corrupt, a problem reported by name like any other, rather than an entry
// that makes every later database write fail. makepkg never builds one.
func checkIdentity(name, version string) error {
	if err := repodb.CheckIdentity(name, version); err != nil {
		return fmt.Errorf(".PKGINFO: %w", err)
	}
	return nil
}
