package repo

// The journal (invariant 6) is .NAME.pacrepo.journal in the repository
// directory, JSON, written with fsync + rename + directory fsync before a
// transaction touches anything, and removed (with a directory fsync) when it
// is done. It records every file operation of the plan so that the next
// command, under the lock, can tell where a crashed transaction stopped and
// bring the repository to its before- or after-state:
//
//   - The database on disk is the truth. The transaction is committed when
//     the database registers every "after" entry (name, file name, SHA-256)
//     and none of the unregistered names.
//   - Committed: roll forward. Left-over temporary files are removed,
//     retirements not yet done are done (only for files the database does
//     not reference and whose size and mtime are still those recorded),
//     moved sources are removed, the files database is made to agree with
//     the package database.
//   - Not committed: roll back. Temporary files are removed; files placed
//     under their final names are removed only when they still have the
//     recorded SHA-256 (a placement never replaces an existing file, so such
//     a file did not exist before). Nothing else had been touched.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/version"
)

type journal struct {
	Version    int             `json:"version"`
	Command    string          `json:"command"`
	PID        int             `json:"pid"`
	Started    time.Time       `json:"started"`
	Places     []journalPlace  `json:"places,omitempty"`
	After      []journalEntry  `json:"after,omitempty"`
	Unregister []string        `json:"unregister,omitempty"`
	Retire     []journalRetire `json:"retire,omitempty"`
	Sources    []journalSource `json:"remove_sources,omitempty"` // moved files to remove once committed
	// History is the generation the change records (history.go); nil in
	// a journal of an older pacrepo.
	History *journalHistory `json:"history,omitempty"`

	written int64 // the journal file's mtime (ns): every placement is newer
}

type journalPlace struct {
	Final     string `json:"final"` // base names in the repository directory
	Temp      string `json:"temp"`
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
	Link      string `json:"link,omitempty"` // symlink target (Link mode)
	SigFinal  string `json:"sig_final,omitempty"`
	SigTemp   string `json:"sig_temp,omitempty"`
	SigSHA256 string `json:"sig_sha256,omitempty"`
}

type journalEntry struct {
	Name     string `json:"name"`
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
}

type journalRetire struct {
	File    string `json:"file"` // base name
	Size    int64  `json:"size"`
	MTimeNS int64  `json:"mtime_ns"`
	// What the file holds, for keep-in-place retirement's record.
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

type journalSource struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	Sig  bool   `json:"sig"`
}

func (r *Repo) writeJournal(j *journal) error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(r.journalPath(), b, 0o644)
}

// journalVersion is the version of the journals this pacrepo writes.
const journalVersion = 1

// JournalUnreadableError is a journal that cannot be parsed, or is not one
// pacrepo writes: it can be neither finished nor rolled back, so every
// change refuses to start. check --repair sets it aside (setAsideJournal)
// and judges the repository from its database and files alone.
type JournalUnreadableError struct {
	Path   string
	Reason string
}

func (e *JournalUnreadableError) Error() string {
	return fmt.Sprintf("journal %s cannot be read (%s), so the interrupted change can be neither finished nor rolled back; "+
		"check --repair moves it aside and checks the repository from its database and files", e.Path, e.Reason)
}

// readJournal returns nil, nil when there is none, and a
// *JournalUnreadableError for one it cannot act on.
func (r *Repo) readJournal() (*journal, error) {
	b, err := os.ReadFile(r.journalPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal %s: %w", r.journalPath(), err)
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		// A journal is written through a temporary file and a rename, so a
		// torn one cannot exist; an undecodable one was written by hand or
		// by another program. Refuse to guess.
		return nil, &JournalUnreadableError{Path: r.journalPath(), Reason: err.Error()}
	}
	if err := j.validate(); err != nil {
		return nil, &JournalUnreadableError{Path: r.journalPath(), Reason: "not one pacrepo writes: " + err.Error()}
	}
	id, err := fsutil.StatID(r.journalPath())
	if err != nil {
		return nil, err
	}
	j.written = id.MTimeNS
	return &j, nil
}

