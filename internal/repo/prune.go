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
// Beyond that guard, pruning follows the history's retention rule
// (history.Retention, the same for a bucket): a retired file is deleted
// only when no retained generation references it and it was superseded
// longer ago than the grace period. KeepBackups keeps the newest N
// retired files of each name besides (in the backup directory, or kept
// in place); without a backup directory every file kept in place goes
// when the rule lets it.
//
// Pruning runs after the database write, from the entries that write
// registered; recovery does not prune (the next retirement of the name
// does), so a crash in between leaves one backup too many, never a
// registered file missing.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/history"
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
	reason := "no retained generation references it and it was superseded before the grace period"
	if r.opts.KeepBackups > 0 && (r.opts.RetireInPlace || r.opts.BackupDir != "") {
		reason = fmt.Sprintf("only the newest %d retired files of %s are kept; %s", r.opts.KeepBackups, name, reason)
	}
	return Action{Kind: ActPrune, Name: name, File: file, From: version, Disposal: DisposalDelete, Reason: reason}
}

// retention applies the history's rule (history.Retention) to the retired
// files of this directory: a retired file is pruned only when no retained
// generation references it (by name in the repository directory, by
// content in the backup directory) and it was superseded longer ago than
// the grace period. The generations are read once, and only when a file
// old enough to be pruned turns up.
type retention struct {
	r   *Repo
	now time.Time
	// pending is the generation being committed, whose record is
	// written after the pruning: it is the newest, and what it
	// references is what the database registers (the guard's).
	pending *int64
	refs    *history.References
	// deleted are the paths deleted (or, in a dry run, that would be).
	deleted []string
}

// remove deletes path, then its .sig (a reader never finds a package
// whose signature is gone), noting each path; a dry run deletes nothing.
func (rt *retention) remove(path string, dryRun bool) error {
	if !dryRun {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("remove %s: %w", path, err)
		}
	}
	rt.deleted = append(rt.deleted, path)
	sig := path + ".sig"
	if _, err := os.Lstat(sig); err != nil {
		return nil
	}
	if !dryRun {
		if err := os.Remove(sig); err != nil {
			return fmt.Errorf("remove %s: %w", sig, err)
		}
	}
	rt.deleted = append(rt.deleted, sig)
	return nil
}

func (r *Repo) newRetention(pending *int64) *retention {
	return &retention{r: r, now: r.now(), pending: pending}
}

// now is the retention's clock.
func (r *Repo) now() time.Time {
	if r.opts.Now != nil {
		return r.opts.Now()
	}
	return time.Now()
}

// allows tells whether the retired file at path, of content sha, superseded
// at since, may be deleted.
func (rt *retention) allows(ctx context.Context, path, sha string, since time.Time) (bool, error) {
	rule := rt.r.opts.Retention
	if !rule.Collectable(false, since, rt.now) {
		return false, nil // within the grace period, whatever references it
	}
	if rt.refs == nil {
		refs, _, err := rt.r.retainedReferences(ctx, rt.now, rt.pending)
		if err != nil {
			return false, fmt.Errorf("what the retained generations reference: %w", err)
		}
		rt.refs = refs
	}
	return rule.Collectable(rt.refs.Holds(filepath.Base(path), sha), since, rt.now), nil
}

// retainedReferences reads what the generations the retention keeps
// reference, with every generation's stamp, oldest first; pending is a
// generation made now whose record is not written yet.
func (r *Repo) retainedReferences(ctx context.Context, now time.Time, pending *int64) (*history.References, []history.Stamp, error) {
	h := r.History()
	stamps, err := history.Stamps(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	if pending != nil && (len(stamps) == 0 || stamps[len(stamps)-1].Generation < *pending) {
		stamps = append(stamps, history.Stamp{Generation: *pending, Time: now})
	}
	rule, err := r.retentionRule(ctx)
	if err != nil {
		return nil, nil, err
	}
	refs, err := history.Referenced(ctx, h, rule.Retained(stamps, now))
	return refs, stamps, err
}

// retentionRule is the profile's retention with the generations snapshots
// name pinned: nothing a snapshot's generation references is pruned, and
// its record and databases stay.
func (r *Repo) retentionRule(ctx context.Context) (history.Retention, error) {
	rule := r.opts.Retention
	pinned, err := history.PinnedGenerations(ctx, r.History())
	if err != nil {
		return rule, fmt.Errorf("the generations snapshots pin: %w", err)
	}
	rule.Pinned = append(slices.Clone(rule.Pinned), pinned...)
	return rule, nil
}

// changedAt is when the file at path last changed, content or name (a
// move to the backup directory sets it): when it was superseded, as far
// as the file tells.
func changedAt(path string) (time.Time, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return time.Time{}, err
	}
	id := fsutil.IDOf(fi)
	return time.Unix(0, max(id.MTimeNS, id.CTimeNS)), nil
}
