package pkgfile

import "errors"

// ReadOptions choose the optional work of Read.
type ReadOptions struct {
	Files bool // also collect the file list (for the files database)
}

// Read reads the package file at path completely: it detects the
// compression by magic bytes, parses .PKGINFO, and computes the size and
// SHA-256 of the whole file (and its file list when asked) in one pass.
// Every failure is an *Error naming the file and its ErrorKind.
func Read(path string, opts ReadOptions) (*Package, error) {
	return nil, &Error{Path: path, Kind: Corrupt, Err: errors.New("not implemented yet")}
}
