package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Within tells whether path is the directory dir or lies inside it,
// judged by identity (device and inode), never by path string: a symbolic
// link or a bind mount anywhere on the way cannot hide that two names are
// one directory. path need not exist yet: what it would be created under
// is what counts. A dir that does not exist contains nothing.
func Within(path, dir string) (bool, error) {
	dfi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p, err := physical(path)
	if err != nil {
		return false, err
	}
	for {
		if fi, err := os.Stat(p); err == nil && os.SameFile(fi, dfi) {
			return true, nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return false, nil
		}
		p = parent
	}
}

// physical is the absolute path through no symbolic link that path names
// or, where it does not exist yet, would name: its longest existing
// leading part resolved, the rest appended.
func physical(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	var rest []string
	for p := abs; ; p = filepath.Dir(p) {
		resolved, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{resolved}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(p) == p {
			return "", err
		}
		rest = append([]string{filepath.Base(p)}, rest...)
	}
}