// validate refuses a journal naming anything but plain names in the
// repository directory, temporaries that are not pacrepo's, or relative
// sources. Recovery removes temporaries unconditionally, so a "temporary"
// that is a package file, a database or a path elsewhere would be lost.
//
// It also refuses one without the fields every journal has (a "{}" is no
// record of any change).
func (j *journal) validate() error {
	switch {
	case j.Command == "" || j.PID <= 0 || j.Started.IsZero():
		return errors.New("no command, pid or start time")
	case j.Version != journalVersion:
		return fmt.Errorf("version %d, not %d", j.Version, journalVersion)
	}
	for _, p := range j.Places {
		if !plainName(p.Final) || !tempBaseName(p.Temp) {
			return fmt.Errorf("placement %q via %q", p.Final, p.Temp)
		}
		if (p.SigFinal != "" || p.SigTemp != "") && (!plainName(p.SigFinal) || !tempBaseName(p.SigTemp)) {
			return fmt.Errorf("signature placement %q via %q", p.SigFinal, p.SigTemp)
		}
	}
	for _, rt := range j.Retire {
		if !plainName(rt.File) {
			return fmt.Errorf("retirement of %q", rt.File)
		}
	}
	for _, s := range j.Sources {
		if !filepath.IsAbs(s.Path) || filepath.Clean(s.Path) != s.Path {
			return fmt.Errorf("source %q", s.Path)
		}
	}
	return nil
}

// plainName tells whether name is a file name with no directory part.
func plainName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

func tempBaseName(name string) bool {
	return plainName(name) && len(name) > len(layout.TempPrefix) && strings.HasPrefix(name, layout.TempPrefix)
}

// setAsideJournal renames a journal that cannot be read to a name of its
// own beside it, never over an earlier one, and returns that name. Nothing
// else is touched: what the interrupted change left is judged from the
// database and the files, like any other state (a file placed but not
// registered is an unregistered package; a temporary of ours is a leftover).
func (r *Repo) setAsideJournal() (string, error) {
	aside := r.journalPath() + ".unreadable-" + time.Now().UTC().Format("20060102T150405.000000000Z")
	if err := fsutil.RenameNoReplace(r.journalPath(), aside); err != nil {
		return "", fmt.Errorf("move journal %s aside: %w", r.journalPath(), err)
	}
	if err := fsutil.SyncDir(r.dir()); err != nil {
		return "", fmt.Errorf("move journal %s aside: %w", r.journalPath(), err)
	}
	return aside, nil
}

