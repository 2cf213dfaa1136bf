package repo

// Retired files are moved or deleted, and pruning (KeepBackups) deletes
// the oldest of them: backups in the backup directory (backup.go) and files
// kept in place (kept.go). A retired file can be registered again later
// (add of a file kept in place, add -l of a backup), and a registered link
// can resolve to a file that is not itself registered, so one rule guards
// every path that moves or deletes a retired file (retirement, its
// roll-forward in recovery, both prunings): nothing registered, and nothing
// a registered entry's file resolves to (a link's target, judged by
// identity, never by path string), is moved or deleted. A file kept in
// place that is registered again is not kept any more: it leaves the kept
// list. Every file pruned is reported as an ActPrune action.
//
// Pruning runs after the database write, from the entries that write
// registered; recovery does not prune (the next retirement of the name
// does), so a crash in between leaves one backup too many, never a
// registered file missing.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/pacrepo/pacrepo/internal/fsutil"
)

// fileKey is the identity of a file: its device and inode.
type fileKey struct{ dev, inode uint64 }

func keyOf(id fsutil.FileID) fileKey { return fileKey{id.Dev, id.Inode} }

// registeredGuard knows what the database registers after a change (of the
// names concerned), by file name and by the identity of the file each name
// resolves to.
type registeredGuard struct {
	registered map[string]bool // file names in the repository directory
	resolved   map[fileKey]bool
}

// newRegisteredGuard stats every registered file, following links. A
// registered file that cannot be stated (for another reason than being
// missing or a loop of links: a link to nothing protects nothing) is an
// error: what it resolves to cannot be told, so nothing may be moved or
// deleted.
func (r *Repo) newRegisteredGuard(registered map[string]bool) (*registeredGuard, error) {
	g := &registeredGuard{registered: registered, resolved: map[fileKey]bool{}}
	for f := range registered {
		path := filepath.Join(r.dir(), f)
		id, err := fsutil.StatID(path)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ELOOP) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", path, err)
		}
		g.resolved[keyOf(id)] = true
	}
	return g, nil
}

// spares tells whether the file at path must be neither moved nor
// deleted: it is what a registered entry's file resolves to, or its
// identity cannot be told. path itself is not followed: moving or
// removing a link never loses its target.
func (g *registeredGuard) spares(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil {
		return true
	}
	return g.resolved[keyOf(fsutil.IDOf(fi))]
}

// prunedAction reports the pruning of file (a base name in the repository
// directory, or a path in the backup directory).
func (r *Repo) prunedAction(name, version, file string) Action {
	return Action{Kind: ActPrune, Name: name, File: file, From: version, Disposal: DisposalDelete,
		Reason: fmt.Sprintf("only the newest %d retired files of %s are kept", r.opts.KeepBackups, name)}
}
