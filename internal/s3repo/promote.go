package s3repo

// A bucket as a promotion's source or target (repo.PromotionStore): the
// one promotion algorithm of every store (repo.Promote) runs over it. The
// intent record is .pacrepo/NAME/promotion.json, created only if absent
// (If-None-Match: *), in the format of a directory's; gc never takes it
// (it is none of the objects gc collects). Package objects are read by
// streaming them into the promotion's temporary directory, verified
// against the SHA-256 the intent names, with their .sig; the target's own
// add judges them.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// promotionKey is the key of the repository's promotion intent.
func (a Address) promotionKey() string { return a.stateKey("promotion.json") }

// PromotionStore is the repository as a promotion sees it; as a target it
// registers the files as an add asked nothing more does.
func (r *Repo) PromotionStore() repo.PromotionStore { return bucketStore{r: r} }

// PromotionStoreAdding is PromotionStore whose registration embeds the
// signatures when add asks it, as a plain add into the bucket does (its
// profile's add_params: --include-sigs): a promotion's target decides as
// its add would.
func (r *Repo) PromotionStoreAdding(add repo.Request) repo.PromotionStore {
	return bucketStore{r: r, add: add}
}

// PendingPromotion is the intent of an interrupted promotion of this
// repository; nil when there is none.
func (r *Repo) PendingPromotion(ctx context.Context) (*repo.Promotion, error) {
	return bucketStore{r: r}.ReadPromotion(ctx)
}

// bucketStore is a repository in a bucket as a promotion's source or
// target.
type bucketStore struct {
	r   *Repo
	add repo.Request // what the target's add is asked
}

func (b bucketStore) Address() string { return b.r.addr.String() }

func (b bucketStore) Name() string { return b.r.addr.Name }

func (b bucketStore) Same(other repo.PromotionStore) bool {
	o, ok := other.(bucketStore)
	return ok && o.r.addr.Bucket == b.r.addr.Bucket && o.r.addr.Prefix == b.r.addr.Prefix && o.r.addr.Name == b.r.addr.Name
}

func (b bucketStore) Registered(ctx context.Context) ([]repodb.Entry, error) {
	es, err := b.r.Entries(ctx)
	var none *NoRepositoryError
	if errors.As(err, &none) {
		return nil, nil
	}
	return es, err
}

func (b bucketStore) FileSource(e *repodb.Entry) string {
	return b.r.addr.URL(b.r.addr.key(e.Filename))
}

