package s3repo

// Snapshots of a bucket repository (history/snapshot.go): records under
// .pacrepo/NAME/snapshots/S.json, created only if absent (If-None-Match:
// *), deleted by snapshot delete. gc spares the databases and the package
// objects every snapshot names.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repo"
)

// snapshotPrefix is where the snapshot records are.
func (a Address) snapshotPrefix() string { return a.stateKey("snapshots/") }

func (a Address) snapshotKey(name string) string { return a.snapshotPrefix() + name + ".json" }

// Snapshots are the bucket's snapshot records.
func (r *Repo) Snapshots() history.Snapshots { return bucketHistory{r} }

func (b bucketHistory) SnapshotNames(ctx context.Context) ([]string, error) {
	prefix := b.r.addr.snapshotPrefix()
	objs, err := b.r.bucket.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, o := range objs {
		n, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, prefix), ".json")
		if ok && history.CheckSnapshotName(n) == nil {
			names = append(names, n)
		}
	}
	return names, nil
}

func (b bucketHistory) Snapshot(ctx context.Context, name string) (*history.Snapshot, error) {
	if err := history.CheckSnapshotName(name); err != nil {
		return nil, err
	}
	key := b.r.addr.snapshotKey(name)
	body, _, err := b.r.bucket.Get(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, &history.SnapshotNotFoundError{Name: name}
	}
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", b.r.addr.URL(key), err)
	}
	return history.DecodeSnapshot(data, name, b.r.addr.URL(key))
}

// CreateSnapshot makes generation from (the newest when from < 0)
// snapshot name, made by command. Every package object of the generation
// must be in the bucket (registered, or kept for gc); when some are gone,
// no snapshot is made and the *repo.MissingFilesError names each.
func (r *Repo) CreateSnapshot(ctx context.Context, name string, from int64, command string) (*history.Snapshot, error) {
	if err := history.CheckSnapshotName(name); err != nil {
		return nil, err
	}
	st, err := r.read(ctx)
	if err != nil {
		return nil, err
	}
	if st.commit == nil {
		return nil, &NoRepositoryError{Address: r.addr}
	}
	if from < 0 {
		from = st.commit.Generation
	}
	rec, err := r.History().Record(ctx, from)
	if err != nil {
		return nil, err
	}
	s, err := history.NewSnapshot(name, rec, command)
	if err != nil {
		return nil, err
	}
	pkgs, err := r.History().Packages(ctx, rec)
	if err != nil {
		return nil, err
	}
	registered := map[string]string{}
	for _, e := range st.entries {
		registered[e.Filename] = e.SHA256Sum
	}
	// What the newest commit does not reference, gc may be about to
	// delete: its time is renewed first (as a publisher registering an
	// object again does), so that a gc that planned before the snapshot
	// existed finds it young and spares it; later ones see the snapshot.
	var missing []string
	for _, p := range pkgs {
		if registered[p.File] == p.SHA256 {
			continue
		}
		key := r.addr.key(p.File)
		if err := r.renew(ctx, key, p.SHA256); errors.Is(err, objstore.ErrNotFound) || errors.Is(err, errOtherContent) {
			missing = append(missing, p.File)
			continue
		} else if err != nil {
			return nil, err
		}
		if err := r.renew(ctx, key+".sig", ""); err != nil && !errors.Is(err, objstore.ErrNotFound) {
			return nil, err
		}
	}
	if len(missing) > 0 {
		return nil, &repo.MissingFilesError{Generation: from, Files: missing}
	}
	if from != st.commit.Generation {
		for _, d := range rec.Databases {
			if err := r.renew(ctx, d.Path, d.SHA256); err != nil {
				return nil, fmt.Errorf("generation %d's database %s: %w", from, r.addr.URL(d.Path), err)
			}
			if err := r.renew(ctx, d.Path+".sig", ""); err != nil && !errors.Is(err, objstore.ErrNotFound) {
				return nil, err
			}
		}
		// Its links database and libraries too (derived data: one gone
		// is no reason to refuse the snapshot).
		if h, err := r.readCommit(ctx, from); err == nil && h != nil {
			for _, k := range h.sideObjects() {
				if err := r.renew(ctx, k, ""); err != nil && !errors.Is(err, objstore.ErrNotFound) {
					return nil, err
				}
			}
		}
	}
	if _, err := r.bucket.CreateBytes(ctx, r.addr.snapshotKey(name), history.EncodeSnapshot(s)); errors.Is(err, objstore.ErrPrecondition) {
		return nil, &history.SnapshotExistsError{Name: name}
	} else if err != nil {
		return nil, err
	}
	return s, nil
}

