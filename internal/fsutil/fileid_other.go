//go:build !linux

package fsutil

import "os"

// IDOf is the identity fi describes: size and modification time only,
// where this package does not know the system's stat structure.
func IDOf(fi os.FileInfo) FileID {
	return FileID{Size: fi.Size(), MTimeNS: fi.ModTime().UnixNano()}
}
