package repo

// Keep-in-place retirement (backup = true with backup_dir "" or ".", as
// repoctl has it) leaves a retired package file in the repository
// directory, unregistered. Left at that, the next update would register it
// again (after remove) or report it obsolete forever (after an upgrade).
// So the files retired in place are recorded in .NAME.pacrepo.kept, with
// the size and SHA-256 they had: while a file keeps that content it is
// retired, not a candidate for anything, and check does not call it
// unregistered. An explicit add of the file registers it again, and a file
// whose content changed is an ordinary file again.
//
// Without a backup directory (backup = false) a retired file is kept in
// place the same way until the retention rule lets it go (prune.go): a
// client holding an older database still finds it during the grace
// period, and a retained generation can be restored.
//
// The record is written with fsync and rename during the transaction that
// retires, after the database; a crash before it is written is finished by
// the journal's roll-forward, which retires (records) again.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/version"
)

type keptRecord struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	// Retired is when it was retired: the grace period runs from then.
	Retired time.Time `json:"retired,omitzero"`
}

// keptList maps file names in the repository directory to what they held
// when retired in place.
type keptList struct {
	Files map[string]keptRecord `json:"files"`

	changed bool
}

// loadKept reads the record; a missing one is empty. One that cannot be
// decoded stops the command: without it, retired files would count as
// candidates again.
func (r *Repo) loadKept() (*keptList, error) {
	k := &keptList{Files: map[string]keptRecord{}}
	b, err := os.ReadFile(r.keptPath())
	if errors.Is(err, fs.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.keptPath(), err)
	}
	if err := json.Unmarshal(b, k); err != nil {
		return nil, fmt.Errorf("%s cannot be read (%v); inspect it, then remove it", r.keptPath(), err)
	}
	if k.Files == nil {
		k.Files = map[string]keptRecord{}
	}
	for name := range k.Files {
		if !plainName(name) {
			return nil, fmt.Errorf("%s names %q, not a file of the repository; inspect it, then remove it", r.keptPath(), name)
		}
	}
	return k, nil
}

// holds tells whether the file name f with this size and SHA-256 is one
// retired in place.
func (k *keptList) holds(f string, size int64, sha string) bool {
	rec, ok := k.Files[f]
	return ok && rec.Size == size && rec.SHA256 == sha
}

func (k *keptList) add(f string, rec keptRecord) {
	k.Files[f] = rec
	k.changed = true
}

func (k *keptList) forget(f string) {
	if _, ok := k.Files[f]; ok {
		delete(k.Files, f)
		k.changed = true
	}
}

// saveKept writes the record durably when it changed, forgetting files
// that are gone or registered.
func (r *Repo) saveKept(k *keptList, registered map[string]bool) error {
	for f := range k.Files {
		if _, err := os.Lstat(filepath.Join(r.dir(), f)); errors.Is(err, fs.ErrNotExist) || registered[f] {
			k.forget(f)
		}
	}
	if !k.changed {
		return nil
	}
	if len(k.Files) == 0 {
		if err := os.Remove(r.keptPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return fsutil.SyncDir(r.dir())
	}
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(r.keptPath(), b, 0o644)
}

// pruneKept prunes the files kept in place of names (every name when
// names is nil) that the retention rule lets go (prune.go): in
// keep-in-place mode those beyond the newest KeepBackups of each name (all
// are kept when it is 0), otherwise every one. A kept file registered
// again leaves the list instead, one that a registered entry resolves to
// stays (guard), and one whose content is not the recorded one is not
// ours to delete. A dry run deletes nothing and reports the same.
func (r *Repo) pruneKept(ctx context.Context, k *keptList, names map[string]bool, guard *registeredGuard, rt *retention, dryRun bool) ([]Action, error) {
	if r.opts.RetireInPlace && r.opts.KeepBackups <= 0 || names != nil && len(names) == 0 {
		return nil, nil
	}
	type kept struct {
		file string
		rec  keptRecord
	}
	byName := map[string][]kept{}
	for f, rec := range k.Files {
		if names != nil && !names[rec.Name] {
			continue
		}
		if guard.registered[f] {
			k.forget(f) // registered again, not kept
			continue
		}
		if guard.spares(filepath.Join(r.dir(), f)) {
			continue
		}
		byName[rec.Name] = append(byName[rec.Name], kept{f, rec})
	}
	keep := 0
	if r.opts.RetireInPlace {
		keep = r.opts.KeepBackups
	}
	var pruned []Action
	var errs []error
	for _, ks := range byName {
		slices.SortFunc(ks, func(a, b kept) int {
			if c := version.Compare(b.rec.Version, a.rec.Version); c != 0 {
				return c
			}
			return cmp.Compare(a.file, b.file)
		})
		for _, old := range ks[min(len(ks), keep):] {
			path := filepath.Join(r.dir(), old.file)
			since := old.rec.Retired
			if since.IsZero() { // recorded by an older pacrepo
				t, err := changedAt(path)
				if err != nil {
					continue
				}
				since = t
			}
			if ok, err := rt.allows(ctx, path, old.rec.SHA256, since); err != nil {
				return pruned, err
			} else if !ok {
				continue
			}
			if sha, n, err := fsutil.HashFile(path); err != nil || sha != old.rec.SHA256 || n != old.rec.Size {
				continue // not the file that was retired: not ours to delete
			}
			if err := rt.remove(path, dryRun); err != nil {
				errs = append(errs, err)
				continue
			}
			if !dryRun {
				k.forget(old.file)
			}
			pruned = append(pruned, r.prunedAction(old.rec.Name, old.rec.Version, old.file))
		}
	}
	return pruned, errors.Join(errs...)
}