// DeleteSnapshot removes snapshot name (*history.SnapshotNotFoundError
// when there is none): gc may then delete what only it referenced.
func (r *Repo) DeleteSnapshot(ctx context.Context, name string) error {
	if err := history.CheckSnapshotName(name); err != nil {
		return err
	}
	key := r.addr.snapshotKey(name)
	if _, err := r.bucket.Head(ctx, key); errors.Is(err, objstore.ErrNotFound) {
		return &history.SnapshotNotFoundError{Name: name}
	} else if err != nil {
		return err
	}
	return r.bucket.Delete(ctx, key)
}

// snapshotKeys are the keys of what the snapshots reference: their
// databases (and signatures) and their package objects (and signatures).
func (r *Repo) snapshotKeys(ctx context.Context) (map[string]bool, error) {
	keep := map[string]bool{}
	h := bucketHistory{r}
	names, err := h.SnapshotNames(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		s, err := h.Snapshot(ctx, n)
		var nf *history.SnapshotNotFoundError
		if errors.As(err, &nf) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, d := range s.Databases {
			keep[d.Path], keep[d.Path+".sig"] = true, true
		}
		pkgs, err := history.SnapshotPackages(ctx, h, s)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", n, err)
		}
		for _, p := range pkgs {
			k := r.addr.key(p.File)
			keep[k], keep[k+".sig"] = true, true
		}
	}
	return keep, nil
}

// ResolveSnapshot is the object host serves for the public file name of
// snapshot s (which host found s holds): a database name is the
// snapshot's database of that kind, a package its own object; with .sig,
// their signatures. objstore.ErrNotFound when there is none.
func (r *Repo) ResolveSnapshot(ctx context.Context, s *history.Snapshot, name string) (objstore.Object, error) {
	names := layout.Names{Repo: r.addr.Name}
	base, isSig := strings.CutSuffix(name, ".sig")
	var key string
	switch names.Classify(base) {
	case layout.Database, layout.DatabaseLink:
		files := strings.HasPrefix(base, r.addr.Name+".files")
		for _, d := range s.Databases {
			if d.Files() == files && (!isSig || d.Signed) {
				key = d.Path
			}
		}
	case layout.Package:
		key = r.addr.key(base)
	}
	if key == "" {
		return objstore.Object{}, fmt.Errorf("%s: %w", name, objstore.ErrNotFound)
	}
	if isSig {
		key += ".sig"
	}
	return r.bucket.Head(ctx, key)
}

// errOtherContent says an object does not hold the content expected.
var errOtherContent = errors.New("the object holds another content")

// renew makes the object key, of SHA-256 sum ("" for any), look new to
// gc when it is older than half the grace period: it is written again
// with its own content (copying an object onto itself does not renew its
// time on every server).
func (r *Repo) renew(ctx context.Context, key, sum string) error {
	obj, err := r.bucket.Head(ctx, key)
	if err != nil {
		return err
	}
	if sum != "" && obj.SHA256 != "" && obj.SHA256 != sum {
		return fmt.Errorf("%s: %w", r.addr.URL(key), errOtherContent)
	}
	if r.opts.Now().Sub(obj.Modified) < r.opts.Grace/2 {
		return nil
	}
	tmp, err := os.MkdirTemp("", "pacrepo-s3-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "object")
	if err := r.downloadTo(ctx, key, path); err != nil {
		return err
	}
	got, size, err := fsutil.HashFile(path)
	if err != nil {
		return err
	}
	if sum != "" && got != sum {
		return fmt.Errorf("%s: %w", r.addr.URL(key), errOtherContent)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return r.bucket.Rewrite(ctx, key, f, size, got)
}