func (r *Repo) clearJournal() error {
	if err := os.Remove(r.journalPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return fsutil.SyncDir(r.dir())
}

// recoverJournal finishes or rolls back an interrupted transaction. It runs
// under the lock. It returns a description of what it did ("" when there
// was no journal).
func (r *Repo) recoverJournal() (string, error) {
	j, err := r.readJournal()
	if err != nil || j == nil {
		return "", err
	}
	crashPoint("mid-recover")
	db, err := r.readDB(false)
	if err != nil {
		return "", fmt.Errorf("recover interrupted %s: %w", j.Command, err)
	}
	refs := map[string]bool{}
	for _, e := range db.entries {
		refs[e.Filename] = true
	}
	what, unretired := "rolled back", []string(nil)
	if committed(j, db) {
		what = "finished"
		unretired, err = r.rollForward(j, db, refs)
		if err != nil {
			return "", err
		}
	} else {
		r.rollBack(j, refs)
	}
	if err := fsutil.SyncDir(r.dir()); err != nil {
		return "", err
	}
	if err := r.syncFilesDB(); err != nil {
		return "", err
	}
	if err := r.syncLinks(db.entries); err != nil {
		return "", err
	}
	if what == "finished" {
		if err := r.writeGeneration(j.History, nil); err != nil {
			return "", fmt.Errorf("recover interrupted %s: record generation %d: %w", j.Command, j.History.Generation, err)
		}
	}
	if err := r.clearJournal(); err != nil {
		return "", err
	}
	what = fmt.Sprintf("%s the interrupted %s (pid %d, %s)", what, j.Command, j.PID, j.Started.Format(time.RFC3339))
	if len(unretired) > 0 {
		what += "; could not retire: " + strings.Join(unretired, "; ")
	}
	return what, nil
}

// committed tells whether the database on disk registers every entry the
// journal meant to register and none it meant to drop.
func committed(j *journal, db *dbContent) bool {
	reg := map[string]string{} // name -> filename|sha
	for _, e := range db.entries {
		reg[e.Name] = e.Filename + "|" + e.SHA256Sum
	}
	for _, a := range j.After {
		if reg[a.Name] != a.Filename+"|"+a.SHA256 {
			return false
		}
	}
	for _, n := range j.Unregister {
		if _, ok := reg[n]; ok {
			return false
		}
	}
	return true
}

// rollForward finishes a committed transaction: temporaries removed,
// retirements the files and the database still justify done, moved
// sources removed. It returns why files could not be retired.
func (r *Repo) rollForward(j *journal, db *dbContent, refs map[string]bool) ([]string, error) {
	dir := r.dir()
	for _, p := range j.Places {
		fsutil.RemoveIfExists(filepath.Join(dir, p.Temp))
		if p.SigTemp != "" {
			fsutil.RemoveIfExists(filepath.Join(dir, p.SigTemp))
		}
	}
	kept, err := r.loadKept()
	if err != nil {
		return nil, err
	}
	var failed []string
	guard, err := r.newRegisteredGuard(registeredFilesOf(j, db))
	if err != nil {
		failed = append(failed, fmt.Sprintf("retired nothing: %v", err))
	}
	for _, rt := range j.Retire {
		if refs[rt.File] || guard == nil {
			continue
		}
		if err := r.retirementJustified(rt, j, db); err != nil {
			failed = append(failed, err.Error())
			continue
		}
		if _, err := r.retireIfUnchanged(rt, kept, guard); err != nil {
			failed = append(failed, err.Error())
		}
	}
	if err := r.saveKept(kept, refs); err != nil {
		return nil, fmt.Errorf("record files kept in place: %w", err)
	}
	for _, s := range j.Sources {
		if p := r.movedSourcePlace(s, j, refs); p != nil {
			removeSourceOf(s, p)
		}
	}
	return failed, nil
}

// registeredFilesOf are the files db registers of the names whose files
// journal j retires (of every name when j, of an older pacrepo, does not
// say which).
func registeredFilesOf(j *journal, db *dbContent) map[string]bool {
	names, all := map[string]bool{}, false
	for _, rt := range j.Retire {
		names[rt.Name] = true
		all = all || rt.Name == ""
	}
	files := map[string]bool{}
	if len(j.Retire) == 0 {
		return files
	}
	for _, e := range db.entries {
		if all || names[e.Name] {
			files[e.Filename] = true
		}
	}
	return files
}

// rollBack undoes a transaction that did not commit: each file it placed,
// package and signature judged on its own, is removed while it is still
// exactly what was placed. The .sig is renamed into place before its
// package, so a crash in between, or another file taking the package's
// name, must not leave the .sig behind.
func (r *Repo) rollBack(j *journal, refs map[string]bool) {
	dir := r.dir()
	for _, p := range j.Places {
		fsutil.RemoveIfExists(filepath.Join(dir, p.Temp))
		if p.SigTemp != "" {
			fsutil.RemoveIfExists(filepath.Join(dir, p.SigTemp))
		}
		final := filepath.Join(dir, p.Final)
		if !refs[p.Final] && placedByUs(final, p, j.written) {
			fsutil.RemoveIfExists(final)
		}
		if p.SigFinal != "" {
			sig := journalPlace{Final: p.SigFinal, SHA256: p.SigSHA256, Size: -1}
			if placedByUs(filepath.Join(dir, p.SigFinal), sig, j.written) {
				fsutil.RemoveIfExists(filepath.Join(dir, p.SigFinal))
			}
		}
	}
}

// placedByUs tells whether final is still exactly what the journal placed
// (a Size of -1 is not compared: signatures are recorded by SHA-256 only).
// A placement renames the file into place after the journal was written, so
// its ctime is not older than the journal; a file with the same content
// that was there before (named by a corrupt or hostile journal) is older.
func placedByUs(final string, p journalPlace, journalWritten int64) bool {
	if !renamedSince(final, journalWritten) {
		return false
	}
	if p.Link != "" {
		t, err := os.Readlink(final)
		return err == nil && t == p.Link
	}
	fi, err := os.Lstat(final)
	if err != nil || !fi.Mode().IsRegular() || (p.Size >= 0 && fi.Size() != p.Size) {
		return false
	}
	sha, _, err := fsutil.HashFile(final)
	return err == nil && sha == p.SHA256
}

// renamedSince tells whether path (not followed) changed name or inode
// metadata at or after t (ns).
func renamedSince(path string, t int64) bool {
	fi, err := os.Lstat(path)
	if err != nil {
		return false
	}
	return fsutil.IDOf(fi).CTimeNS >= t
}

// retirementJustified allows recovery to retire a file only as invariant 2
// does: it is a package whose name the database now registers with a file
// of another version, or a name the interrupted command unregistered. A
// journal is only a claim; the file and the database are evidence.
func (r *Repo) retirementJustified(rt journalRetire, j *journal, db *dbContent) error {
	path := filepath.Join(r.dir(), rt.File)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil // already retired; retireIfUnchanged handles a left-over .sig
	}
	p, err := pkgfile.Read(path, pkgfile.ReadOptions{})
	if err != nil {
		return fmt.Errorf("%s cannot be read (%v); left in place", rt.File, err)
	}
	for _, e := range db.entries {
		if e.Name == p.Name {
			switch {
			case e.Filename == rt.File:
				return fmt.Errorf("%s is registered; left in place", rt.File)
			case version.Compare(p.Version, e.Version) == 0:
				return fmt.Errorf("%s holds %s %s, the version registered as %s: not obsolete; left in place",
					rt.File, p.Name, p.Version, e.Filename)
			}
			return nil
		}
	}
	if slices.Contains(j.Unregister, p.Name) {
		return nil
	}
	return fmt.Errorf("%s: nothing replaced or removed package %s; left in place", rt.File, p.Name)
}

