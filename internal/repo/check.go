package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
	"github.com/pacrepo/pacrepo/internal/version"
)

// Finding kinds reported by Check.
const (
	FindJournal         = "journal"             // an interrupted transaction
	FindDBUnreadable    = "database-unreadable" // only reset rebuilds it
	FindMissingFile     = "missing-file"        // an entry's file is not there
	FindUnreadable      = "unreadable"          // a package file cannot be read completely
	FindChecksum        = "checksum"            // an entry's size or SHA-256 differs from its file
	FindMismatch        = "mismatch"            // an entry's file holds another name or version
	FindUnregistered    = "unregistered"        // a readable package newer than (or without) an entry
	FindOrphanSignature = "orphan-signature"    // a .sig without its package
	FindFilesDB         = "files-database"      // the files database disagrees with the package database
	FindTemporary       = "temporary"           // a temporary file of ours left by an interrupted run
	FindSignature       = "signature"           // a signature that is malformed or does not verify
	FindEmbedded        = "embedded-signature"  // an entry's %PGPSIG% is not its package's .sig
	FindIndex           = "index"               // the databases' index disagrees with them
	FindEntry           = "entry"               // an entry no database pacman reads can hold (name or version)
	FindDuplicate       = "duplicate"           // a second file of the registered version, left in place
	FindSharedDirectory = "shared-directory"    // another repository's database in the directory
	FindLinks           = "links-database"      // the links database disagrees with the entries and their files
)

// Check verifies the repository against the invariants, re-hashing every
// file. Without repair it changes nothing and takes no lock. With repair
// it takes the lock, finishes or rolls back an interrupted transaction,
// removes our own temporary files and rewrites a files database that
// disagrees with the package database. It never deletes, moves or
// registers a package file: what needs a decision (missing files,
// unregistered packages, damaged files) is reported for update, remove or
// reset to handle.
func (r *Repo) Check(ctx context.Context, repair bool) (*Report, error) {
	rep := &Report{}
	if repair {
		l, err := r.lock(ctx, "check --repair")
		if err != nil {
			return nil, err
		}
		defer l.release()
	}
	if err := r.checkJournal(repair, rep); err != nil {
		return nil, err
	}
	s, db, err := r.scan(ctx, scanOptions{recordCache: repair})
	if err == nil {
		err = r.requireDatabase(db)
	}
	if err != nil {
		var dbErr *DBUnreadableError
		if errors.As(err, &dbErr) {
			rep.add(Finding{Kind: FindDBUnreadable, Path: dbErr.Path,
				Detail: dbErr.Reason() + " (reset rebuilds it from the directory)"})
			return rep, nil
		}
		return nil, err
	}
	removeLeftovers := repair
	if err := sharedDirectory(s); err != nil {
		// Changes are refused, and the temporaries found may be the other
		// repository's writer's: they are left alone.
		rep.add(Finding{Kind: FindSharedDirectory, Path: r.opts.DB.DBPath(), Detail: err.Error()})
		removeLeftovers = false
	}
	r.checkEntries(s, db, rep)
	r.checkFiles(s, db, rep)
	r.checkFilesDatabase(db, repair, rep)
	r.checkIndex(db, repair, rep)
	r.checkLinks(s, db, repair, rep)
	r.checkLeftovers(s, removeLeftovers, rep)
	return rep, nil
}

// checkIndex holds the databases' index, when it claims to describe them,
// against what they hold; repair removes one that disagrees (the next
// write makes it anew).
func (r *Repo) checkIndex(db *dbContent, repair bool, rep *Report) {
	ix := repodb.ReadIndex(r.opts.DB)
	if ix == nil {
		return
	}
	why := ix.Disagreement(db.entries)
	if why == "" {
		return
	}
	f := Finding{Kind: FindIndex, Path: filepath.Join(r.dir(), r.names().IndexFile()), Detail: why + " (the next change rewrites it)"}
	if repair {
		f.Repaired = repodb.RemoveIndex(r.opts.DB) == nil
	}
	rep.add(f)
}

