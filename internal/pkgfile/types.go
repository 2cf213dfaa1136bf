// Package pkgfile reads pacman package files: their .PKGINFO metadata, their
// file list, their compressed size and SHA-256, in one streaming pass.
package pkgfile

import (
	"errors"
	"fmt"

	"github.com/pacrepo/pacrepo/internal/compress"
)

// Info is the parsed .PKGINFO of a package. Multi-valued keys keep their
// order of appearance; keys we do not know are kept in Extra, in order.
type Info struct {
	Name      string // pkgname
	Base      string // pkgbase
	Version   string // pkgver (full: [epoch:]pkgver-pkgrel)
	Desc      string // pkgdesc
	URL       string // url
	Arch      string // arch
	Packager  string // packager
	BuildDate int64  // builddate (seconds since the epoch)
	Size      int64  // size: installed size in bytes

	Groups       []string // group
	Licenses     []string // license
	Replaces     []string // replaces
	Conflicts    []string // conflict
	Provides     []string // provides
	Depends      []string // depend
	OptDepends   []string // optdepend
	MakeDepends  []string // makedepend
	CheckDepends []string // checkdepend
	Backup       []string // backup

	Extra []KeyValue // any other key (xdata, pkgtype, keys added later), in order
}

// KeyValue is one line of .PKGINFO that Info has no field for.
type KeyValue struct {
	Key, Value string
}

// Package is a package file read completely and verified.
type Package struct {
	Info
	Path     string   // path as given to Read
	Filename string   // base name of Path
	CSize    int64    // size of the file in bytes
	SHA256   string   // lowercase hex SHA-256 of the whole file
	MD5      string   // lowercase hex MD5 of the whole file (only for comparisons with repo-add)
	ModTime  int64    // modification time (Unix nanoseconds) when the read began
	Files    []string // as repo-add lists them; nil unless ReadOptions.Files

	// Libraries are the sonames the package's ELF files provide and need.
	Libraries Libraries

	Compression compress.Format // detected from the file's magic bytes
}

// CanonicalFilename is the name makepkg gives the package:
// NAME-VERSION-ARCH.pkg.tar.EXT, EXT following the compression found.
func (p *Package) CanonicalFilename() string {
	return p.Name + "-" + p.Version + "-" + p.Arch + ".pkg.tar" + p.Compression.Ext()
}

// ErrorKind tells why a file could not be read as a package. Callers must
// treat every kind as "not evidence of anything".
type ErrorKind int

const (
	// Incomplete: truncated, empty, or changed while being read (still being
	// written). Retrying later may succeed.
	Incomplete ErrorKind = iota + 1
	// Corrupt: the bytes are damaged (bad checksum, invalid compression,
	// malformed archive or .PKGINFO). Retrying will not help.
	Corrupt
	// NotPackage: a valid file of another kind (no .PKGINFO, unknown format).
	NotPackage
	// Unreadable: the file cannot be opened (permission denied, an I/O
	// error, a symbolic link to nothing). Waiting alone does not help.
	Unreadable
)

func (k ErrorKind) String() string {
	switch k {
	case Incomplete:
		return "incomplete"
	case Corrupt:
		return "corrupt"
	case NotPackage:
		return "not a package"
	case Unreadable:
		return "unreadable"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// ErrChanged is the reason of an Incomplete error for a file that changed
// size, modification time or identity while it was read: it is being
// written or replaced now, unlike a file that is stable and ends early.
var ErrChanged = errors.New("changed while being read")

// Error is returned for every file that cannot be read as a package.
type Error struct {
	Path string
	Kind ErrorKind
	Err  error // the underlying reason
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Path, e.Kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the ErrorKind of err, or 0 when err is not an *Error.
func KindOf(err error) ErrorKind {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind
	}
	return 0
}
