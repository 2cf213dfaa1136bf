// Package fsutil holds the file system steps that make a change durable
// and never replace what someone else put there: temporary files named as
// internal/layout says, exclusive creation, fsync of files and of
// directories, renames that refuse to overwrite, atomic replacement, and
// opening only regular files without blocking. Every package that writes
// into a repository (repo, repodb, the configuration commands) writes
// through these, so there is one way to do each.
//
// pacrepo is for Linux: RenameNoReplace uses renameat2(2) and falls back to
// link and unlink elsewhere.
package fsutil

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/pacrepo/pacrepo/internal/layout"
)

// SyncDir makes a directory's entries (renames, creations, removals)
// durable: without it a rename that returned can still be lost on power
// failure.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// TempPath is a fresh temporary path in dir for the file final (a base
// name): layout.TempName with a random part, so that a writer's leftovers
// are recognised and cleaned by the next writer.
func TempPath(dir, final string) string {
	var b [6]byte
	rand.Read(b[:])
	return filepath.Join(dir, layout.TempName(hex.EncodeToString(b[:]), filepath.Base(final)))
}

// CreateTemp creates a new temporary file in dir for final, exclusively,
// with mode perm (minus the umask; os.CreateTemp would give 0600).
func CreateTemp(dir, final string, perm os.FileMode) (*os.File, error) {
	for range 10 {
		f, err := os.OpenFile(TempPath(dir, final), os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("create a temporary file for %s in %s: %w", filepath.Base(final), dir, err)
		}
		return f, nil
	}
	return nil, fmt.Errorf("create a temporary file for %s in %s: too many collisions", filepath.Base(final), dir)
}

// OpenRegular opens path for reading only when it is a regular file. It
// opens with O_NONBLOCK, so that a FIFO put in place of a file (by accident
// or by an attacker) cannot block the caller; the check is made on the open
// descriptor, so a file swapped in between a stat and the open cannot slip
// through.
func OpenRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, fi.Mode().Type())
	}
	return f, nil
}

// CopyFile copies the regular file src to dst, which it creates exclusively
// with mode perm and fsyncs, and returns the SHA-256 and size of what it
// wrote. On error dst is removed.
func CopyFile(src, dst string, perm os.FileMode) (sha string, n int64, err error) {
	in, err := OpenRegular(src)
	if err != nil {
		return "", 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	if err := fill(out, func(w io.Writer) error { n, err = io.Copy(io.MultiWriter(w, h), in); return err }); err != nil {
		return "", 0, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// WriteNew creates path, which must not exist, with data and mode perm,
// fsynced. On error nothing is left.
func WriteNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	return fill(f, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// fill writes f's content with write, fsyncs and closes it; on error it
// removes f.
func fill(f *os.File, write func(io.Writer) error) error {
	err := write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// WriteFile replaces path with data atomically and durably: a temporary
// file in the same directory, fsync, rename, fsync of the directory. A
// reader sees the old content or the new, never a part.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFileWith(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// WriteFileWith is WriteFile of the content write writes to the temporary
// file, for content not held in memory whole.
func WriteFileWith(path string, perm os.FileMode, write func(*os.File) error) error {
	dir := filepath.Dir(path)
	f, err := CreateTemp(dir, path, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fill(f, func(io.Writer) error { return write(f) }); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(dir)
}

// WriteTemp writes data to a new temporary file in dir for final, with
// mode perm, fsynced, and returns its path; on error nothing is left.
func WriteTemp(dir, final string, data []byte, perm os.FileMode) (string, error) {
	f, err := CreateTemp(dir, final, perm)
	if err != nil {
		return "", err
	}
	if err := fill(f, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// ReplaceSymlink points link at target by renaming a new symbolic link over
// it, so that the link exists at every instant. A correct link is left
// alone.
func ReplaceSymlink(link, target string) error {
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return nil
	}
	for range 10 {
		tmp := TempPath(filepath.Dir(link), link)
		err := os.Symlink(target, tmp)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("link %s: %w", link, err)
		}
		if err := os.Rename(tmp, link); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("link %s: %w", link, err)
		}
		return nil
	}
	return fmt.Errorf("link %s: too many collisions", link)
}

// RemoveIfExists removes path; that it is already gone is no error.
func RemoveIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// linkThenUnlink is a rename that cannot replace: link(2) fails when newpath
// exists.
func linkThenUnlink(oldpath, newpath string) error {
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	return os.Remove(oldpath)
}

// HashFile returns the SHA-256 (lowercase hex) and size of the regular
// file at path.
func HashFile(path string) (string, int64, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