// checkLinks holds the links database, when there is one, to the entries
// and the libraries of their files, read just now: a crash between its
// write and the databases' leaves it a change ahead. Repair writes it
// again from the files read (an entry whose file is missing is left out,
// and reported as such).
func (r *Repo) checkLinks(s *scanResult, db *dbContent, repair bool, rep *Report) {
	path := r.opts.DB.LinksPath()
	links, err := repodb.ReadLinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return // written by the next change
	}
	read := map[string]*verifiedFile{}
	for i := range s.files {
		read[s.files[i].Filename] = &s.files[i]
	}
	var why string
	var fresh []repodb.Links
	for i := range db.entries {
		e := &db.entries[i]
		f := read[e.Filename]
		if f == nil || f.SHA256 != e.SHA256Sum || f.libs == nil {
			continue
		}
		want := f.libs.Links()
		fresh = append(fresh, repodb.Links{Name: e.Name, Version: e.Version, Libraries: want})
		got, ok := links[e.Name+"-"+e.Version]
		switch {
		case err != nil || why != "":
		case !ok:
			why = "it lacks " + e.Name + "-" + e.Version
		case !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0):
			why = "the libraries of " + e.Name + "-" + e.Version + " differ from its package's"
		}
	}
	if err == nil && why == "" && len(links) != len(db.entries) {
		why = fmt.Sprintf("%d packages in it, %d in the database", len(links), len(db.entries))
	}
	if err != nil {
		why = reasonAbout(path, err)
	}
	if why == "" {
		return
	}
	f := Finding{Kind: FindLinks, Path: path, Detail: why + " (check --repair or the next change writes it again)"}
	if repair {
		f.Repaired = repodb.WriteLinks(r.opts.DB, fresh) == nil
	}
	rep.add(f)
}

func (rep *Report) add(f Finding) { rep.Findings = append(rep.Findings, f) }

// checkJournal reports an interrupted transaction, and with repair (under
// the lock) finishes or rolls it back. A journal that cannot be read is
// reported as such; repair sets it aside, and the rest of the check judges
// the repository from its database and files.
func (r *Repo) checkJournal(repair bool, rep *Report) error {
	if !repair {
		_, err := r.readJournal()
		var bad *JournalUnreadableError
		switch {
		case errors.As(err, &bad):
			rep.add(Finding{Kind: FindJournal, Path: bad.Path, Detail: fmt.Sprintf("cannot be read (%s): "+
				"no change runs until it is gone; check --repair moves it aside and judges the repository from its database and files", bad.Reason)})
		case err != nil:
			return err
		default:
			if _, err := os.Stat(r.journalPath()); err == nil {
				rep.add(Finding{Kind: FindJournal, Path: r.journalPath(),
					Detail: "an interrupted transaction; the next command or check --repair finishes it"})
			}
		}
		return nil
	}
	what, err := r.recoverJournal()
	var (
		dbErr *DBUnreadableError
		bad   *JournalUnreadableError
	)
	switch {
	case errors.As(err, &bad):
		aside, err := r.setAsideJournal()
		if err != nil {
			return err
		}
		rep.add(Finding{Kind: FindJournal, Path: bad.Path, Repaired: true, Detail: fmt.Sprintf("cannot be read (%s): "+
			"moved aside to %s, nothing finished or rolled back from it; the rest of this check judges the repository from its database and files",
			bad.Reason, filepath.Base(aside))})
	case errors.As(err, &dbErr):
		rep.add(Finding{Kind: FindJournal, Path: r.journalPath(), Detail: "interrupted transaction left as is: " + err.Error()})
	case err != nil:
		return err
	case what != "":
		rep.add(Finding{Kind: FindJournal, Path: r.journalPath(), Detail: what, Repaired: true})
	}
	return nil
}

// checkEntries holds every entry against its file (invariant 1).
func (r *Repo) checkEntries(s *scanResult, db *dbContent, rep *Report) {
	files := map[string]*verifiedFile{}
	for i := range s.files {
		files[s.files[i].Filename] = &s.files[i]
	}
	probs := map[string]*Problem{}
	for i := range s.problems {
		probs[baseName(s.problems[i].Path)] = &s.problems[i]
	}
	for _, e := range db.entries {
		rep.Checked++
		path := filepath.Join(r.dir(), e.Filename)
		if err := repodb.CheckIdentity(e.Name, e.Version); err != nil {
			// Written before the rule, or by another tool. Its file, when
			// read, is refused for the same reason: one finding says it.
			rep.add(Finding{Kind: FindEntry, Path: path, Name: e.Name,
				Detail: err.Error() + " (remove drops the entry; until then, a change that rewrites the whole database fails)"})
			continue
		}
		f := files[e.Filename]
		switch {
		case probs[e.Filename] != nil:
			p := probs[e.Filename]
			rep.add(Finding{Kind: FindUnreadable, Path: path, Name: e.Name,
				Detail: fmt.Sprintf("registered file: %s: %s", p.Kind, p.Reason())})
		case f == nil && s.present[e.Filename]:
			rep.add(Finding{Kind: FindMismatch, Path: path, Name: e.Name,
				Detail: "registered file is not a package " + e.Name})
		case f == nil:
			rep.add(Finding{Kind: FindMissingFile, Path: path, Name: e.Name,
				Detail: "registered " + e.Version + " but the file is gone (update unregisters it)"})
		case f.Name != e.Name || f.Version != e.Version:
			rep.add(Finding{Kind: FindMismatch, Path: path, Name: e.Name,
				Detail: fmt.Sprintf("entry says %s %s, file holds %s %s", e.Name, e.Version, f.Name, f.Version)})
		case f.CSize != e.CSize || f.SHA256 != e.SHA256Sum:
			rep.add(Finding{Kind: FindChecksum, Path: path, Name: e.Name,
				Detail: fmt.Sprintf("entry size %d sha256 %s, file size %d sha256 %s", e.CSize, e.SHA256Sum, f.CSize, f.SHA256)})
		case e.PGPSig != "" && e.PGPSig != f.SigField:
			rep.add(Finding{Kind: FindEmbedded, Path: path, Name: e.Name,
				Detail: "the entry embeds a signature that is not its good .sig (update --include-sigs refreshes it)"})
		}
	}
}