// movedSourcePlace returns the placement whose content s was moved into,
// when it is safe to remove s: the placed file is registered (the caller
// knows the transaction committed), s still has that content, and s is not
// itself a file the repository uses.
func (r *Repo) movedSourcePlace(s journalSource, j *journal, refs map[string]bool) *journalPlace {
	var place *journalPlace
	for i, p := range j.Places {
		if !refs[p.Final] || p.Size != s.Size {
			continue
		}
		for _, a := range j.After {
			if a.Filename == p.Final && a.SHA256 == p.SHA256 {
				place = &j.Places[i]
			}
		}
	}
	if place == nil {
		return nil
	}
	base := filepath.Base(s.Path)
	if refs[base] || slices.ContainsFunc(j.Places, func(p journalPlace) bool { return p.Final == base || p.SigFinal == base }) {
		if sameDir(filepath.Dir(s.Path), r.dir()) {
			return nil
		}
	}
	if sha, n, err := fsutil.HashFile(s.Path); err != nil || sha != place.SHA256 || n != place.Size {
		return nil
	}
	return place
}

func sameDir(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return true // cannot tell: assume the worst
	}
	fb, err := os.Stat(b)
	return err != nil || os.SameFile(fa, fb)
}

// removeSourceOf removes a moved source whose content is registered, and its
// signature when that is the one placed.
func removeSourceOf(s journalSource, p *journalPlace) {
	// A moved symbolic link is removed itself, never what it points to.
	fi, err := os.Lstat(s.Path)
	if err != nil || !(fi.Mode().IsRegular() || fi.Mode()&os.ModeSymlink != 0) {
		return
	}
	os.Remove(s.Path)
	if s.Sig && p.SigSHA256 != "" {
		if sha, _, err := fsutil.HashFile(s.Path + ".sig"); err == nil && sha == p.SigSHA256 {
			os.Remove(s.Path + ".sig")
		}
	}
	fsutil.SyncDir(filepath.Dir(s.Path))
}

func removeSource(s journalSource) {
	fi, err := os.Stat(s.Path)
	if err != nil || fi.Size() != s.Size {
		return
	}
	os.Remove(s.Path)
	if s.Sig {
		os.Remove(s.Path + ".sig")
	}
	fsutil.SyncDir(filepath.Dir(s.Path))
}
