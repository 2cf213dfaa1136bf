package config

import (
	"fmt"
	"os"
	"path/filepath"
)

// RetireMode says what happens to a package file that leaves the
// repository (replaced by a newer version, or removed).
type RetireMode int

const (
	// RetireDelete deletes the file (backup = false).
	RetireDelete RetireMode = iota
	// RetireMove moves the file to a backup directory (backup = true).
	RetireMove
	// RetireKeepInPlace leaves the file where it is, only unregistered: the
	// case backup = true with a backup_dir that resolves to the repository
	// directory ("" or "."), which repoctl 0.18 introduced so that tools
	// like paccache can prune old files.
	RetireKeepInPlace
)

func (m RetireMode) String() string {
	switch m {
	case RetireDelete:
		return "delete"
	case RetireMove:
		return "move"
	case RetireKeepInPlace:
		return "keep-in-place"
	}
	return "unknown"
}

// Retirement returns what to do with retired files of a repository whose
// directory is repoDir, and for RetireMove the absolute backup directory.
// A relative backup_dir is relative to repoDir; an absolute one is used as
// it is.
func (p *Profile) Retirement(repoDir string) (RetireMode, string) {
	if !p.Backup {
		return RetireDelete, ""
	}
	dir := p.BackupDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(repoDir, dir)
	}
	dir = filepath.Clean(dir)
	if dir == filepath.Clean(repoDir) {
		return RetireKeepInPlace, ""
	}
	return RetireMove, dir
}

// ResolvedBackupDir returns the absolute directory retired files are moved
// to, or "" when they are not moved (deleted, or kept in place: see
// Retirement to tell these apart).
func (p *Profile) ResolvedBackupDir(repoDir string) string {
	_, dir := p.Retirement(repoDir)
	return dir
}

// CheckBackupDir refuses a backup directory that is the repository
// directory under another name (a symbolic link, a bind mount): retired
// files would go back into the repository, where they are served and
// registered again, and pruning old backups would delete registered
// packages. backup_dir = "" or "." is the way to keep retired files in
// place. Directories that do not exist yet cannot be the same.
func (p *Profile) CheckBackupDir(repoDir string) error {
	mode, dir := p.Retirement(repoDir)
	if mode != RetireMove {
		return nil
	}
	bfi, err := os.Stat(dir)
	if err != nil {
		return nil
	}
	rfi, err := os.Stat(repoDir)
	if err != nil {
		return nil
	}
	if os.SameFile(bfi, rfi) {
		return fmt.Errorf("backup_dir %s is the repository directory %s under another name: retired files would return to the repository (use backup_dir = \"\" to keep them in place)", dir, repoDir)
	}
	return nil
}