// SnapshotFiles reads the snapshot's database; its package objects are
// where the repository keeps them (gc spares what a snapshot names).
func (b bucketStore) SnapshotFiles(ctx context.Context, name string) ([]repodb.Entry, func(*repodb.Entry) string, error) {
	s, err := b.r.Snapshots().Snapshot(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	db, ok := s.DB()
	if !ok {
		return nil, nil, fmt.Errorf("snapshot %s names no database", s.Name)
	}
	tmp, err := os.MkdirTemp("", "pacrepo-s3-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	p := filepath.Join(tmp, db.Name)
	if err := b.r.download(ctx, db.Path, db.SHA256, p); err != nil {
		return nil, nil, err
	}
	entries, err := repodb.Read(p, repodb.ReadOptions{})
	if err != nil {
		return nil, nil, &DamagedError{URL: b.r.addr.URL(db.Path), Err: err}
	}
	return entries, b.FileSource, nil
}

func (b bucketStore) ReadPromotion(ctx context.Context) (*repo.Promotion, error) {
	key := b.r.addr.promotionKey()
	body, obj, err := b.r.bucket.Get(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", b.r.addr.URL(key), err)
	}
	p, err := repo.DecodePromotion(data, b.r.addr.URL(key))
	if err != nil {
		return nil, err
	}
	p.Revision = obj.ETag
	return p, nil
}

func (b bucketStore) WritePromotion(ctx context.Context, p *repo.Promotion) error {
	data, err := repo.EncodePromotion(p)
	if err != nil {
		return err
	}
	if err := b.r.ensureConditionalWrites(ctx); err != nil {
		return err
	}
	key := b.r.addr.promotionKey()
	if _, err := b.r.bucket.CreateBytes(ctx, key, data); errors.Is(err, objstore.ErrPrecondition) {
		return &repo.PromotionPendingError{Target: "another target"}
	} else if err != nil {
		return fmt.Errorf("write %s: %w", b.r.addr.URL(key), err)
	}
	return nil
}

// RemovePromotion deletes the intent only if it is still the object read
// (If-Match: its ETag; the intent's random ID makes the ETags of two
// intents of the same files differ): another process may have finished
// it and a new promotion written its own since, which stays.
func (b bucketStore) RemovePromotion(ctx context.Context, p *repo.Promotion) error {
	key := b.r.addr.promotionKey()
	remove := func() error { return b.r.bucket.DeleteIfMatch(ctx, key, p.Revision) }
	if p.Revision == "" {
		// The server gave the object no ETag (one put into its storage
		// by other means): it is judged by its ID, read again, and a new
		// intent written between that read and the delete would go too.
		if now, err := b.ReadPromotion(ctx); err != nil || now == nil || now.ID != p.ID {
			return err
		}
		remove = func() error { return b.r.bucket.Delete(ctx, key) }
	}
	if err := remove(); err != nil && !errors.Is(err, objstore.ErrPrecondition) {
		return fmt.Errorf("remove %s: %w", b.r.addr.URL(key), err)
	}
	return nil
}

// Fetch downloads the package object f.Source names, and its .sig, into
// the promotion's temporary directory.
func (b bucketStore) Fetch(ctx context.Context, f repo.PromotedFile, downloads func() (string, error)) (string, bool, error) {
	key, ok := strings.CutPrefix(f.Source, b.r.addr.URL(""))
	if !ok || key != b.r.addr.key(path.Base(key)) || path.Base(key) != f.File {
		return "", false, fmt.Errorf("%s: not a package object of %s", f.Source, b.r.addr)
	}
	dir, err := downloads()
	if err != nil {
		return "", false, err
	}
	dst := filepath.Join(dir, f.File)
	sum, err := b.r.fetchObject(ctx, key, dst)
	if errors.Is(err, objstore.ErrNotFound) {
		return "", false, nil // gc took it: a later change of the source let it go
	}
	if err != nil {
		return "", false, err
	}
	if sum != f.SHA256 {
		return "", false, &DamagedError{URL: f.Source, Err: fmt.Errorf("SHA-256 %s, the promotion names %s", sum, f.SHA256)}
	}
	if _, err := b.r.fetchObject(ctx, key+".sig", dst+".sig"); err != nil && !errors.Is(err, objstore.ErrNotFound) {
		return "", false, err
	}
	return dst, true, nil
}

// fetchObject streams the object key into the new file dst (readable by
// all, as a package file of a directory is) and returns its SHA-256.
func (r *Repo) fetchObject(ctx context.Context, key, dst string) (string, error) {
	body, _, err := r.bucket.Get(ctx, key)
	if err != nil {
		return "", err
	}
	defer body.Close()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", r.addr.URL(key), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Register publishes the files as add does, by the repository's rules
// (signature policy, canonical names, the signatures embedded when the
// store's add asks it), never over a newer version.
func (b bucketStore) Register(ctx context.Context, paths []string, _ bool) error {
	_, err := b.r.Add(ctx, paths, AddOptions{PreventDowngrade: true, EmbedSignatures: b.add.EmbedSignatures})
	if ce := (*CollisionError)(nil); errors.As(err, &ce) {
		// The promotion's word for a refusal no retry changes.
		return &repo.CollisionError{Source: ce.Source, Existing: ce.URL}
	}
	return err
}

// Unregister commits the removal of the entries that still register the
// very files promoted; their objects are kept until gc, as remove's are.
func (b bucketStore) Unregister(ctx context.Context, files []repo.PromotedFile) error {
	promoted := map[string]string{}
	var names []string
	for _, f := range files {
		promoted[f.Name] = f.File + "\x00" + f.SHA256
		names = append(names, f.Name)
	}
	slices.Sort(names)
	_, err := b.r.changeScanned(ctx, repo.Request{}, scanOptions{names: names}, func(s *repo.Snapshot) (*repo.Plan, error) {
		var still []string
		for _, e := range s.Entries {
			if promoted[e.Name] == e.Filename+"\x00"+e.SHA256Sum {
				still = append(still, e.Name)
			}
		}
		if len(still) == 0 {
			return &repo.Plan{}, nil
		}
		return repo.PlanRemove(s, still, true)
	})
	return err
}

func (b bucketStore) Step(step string) { crashPoint(step) }
