package fsutil

import (
	"os"
	"syscall"
)

// IDOf is the identity fi describes.
func IDOf(fi os.FileInfo) FileID {
	id := FileID{Size: fi.Size(), MTimeNS: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.CTimeNS = st.Ctim.Sec*1e9 + st.Ctim.Nsec
		id.Inode = st.Ino
		id.Dev = uint64(st.Dev)
	}
	return id
}
