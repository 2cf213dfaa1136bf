package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// PromotionStore is a repository as a promotion sees it, whichever store
// holds it (a directory here, a bucket in s3repo): the one promotion
// algorithm (Promote, FinishPromotion) runs over it as source and as
// target.
type PromotionStore interface {
	// Address names the repository (its database path, or its s3://
	// address): the intent's Target.
	Address() string
	// Name is the repository's name (NAME of NAME.db).
	Name() string
	// Same tells whether other is this very repository.
	Same(other PromotionStore) bool
	// Registered is what the repository registers: nothing (nil) before
	// its first change.
	Registered(ctx context.Context) ([]repodb.Entry, error)
	// FileSource is where a registered entry's file is read from (a
	// PromotedFile's Source).
	FileSource(e *repodb.Entry) string
	// SnapshotFiles is what snapshot name holds, and where each file of
	// it is read from.
	SnapshotFiles(ctx context.Context, name string) ([]repodb.Entry, func(*repodb.Entry) string, error)
	// ReadPromotion is the pending promotion's intent; nil when none.
	ReadPromotion(ctx context.Context) (*Promotion, error)
	// WritePromotion records the intent, durably, only if none is
	// pending (else *PromotionPendingError).
	WritePromotion(ctx context.Context, p *Promotion) error
	// RemovePromotion removes the intent p, as ReadPromotion read it:
	// the promotion is finished. Another intent written since (after
	// another process finished p) stays.
	RemovePromotion(ctx context.Context, p *Promotion) error
	// Fetch is a local path of f's file, its .sig beside it when it has
	// one: the file itself when it is local, else a download into the
	// promotion's temporary directory (downloads makes it on first use),
	// said by fetched. "" when the file is gone (a later change of the
	// source retired it).
	Fetch(ctx context.Context, f PromotedFile, downloads func() (string, error)) (path string, fetched bool, err error)
	// Register adds the files at paths by the repository's own rules, as
	// its add does, never over a newer version; fetched says they are
	// downloads of the promotion's own, which may be moved.
	Register(ctx context.Context, paths []string, fetched bool) error
	// Unregister removes, in one change, the entries that still register
	// the very files promoted: an entry replaced since stays.
	Unregister(ctx context.Context, files []PromotedFile) error
	// Step marks a step of the promotion (the crash tests stop there).
	Step(step string)
}

// EncodePromotion is the intent record's content, in every store.
func EncodePromotion(p *Promotion) ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// DecodePromotion reads an intent record found at where.
func DecodePromotion(data []byte, where string) (*Promotion, error) {
	var p Promotion
	if err := json.Unmarshal(data, &p); err != nil || p.Version != promotionVersion || p.Target == "" {
		return nil, fmt.Errorf("read %s: not a promotion intent", where)
	}
	return &p, nil
}

// PromotionStore is the repository directory as a promotion sees it; as
// a target it registers the files as an add asked nothing more does.
func (r *Repo) PromotionStore() PromotionStore { return dirStore{r: r} }

// PromotionStoreAdding is PromotionStore whose registration is asked add,
// as a plain add into the directory is (its profile's add_params:
// --include-sigs, -v): a promotion's target decides as its add would.
func (r *Repo) PromotionStoreAdding(add Request) PromotionStore { return dirStore{r: r, add: add} }

// dirStore is a repository directory as a promotion's source or target.
type dirStore struct {
	r   *Repo
	add Request // what the target's add is asked
}

func (d dirStore) Address() string { return d.r.opts.DB.DBPath() }

func (d dirStore) Name() string { return d.r.opts.DB.Name }

func (d dirStore) Same(other PromotionStore) bool {
	o, ok := other.(dirStore)
	return ok && sameRepository(d.r, o.r)
}

func (d dirStore) Registered(ctx context.Context) ([]repodb.Entry, error) {
	es, err := d.r.Entries(ctx)
	var noDB *NoDatabaseError
	if errors.As(err, &noDB) {
		return nil, nil
	}
	return es, err
}

func (d dirStore) FileSource(e *repodb.Entry) string { return filepath.Join(d.r.dir(), e.Filename) }

func (d dirStore) SnapshotFiles(ctx context.Context, name string) ([]repodb.Entry, func(*repodb.Entry) string, error) {
	h := d.r.History()
	s, err := h.Snapshot(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	db, ok := s.DB()
	if !ok {
		return nil, nil, fmt.Errorf("snapshot %s names no database", s.Name)
	}
	entries, err := repodb.Read(h.Path(db), repodb.ReadOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", h.Path(db), err)
	}
	return entries, func(e *repodb.Entry) string {
		return h.PinnedPath(history.Package{File: e.Filename, SHA256: e.SHA256Sum})
	}, nil
}

func (d dirStore) ReadPromotion(context.Context) (*Promotion, error) { return d.r.PendingPromotion() }

func (d dirStore) WritePromotion(_ context.Context, p *Promotion) error { return d.r.writePromotion(p) }

// RemovePromotion removes the intent if it is still p's. A file cannot be
// removed on a condition: another process finishing p and a new intent
// written between this read and the removal (a window of two system
// calls, against a promotion's two transactions) would go too, leaving
// that promotion's packages in both repositories at worst, never in
// neither.
func (d dirStore) RemovePromotion(_ context.Context, p *Promotion) error {
	if now, err := d.r.PendingPromotion(); err != nil || now == nil || now.ID != p.ID {
		return err
	}
	if err := os.Remove(d.r.promotionPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", d.r.promotionPath(), err)
	}
	return fsutil.SyncDir(d.r.History().Root)
}

func (d dirStore) Fetch(_ context.Context, f PromotedFile, _ func() (string, error)) (string, bool, error) {
	if _, err := os.Lstat(f.Source); errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	return f.Source, false, nil
}

func (d dirStore) Register(ctx context.Context, paths []string, fetched bool) error {
	mode := Copy
	if fetched {
		mode = Move // a download of the promotion's: linked into place when it can be
	}
	// PreventDowngrade judges again under the target's lock: a newer
	// version registered meanwhile stays.
	_, err := d.r.Add(ctx, paths, AddOptions{Request: d.add, Mode: mode, PreventDowngrade: true})
	return err
}

func (d dirStore) Unregister(ctx context.Context, files []PromotedFile) error {
	return d.r.unregisterPromoted(ctx, files)
}

func (d dirStore) Step(step string) { crashPoint(step) }
