package inbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
)

// reject moves the upload at path (and its .sig) into dir, beside a
// FILE.reason that says why, and returns its new path. It never replaces
// a file: a name taken in dir gets a numbered suffix.
func reject(path, dir, reason string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := filepath.Base(path)
	for n := 0; ; n++ {
		to := filepath.Join(dir, base)
		if n > 0 {
			to += "." + strconv.Itoa(n)
		}
		if _, err := os.Lstat(to + ".reason"); err == nil {
			continue
		}
		err := moveNoReplace(path, to)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if err := moveNoReplace(path+".sig", to+".sig"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return to, fmt.Errorf("move %s.sig: %w", path, err)
		}
		note := fmt.Sprintf("%s\nrejected %s from %s\n", reason, time.Now().UTC().Format(time.RFC3339), path)
		if err := fsutil.WriteFile(to+".reason", []byte(note), 0o644); err != nil {
			return to, err
		}
		return to, fsutil.SyncDir(dir)
	}
}

// moveNoReplace renames from to to, never replacing a file; across file
// systems (a rejected directory elsewhere) it copies, fsyncs, and only then
// removes from. What is not a regular file is never opened, let alone
// followed: a symbolic link is made again as it is, a FIFO made anew.
func moveNoReplace(from, to string) error {
	err := fsutil.RenameNoReplace(from, to)
	if !errors.Is(err, syscall.EXDEV) {
		return err
	}
	fi, err := os.Lstat(from)
	if err != nil {
		return err
	}
	switch mode := fi.Mode(); {
	case mode&os.ModeSymlink != 0:
		target, err := os.Readlink(from)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, to); err != nil {
			return err
		}
		return os.Remove(from)
	case mode&os.ModeNamedPipe != 0:
		if err := syscall.Mkfifo(to, uint32(mode.Perm())); err != nil {
			return &os.PathError{Op: "mkfifo", Path: to, Err: err}
		}
		return os.Remove(from)
	case !mode.IsRegular():
		return fmt.Errorf("%s is %s: it cannot be moved to another file system", from, fsutil.TypeName(mode))
	}
	tmp := fsutil.TempPath(filepath.Dir(to), to)
	if _, _, err := fsutil.CopyFile(from, tmp, 0o644); err != nil {
		return err
	}
	// What was copied is from's own content only if from is still the
	// file it was (a link put in its place meanwhile was followed).
	if now, err := os.Lstat(from); err != nil || fsutil.IDOf(now) != fsutil.IDOf(fi) {
		os.Remove(tmp)
		return fmt.Errorf("move %s: it changed while being copied", from)
	}
	if err := fsutil.RenameNoReplace(tmp, to); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Remove(from)
}
