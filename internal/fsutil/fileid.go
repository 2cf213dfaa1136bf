package fsutil

import "os"

// FileID identifies one version of a file's content as far as stat can:
// a rename changes ctime, a rewrite changes mtime or ctime, a replacement
// changes the inode. The verification cache, the databases' index and the
// watch command trust what they recorded only while it still holds.
type FileID struct {
	Size    int64
	MTimeNS int64
	CTimeNS int64
	Inode   uint64
	Dev     uint64
}

// StatID is the identity of the file at path (following links).
func StatID(path string) (FileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return FileID{}, err
	}
	return IDOf(fi), nil
}
