package repo

// Retiring a file moves it (and its .sig) to Options.BackupDir, leaves both
// where they are with Options.RetireInPlace (see kept.go), or, when there
// is no backup directory, keeps both in place until the retention rule
// lets them go (deleting them at once only when the retention keeps no
// generation but the newest and has no grace period). It happens only
// after the database that no longer references the file is on disk
// (invariant 2).
//
// A backup never overwrites another: when BACKUP/FILE exists, FILE.1,
// FILE.2, ... is used (the .sig follows as FILE.N.sig). With KeepBackups > 0
// only the newest KeepBackups backups of each retired package name are
// kept (identical ones count once); the name and version of a backup come from reading it (.PKGINFO),
// and a backup that cannot be read is never deleted.

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/version"
)

// retireIfUnchanged retires rt.File when it still has the recorded size and
// mtime; a file that changed meanwhile is left alone, and so is one that a
// registered entry resolves to (guard). A missing file is already retired
// (but a .sig left behind by an interrupted retirement is retired now). In
// keep-in-place mode the file stays and is recorded in k. It returns where
// the file went ("" when it was not moved).
func (r *Repo) retireIfUnchanged(rt journalRetire, k *keptList, guard *registeredGuard) (string, error) {
	path := filepath.Join(r.dir(), rt.File)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Lstat(path + ".sig"); serr == nil && !r.keepsInPlace() {
			_, err := r.retireOne(path+".sig", "")
			return "", err
		}
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(path); err == nil {
		fi = st
	}
	if fi.Size() != rt.Size || fi.ModTime().UnixNano() != rt.MTimeNS {
		return "", fmt.Errorf("%s changed since it was planned; left in place", rt.File)
	}
	if !r.keepsInPlace() && guard.spares(path) {
		return "", fmt.Errorf("%s is the file a registered entry resolves to; left in place", rt.File)
	}
	if r.keepsInPlace() {
		rec := keptRecord{Name: rt.Name, Version: rt.Version, Size: rt.Size, SHA256: rt.SHA256, Retired: r.now().UTC()}
		if rec.Name == "" || rec.SHA256 == "" { // a journal of an older pacrepo
			p, err := pkgfile.Read(path, pkgfile.ReadOptions{})
			if err != nil {
				return "", fmt.Errorf("%s cannot be read (%v); left in place", rt.File, err)
			}
			rec = keptRecord{Name: p.Name, Version: p.Version, Size: p.CSize, SHA256: p.SHA256, Retired: r.now().UTC()}
		}
		k.add(rt.File, rec)
		return "", nil
	}
	dest, err := r.retireOne(path, "")
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(path + ".sig"); err == nil {
		sigDest := ""
		if dest != "" {
			sigDest = dest + ".sig"
		}
		if _, err := r.retireOne(path+".sig", sigDest); err != nil {
			return dest, err
		}
	}
	return dest, nil
}

// disposal is what retiring does in this repository.
func (r *Repo) disposal() Disposal {
	switch {
	case r.keepsInPlace():
		return DisposalKeep
	case r.opts.BackupDir != "":
		return DisposalMove
	}
	return DisposalDelete
}

// keepsInPlace tells whether retired files stay in the directory,
// recorded as kept: in keep-in-place mode, and without a backup directory
// unless the retention needs no retired file (deletesAtOnce).
func (r *Repo) keepsInPlace() bool {
	return r.opts.RetireInPlace || r.opts.BackupDir == "" && !r.deletesAtOnce()
}

// deletesAtOnce tells whether a retired file no backup directory receives
// is deleted when retired: the retention retains no generation but the
// newest (which does not register it) and has no grace period.
func (r *Repo) deletesAtOnce() bool {
	rt := r.opts.Retention
	return rt.Grace <= 0 && rt.KeepGenerations <= 1 && rt.KeepDays <= 0 && len(rt.Pinned) == 0
}

// retireOne moves path into the backup directory (at want when given and
// free, else at a free name) or deletes it. It returns the backup path.
func (r *Repo) retireOne(path, want string) (string, error) {
	if r.opts.BackupDir == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return "", nil
	}
	if err := os.MkdirAll(r.opts.BackupDir, 0o755); err != nil {
		return "", fmt.Errorf("backup directory: %w", err)
	}
	if err := r.checkBackupDir(); err != nil {
		return "", err
	}
	base := filepath.Join(r.opts.BackupDir, filepath.Base(path))
	for i := 0; ; i++ {
		dest := base
		if want != "" && i == 0 {
			dest = want
		} else if i > 0 {
			dest = base + "." + strconv.Itoa(i)
			if strings.HasSuffix(base, ".sig") { // keep .sig last
				dest = strings.TrimSuffix(base, ".sig") + "." + strconv.Itoa(i) + ".sig"
			}
		}
		if _, err := os.Lstat(dest); err == nil {
			// The very file retired before (removed, added again, retired
			// again): one copy under its own name is kept, not NAME.1,
			// NAME.2 that paccache cannot see. Nothing is lost: the copy
			// in the backup directory holds the same bytes.
			if same, err := sameContent(path, dest); err != nil {
				return "", fmt.Errorf("retire %s: %w", path, err)
			} else if same {
				if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return "", fmt.Errorf("retire %s: %w", path, err)
				}
				return dest, nil
			}
			continue
		}
		err := fsutil.RenameNoReplace(path, dest)
		if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.EEXIST) {
			continue
		}
		if errors.Is(err, syscall.EXDEV) {
			err = moveAcross(path, dest)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
		}
		if err != nil {
			return "", fmt.Errorf("retire %s: %w", path, err)
		}
		if err := fsutil.SyncDir(r.opts.BackupDir); err != nil {
			return "", err
		}
		return dest, nil
	}
}

