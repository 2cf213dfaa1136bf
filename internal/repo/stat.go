package repo

import (
	"os"
	"syscall"
)

// fileID identifies one version of a file's content as far as stat can:
// a rename changes ctime, a rewrite changes mtime or ctime, a replacement
// changes the inode.
type fileID struct {
	Size    int64  `json:"size"`
	MTimeNS int64  `json:"mtime_ns"`
	CTimeNS int64  `json:"ctime_ns"`
	Inode   uint64 `json:"inode"`
	Dev     uint64 `json:"dev"`
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	return idOf(fi), nil
}

func idOf(fi os.FileInfo) fileID {
	id := fileID{Size: fi.Size(), MTimeNS: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.CTimeNS = st.Ctim.Sec*1e9 + st.Ctim.Nsec
		id.Inode = st.Ino
		id.Dev = uint64(st.Dev)
	}
	return id
}
