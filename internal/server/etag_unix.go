//go:build unix

package server

import (
	"fmt"
	"io/fs"
	"syscall"
)

// etagOf returns a strong ETag made of the file's inode, size and
// modification time in nanoseconds. pacrepo replaces a database by
// renaming a new file over it, which always gives a new inode, so the ETag
// changes with every database write even when size and mtime happen to
// repeat; a strong ETag is right because equal tags mean the very same
// bytes (Range requests rely on that). No content hash: it would mean
// reading every file on every request.
func etagOf(fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf(`"%x-%x-%x-%x"`, uint64(st.Dev), uint64(st.Ino), fi.Size(), fi.ModTime().UnixNano())
	}
	return etagFallback(fi)
}