// sameContent reports whether the regular files a and b hold the same
// bytes.
func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	sa, err := fa.Stat()
	if err != nil {
		return false, err
	}
	sb, err := fb.Stat()
	if err != nil {
		return false, err
	}
	if !sa.Mode().IsRegular() || !sb.Mode().IsRegular() || sa.Size() != sb.Size() {
		return false, nil
	}
	bufA, bufB := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, errA := io.ReadFull(fa, bufA)
		nb, errB := io.ReadFull(fb, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			return false, nil
		}
		if errA == io.EOF || errA == io.ErrUnexpectedEOF {
			return errB == io.EOF || errB == io.ErrUnexpectedEOF, nil
		}
		if errA != nil {
			return false, fmt.Errorf("read %s: %w", a, errA)
		}
		if errB != nil {
			return false, fmt.Errorf("read %s: %w", b, errB)
		}
	}
}

// checkBackupDir refuses, just before files move or are pruned, a backup
// directory that is the repository directory under another name (the
// configuration was checked when loaded, but a link can appear later):
// retired files would return to the repository and pruning would delete
// registered packages.
func (r *Repo) checkBackupDir() error {
	bfi, err := os.Stat(r.opts.BackupDir)
	if err != nil {
		return fmt.Errorf("backup directory: %w", err)
	}
	rfi, err := os.Stat(r.dir())
	if err != nil {
		return fmt.Errorf("repository directory: %w", err)
	}
	if os.SameFile(bfi, rfi) {
		return fmt.Errorf("backup directory %s is the repository directory %s: nothing retired there", r.opts.BackupDir, r.dir())
	}
	return nil
}

// moveAcross copies path to another file system under a temporary name,
// fsyncs, renames it to dest without replacing, then removes path.
func moveAcross(path, dest string) error {
	tmp := fsutil.TempPath(filepath.Dir(dest), dest)
	if _, _, err := fsutil.CopyFile(path, tmp, 0o644); err != nil {
		return err
	}
	if err := fsutil.RenameNoReplace(tmp, dest); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := fsutil.SyncDir(filepath.Dir(dest)); err != nil {
		return err
	}
	return os.Remove(path)
}

// isBackupName tells whether n names a package in the backup directory:
// a package file name, or one with the .N that retireOne adds when the name
// is taken.
func isBackupName(n string) bool {
	if i := strings.LastIndexByte(n, '.'); i > 0 && strings.Trim(n[i+1:], "0123456789") == "" && i+1 < len(n) {
		n = n[:i]
	}
	return (layout.Names{}).Classify(n) == layout.Package
}

// pruneBackups prunes, of the backups of names (every name when names is
// nil), those beyond the newest KeepBackups of each name (none when it is
// 0) that the retention rule lets go (prune.go), sparing (and not
// counting) any that a registered entry resolves to (guard). A dry run
// deletes nothing and reports the same.
func (r *Repo) pruneBackups(ctx context.Context, names map[string]bool, guard *registeredGuard, rt *retention, dryRun bool) ([]Action, error) {
	if r.opts.BackupDir == "" || r.opts.KeepBackups <= 0 || names != nil && len(names) == 0 {
		return nil, nil
	}
	if err := r.checkBackupDir(); err != nil {
		return nil, err
	}
	dirents, err := os.ReadDir(r.opts.BackupDir)
	if errors.Is(err, fs.ErrNotExist) && names == nil {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type backup struct {
		path, name, version, sha string
		mtime                    int64
	}
	byName := map[string][]backup{}
	for _, d := range dirents {
		n := d.Name()
		if d.IsDir() || !isBackupName(n) {
			continue
		}
		candidate := names == nil
		for name := range names {
			if strings.HasPrefix(n, name+"-") {
				candidate = true
			}
		}
		if !candidate {
			continue
		}
		path := filepath.Join(r.opts.BackupDir, n)
		p, err := pkgfile.Read(path, pkgfile.ReadOptions{})
		if err != nil || names != nil && !names[p.Name] || guard.spares(path) {
			continue
		}
		byName[p.Name] = append(byName[p.Name], backup{path, p.Name, p.Version, p.SHA256, p.ModTime})
	}
	var pruned []Action
	for _, bs := range byName {
		slices.SortFunc(bs, func(a, b backup) int {
			if c := version.Compare(b.version, a.version); c != 0 {
				return c
			}
			return cmp.Compare(b.mtime, a.mtime)
		})
		// Identical backups (a package retired twice) are one backup:
		// counting each would delete a distinct older one instead.
		keep := map[string]bool{} // content -> kept
		for _, b := range bs {
			kept, seen := keep[b.sha]
			if !seen {
				kept = len(keep) < r.opts.KeepBackups
				keep[b.sha] = kept
			}
			if kept {
				continue
			}
			since, err := changedAt(b.path)
			if err != nil {
				continue
			}
			if ok, err := rt.allows(ctx, b.path, b.sha, since); err != nil {
				return pruned, err
			} else if !ok {
				continue
			}
			if err := rt.remove(b.path, dryRun); err != nil {
				return pruned, err
			}
			pruned = append(pruned, r.prunedAction(b.name, b.version, b.path))
		}
	}
	if dryRun {
		return pruned, nil
	}
	return pruned, fsutil.SyncDir(r.opts.BackupDir)
}
