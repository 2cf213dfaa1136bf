//go:build !linux

package fsutil

// RenameNoReplace renames oldpath to newpath and fails with an error
// matching fs.ErrExist when newpath exists. Without renameat2(2) it links
// (which fails when newpath exists) and then unlinks.
func RenameNoReplace(oldpath, newpath string) error {
	return linkThenUnlink(oldpath, newpath)
}
