package repodb

import (
	"errors"
	"fmt"
)

// ErrorKind tells why a database could not be read. Every kind means "the
// database is unusable", never "the repository has no packages".
type ErrorKind int

const (
	// Empty: the database file has zero bytes (a write that never
	// completed, or a file truncated by hand).
	Empty ErrorKind = iota + 1
	// Truncated: the data ends early, either inside the compressed stream
	// or before the tar end-of-archive marker.
	Truncated
	// Corrupt: the bytes are not a valid pacman database (unknown
	// compression, damaged stream, bad tar header, malformed desc, an entry
	// without desc, duplicate package names, a member over the size limit).
	Corrupt
)

func (k ErrorKind) String() string {
	switch k {
	case Empty:
		return "empty"
	case Truncated:
		return "truncated"
	case Corrupt:
		return "corrupt"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Error is returned by Read for a database that exists but cannot be used.
// A database that does not exist is not an *Error: Read returns an error
// matching fs.ErrNotExist, which callers may treat as a new repository.
type Error struct {
	Path  string // database file
	Entry string // entry directory (NAME-VERSION) or member, when known
	Kind  ErrorKind
	Err   error // the underlying reason
}

func (e *Error) Error() string {
	return fmt.Sprintf("database %s: %s", e.Path, e.Reason())
}

// Reason is the error without the database's path, for messages that name
// the path already.
func (e *Error) Reason() string {
	if e.Entry != "" {
		return fmt.Sprintf("%s: %s: %v", e.Entry, e.Kind, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the ErrorKind of err, or 0 when err is not an *Error.
func KindOf(err error) ErrorKind {
	var de *Error
	if errors.As(err, &de) {
		return de.Kind
	}
	return 0
}

// ErrInvalidLocation is wrapped by ParseLocation errors for paths that do
// not name a repository database.
var ErrInvalidLocation = errors.New("not a repository database path")