// checkFiles reports packages the database should register, unreadable
// files and signatures without their file.
func (r *Repo) checkFiles(s *scanResult, db *dbContent, rep *Report) {
	reg := s.entryByName()
	for _, f := range s.files {
		e := reg[f.Name]
		switch {
		case e == nil:
			rep.add(Finding{Kind: FindUnregistered, Path: filepath.Join(r.dir(), f.Filename),
				Name: f.Name, Detail: f.Version + " is not registered (update registers it)"})
		case e.Filename != f.Filename && version.Compare(f.Version, e.Version) > 0:
			rep.add(Finding{Kind: FindUnregistered, Path: filepath.Join(r.dir(), f.Filename),
				Name: f.Name, Detail: fmt.Sprintf("%s is newer than the registered %s (update registers it)", f.Version, e.Version)})
		case e.Filename != f.Filename && version.Compare(f.Version, e.Version) == 0:
			dup := &DuplicateVersionError{Name: f.Name, Version: f.Version, Registered: e.Filename}
			rep.add(Finding{Kind: FindDuplicate, Path: filepath.Join(r.dir(), f.Filename), Name: f.Name, Detail: dup.Error()})
		}
	}
	for _, p := range s.problems {
		switch {
		case p.Signature != 0:
			rep.add(Finding{Kind: FindSignature, Path: p.Path, Detail: signatureDetail(p)})
		case isRegisteredFile(db.entries, baseName(p.Path)):
			// reported by checkEntries
		default:
			rep.add(Finding{Kind: FindUnreadable, Path: p.Path, Detail: fmt.Sprintf("%s: %s", p.Kind, p.Reason())})
		}
	}
	for sig := range s.sigs {
		if !s.present[strings.TrimSuffix(sig, ".sig")] {
			rep.add(Finding{Kind: FindOrphanSignature, Path: filepath.Join(r.dir(), sig), Detail: "signature without its package"})
		}
	}
}

// checkFilesDatabase compares the files database with the package
// database, and with repair rewrites it.
func (r *Repo) checkFilesDatabase(db *dbContent, repair bool, rep *Report) {
	if db.missing {
		return
	}
	ok, why := r.filesDBAgrees(db.entries)
	if ok {
		return
	}
	f := Finding{Kind: FindFilesDB, Path: r.opts.DB.FilesPath(), Detail: why}
	if repair {
		if err := r.syncFilesDB(); err != nil {
			f.Detail += "; rewrite failed: " + err.Error()
		} else {
			f.Repaired = true
		}
	}
	rep.add(f)
}

// checkLeftovers reports temporaries of writers that died, and with repair
// (under the lock, so none is in use) removes them.
func (r *Repo) checkLeftovers(s *scanResult, repair bool, rep *Report) {
	for _, t := range s.leftovers {
		f := Finding{Kind: FindTemporary, Path: filepath.Join(r.dir(), t), Detail: "left by an interrupted pacrepo"}
		if repair {
			if err := os.Remove(f.Path); err == nil {
				f.Repaired = true
			}
		}
		rep.add(f)
	}
}

func isRegisteredFile(entries []repodb.Entry, filename string) bool {
	for _, e := range entries {
		if e.Filename == filename {
			return true
		}
	}
	return false
}

// signatureDetail says what is wrong with a package's signature, without
// the path the finding names.
func signatureDetail(p Problem) string {
	var se *signature.Error
	if errors.As(p.Err, &se) {
		d := se.Kind.String()
		if se.KeyID != "" {
			d += " (key " + se.KeyID + ")"
		}
		if se.Err != nil {
			d += ": " + strings.TrimPrefix(se.Err.Error(), p.Path+": ")
		}
		return d
	}
	return fmt.Sprintf("%s: %v", p.Signature, p.Err)
}
