package server

import (
	"fmt"
	"io/fs"
)

// etagFallback is the ETag where no inode is known: size and mtime.
func etagFallback(fi fs.FileInfo) string {
	return fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano())
}
