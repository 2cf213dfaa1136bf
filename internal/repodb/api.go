package repodb

import (
	"io"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
)

// Location names a repository database: Dir/Name.db + Ext, Dir/Name.files + Ext.
type Location struct {
	Dir  string // directory of the repository (absolute after ParseLocation)
	Name string // repository name, e.g. "myrepo"
	Ext  string // archive extension, e.g. ".tar.zst"
}

// ReadOptions choose what Read loads.
type ReadOptions struct {
	Files bool // also load file lists (read the files database)
}

// Read reads every entry of the database at path, sorted by name. An empty
// (zero-byte), truncated or corrupt database is an *Error, never "no packages".
//
// Read reads whatever archive it is given, in any compression (detected by
// magic bytes), merging the desc, depends (old format) and files members of
// each entry directory. With opts.Files the file lists are loaded, which
// only a files database (NAME.files.tar.*) holds; entries of a db keep
// Files nil. ReadLocation picks the right archive. A missing file gives an
// error matching fs.ErrNotExist, which is not an *Error.
func Read(path string, opts ReadOptions) ([]Entry, error) {
	return readDatabase(path, opts)
}

// ReadLocation reads loc's files database when opts.Files (it holds the
// desc of every entry too) and its db otherwise.
func ReadLocation(loc Location, opts ReadOptions) ([]Entry, error) {
	if opts.Files {
		return Read(loc.FilesPath(), opts)
	}
	return Read(loc.DBPath(), opts)
}

// WriteOptions choose optional content of written databases.
type WriteOptions struct {
	PGPSig bool // write %PGPSIG% for entries that have one
	// Sign, when set, signs each database (given the path of its complete
	// temporary file): NAME.db.tar.EXT.sig and NAME.files.tar.EXT.sig are
	// written with the databases, and NAME.db.sig and NAME.files.sig link
	// to them. The order: the files database, then its signature, then the
	// db, then its signature (each a rename, the directory synced after
	// each pair), then the links; a reader may see a new database with the
	// previous signature for the time between two renames.
	Sign func(path string) ([]byte, error)
	// Keep, when set, is given each complete database (the files
	// database, then the db) under its temporary name, with its
	// signature's temporary ("" when unsigned) and the database's file
	// name, before anything is put in place: an error changes nothing.
	// The repository's history links them so, which leaves the installed
	// files' identity (and so the index) as written.
	Keep func(tmp, sigTmp, name string) error
}

// Write replaces loc's db and files databases atomically with entries,
// keeps the previous ones as .old and (re)creates the NAME.db and
// NAME.files links, like repo-add.
//
// Both archives are written to temporary dot-files in loc.Dir and synced
// before anything is replaced; then the files database, then the db (the
// commit point) are renamed into place with a directory sync after each.
// Entries without a file list get an empty one in the files database.
func Write(loc Location, entries []Entry, opts WriteOptions) error {
	return writeDatabases(loc, entries, opts)
}

// WriteChanges writes loc's databases as ix describes them (ReadIndex)
// with upserts registered, replacing entries of the same name, and the
// entries named in removed dropped, re-encoding only the chunks the change
// touches; everything else of Write holds (temporaries, order of renames,
// .old, links, signatures). It returns an error matching
// ErrNotIncremental when the databases cannot be updated so: the caller
// then reads them whole and uses Write.
func WriteChanges(loc Location, ix *Index, upserts []Entry, removed []string, opts WriteOptions) error {
	return writeChanges(loc, ix, upserts, removed, opts)
}

// FromPackage builds the database entry of a package file read by pkgfile.
// MD5Sum and PGPSig stay empty: the first is never written, the second is
// the caller's to fill from the package's .sig file. The entry shares the
// package's file list.
func FromPackage(p *pkgfile.Package) Entry {
	return fromPackage(p)
}

// ParseDesc parses one desc (or depends, or files) file into e, keeping
// unknown fields in e.Extra.
func ParseDesc(r io.Reader, e *Entry) error {
	return parseDesc(r, e)
}

// WriteDesc writes e's desc file exactly as repo-add does, without
// %MD5SUM%, and with %PGPSIG% only when withPGPSig is true.
func WriteDesc(w io.Writer, e *Entry, withPGPSig bool) error {
	var d descWriter
	renderDesc(&d, e, withPGPSig)
	if d.err != nil {
		return d.err
	}
	_, err := w.Write(d.buf.Bytes())
	return err
}
