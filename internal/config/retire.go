package config

import "path/filepath"

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
