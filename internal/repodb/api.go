package repodb

import (
	"errors"
	"io"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
)

// Location names a repository database: Dir/Name.db + Ext, Dir/Name.files + Ext.
type Location struct {
	Dir  string // directory of the repository (absolute after ParseLocation)
	Name string // repository name, e.g. "myrepo"
	Ext  string // archive extension, e.g. ".tar.zst"
}

// ParseLocation parses PATH/NAME.db.tar[.EXT] (or NAME.files.tar[.EXT]).
func ParseLocation(path string) (Location, error) {
	return Location{}, errors.New("not implemented yet")
}

// ReadOptions choose what Read loads.
type ReadOptions struct {
	Files bool // also load file lists (read the files database)
}

// Read reads every entry of the database at path, sorted by name. An empty
// (zero-byte), truncated or corrupt database is an *Error, never "no packages".
func Read(path string, opts ReadOptions) ([]Entry, error) {
	return nil, errors.New("not implemented yet")
}

// WriteOptions choose optional content of written databases.
type WriteOptions struct {
	PGPSig bool // write %PGPSIG% for entries that have one
}

// Write replaces loc's db and files databases atomically with entries,
// keeps the previous ones as .old and (re)creates the NAME.db and
// NAME.files links, like repo-add.
func Write(loc Location, entries []Entry, opts WriteOptions) error {
	return errors.New("not implemented yet")
}

// FromPackage builds the database entry of a package file read by pkgfile.
func FromPackage(p *pkgfile.Package) Entry {
	return Entry{}
}

// ParseDesc parses one desc (or depends, or files) file into e, keeping
// unknown fields in e.Extra.
func ParseDesc(r io.Reader, e *Entry) error {
	return errors.New("not implemented yet")
}

// WriteDesc writes e's desc file exactly as repo-add does, without
// %MD5SUM%, and with %PGPSIG% only when withPGPSig is true.
func WriteDesc(w io.Writer, e *Entry, withPGPSig bool) error {
	return errors.New("not implemented yet")
}
