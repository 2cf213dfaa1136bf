package repodb

import (
	"errors"
	"io"
)

// ReadFrom reads every entry of the database archive r, as Read reads a
// file: for a database that is not a file here (an object of a bucket,
// streamed). name says which database in errors.
func ReadFrom(r io.Reader, name string, opts ReadOptions) ([]Entry, error) {
	entries, err := readArchive(r, opts)
	if err != nil {
		var de *Error
		if errors.As(err, &de) {
			de.Path = name
			return nil, de
		}
		return nil, &Error{Path: name, Kind: classify(err), Err: err}
	}
	return entries, nil
}
