package repo

// Promotion moves packages from one repository (the source) to another
// (the target), each a directory or a bucket (PromotionStore), in one
// transaction across both, journaled by an intent record in the source's
// store (a directory's .NAME.pacrepo.history/promotion.json, a bucket's
// .pacrepo/NAME/promotion.json):
//
//  1. the promotion is planned (PlanPromotion) and its intent written,
//     naming every file, where it is read from, and the target;
//  2. the target registers the files (an add of its own, copying them,
//     streamed from or to a bucket: its own transaction or commit);
//  3. unless it copies, the source unregisters the entries it still
//     registers with the very files promoted (a remove: its own
//     transaction, retiring by the source's rules);
//  4. the intent is removed, if it is still this promotion's (another
//     process may have finished it, and a new promotion written its own).
//
// The target registers before the source unregisters, so a crash at any
// step leaves each package in one repository or both, never in neither;
// the next promote, or check --repair, finds the intent and finishes
// steps 2 to 4 (each skips what is done); the command layer has every
// change of the source finish it first.

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/version"
)

// PromoteRequest is what promote moves.
type PromoteRequest struct {
	Request
	Names []string
	// All moves every package whose version differs from the target's.
	All bool
	// Snapshot, when set, moves exactly what that snapshot of the source
	// holds (Names and All select among it).
	Snapshot string
	// Copy keeps the packages in the source.
	Copy bool
}

// PromotedFile is one package file a promotion moves.
type PromotedFile struct {
	history.Package
	// Base is the package's pkgbase (its name when it has none).
	Base string `json:"base,omitempty"`
	// Source is where the file is read from: the source directory or a
	// snapshot's pinned copy, or the object's s3:// address.
	Source string `json:"source"`
}

// Promotion is the intent of a promotion, kept until it is finished.
type Promotion struct {
	Version int `json:"version"`
	// ID is this promotion's own (random): of two intents of the same
	// files, one finished removes its own only, never the other written
	// since ("" in an intent of an older pacrepo).
	ID     string         `json:"id,omitempty"`
	Target string         `json:"target"` // the target's database path or s3:// address
	Copy   bool           `json:"copy,omitempty"`
	Files  []PromotedFile `json:"files"`
	// Revision is the store's version of the record read (a bucket's
	// ETag): what RemovePromotion removes, and nothing written since.
	Revision string `json:"-"`
}

const promotionVersion = 1

// NewerInTargetError says the target registers a newer version of a
// package a promotion would replace: nothing changed.
type NewerInTargetError struct {
	Name, Version, TargetVersion string
}

func (e *NewerInTargetError) Error() string {
	return fmt.Sprintf("the target has %s %s, newer than %s (nothing changed)", e.Name, e.TargetVersion, e.Version)
}

// PromotionPendingError says an earlier promotion of the source was
// interrupted and is not to another target: finish it first.
type PromotionPendingError struct{ Target string }

func (e *PromotionPendingError) Error() string {
	return fmt.Sprintf("an interrupted promotion to %s is pending (check --repair or promote --to it finishes it)", e.Target)
}

// PlanPromotion selects what a promotion moves from the source's entries
// to a target registering target: names (each must be registered in the
// source), or with all every entry whose version differs from the
// target's, and with each the other packages of its pkgbase (a split
// package moves whole). A target's newer version is refused
// (*NewerInTargetError); an identical one is moved all the same (its
// registration in the target is no change).
func PlanPromotion(source, target []repodb.Entry, names []string, all bool) ([]repodb.Entry, error) {
	inTarget := map[string]*repodb.Entry{}
	for i := range target {
		inTarget[target[i].Name] = &target[i]
	}
	bySource := map[string]*repodb.Entry{}
	byBase := map[string][]*repodb.Entry{}
	baseOf := func(e *repodb.Entry) string {
		if e.Base != "" {
			return e.Base
		}
		return e.Name
	}
	for i := range source {
		e := &source[i]
		bySource[e.Name] = e
		byBase[baseOf(e)] = append(byBase[baseOf(e)], e)
	}
	want := map[string]bool{}
	if all {
		for i := range source {
			if t := inTarget[source[i].Name]; t == nil || t.Version != source[i].Version {
				want[source[i].Name] = true
			}
		}
	}
	var unknown []string
	for _, n := range names {
		if bySource[n] == nil {
			unknown = append(unknown, n)
		}
		want[n] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("not registered in the source: %s", strings.Join(unknown, ", "))
	}
	for n := range want {
		for _, e := range byBase[baseOf(bySource[n])] {
			want[e.Name] = true
		}
	}
	var out []repodb.Entry
	for i := range source {
		e := &source[i]
		if !want[e.Name] {
			continue
		}
		if t := inTarget[e.Name]; t != nil && version.Compare(t.Version, e.Version) > 0 {
			return nil, &NewerInTargetError{Name: e.Name, Version: e.Version, TargetVersion: t.Version}
		}
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b repodb.Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// promotionPath is the path of the source's promotion intent.
func (r *Repo) promotionPath() string { return filepath.Join(r.History().Root, "promotion.json") }

// PendingPromotion is the intent of an interrupted promotion of this
// repository; nil when there is none.
func (r *Repo) PendingPromotion() (*Promotion, error) {
	b, err := os.ReadFile(r.promotionPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.promotionPath(), err)
	}
	return DecodePromotion(b, r.promotionPath())
}

// Promote moves (or with Copy, copies) packages of this repository to
// target: Promote over both directories.
func (r *Repo) Promote(ctx context.Context, target *Repo, req PromoteRequest) ([]PromotedFile, error) {
	return Promote(ctx, r.PromotionStore(), target.PromotionStore(), req)
}

// FinishPromotion finishes the pending promotion of this repository to
// target: FinishPromotion over both directories.
func (r *Repo) FinishPromotion(ctx context.Context, target *Repo) error {
	return FinishPromotion(ctx, r.PromotionStore(), target.PromotionStore())
}

// Promote moves (or with Copy, copies) packages of source to target,
// planned by PlanPromotion, journaled by an intent record (see above). A
// pending promotion to the same target is finished first; one to another
// target is a *PromotionPendingError. It returns the files promoted; a dry
// run plans and changes nothing.
func Promote(ctx context.Context, source, target PromotionStore, req PromoteRequest) ([]PromotedFile, error) {
	if source.Same(target) {
		return nil, fmt.Errorf("promote: %s is the source itself", target.Address())
	}
	if pending, err := source.ReadPromotion(ctx); err != nil {
		return nil, err
	} else if pending != nil {
		if pending.Target != target.Address() {
			return nil, &PromotionPendingError{Target: pending.Target}
		}
		if !req.DryRun {
			if err := FinishPromotion(ctx, source, target); err != nil {
				return nil, err
			}
		}
	}
	var entries []repodb.Entry
	sourceOf := source.FileSource
	if req.Snapshot != "" {
		var err error
		if entries, sourceOf, err = source.SnapshotFiles(ctx, req.Snapshot); err != nil {
			return nil, err
		}
	} else {
		var err error
		if entries, err = source.Registered(ctx); err != nil {
			return nil, err
		}
	}
	targetEntries, err := target.Registered(ctx)
	if err != nil {
		return nil, err
	}
	names := req.Names
	if req.Snapshot != "" && !req.All && len(names) == 0 {
		for _, e := range entries {
			names = append(names, e.Name)
		}
	}
	sel, err := PlanPromotion(entries, targetEntries, names, req.All)
	if err != nil {
		return nil, err
	}
	p := &Promotion{Version: promotionVersion, ID: rand.Text(), Target: target.Address(), Copy: req.Copy}
	for i := range sel {
		e := &sel[i]
		p.Files = append(p.Files, PromotedFile{Package: history.Package{Name: e.Name, Version: e.Version,
			File: e.Filename, Size: e.CSize, SHA256: e.SHA256Sum}, Base: cmp.Or(e.Base, e.Name), Source: sourceOf(e)})
	}
	if req.DryRun || len(p.Files) == 0 {
		return p.Files, nil
	}
	if err := source.WritePromotion(ctx, p); err != nil {
		return nil, err
	}
	source.Step("promote-intent")
	return p.Files, FinishPromotion(ctx, source, target)
}

// writePromotion writes the intent, durably, only if none is pending.
func (r *Repo) writePromotion(p *Promotion) error {
	b, err := EncodePromotion(p)
	if err != nil {
		return err
	}
	dir := r.History().Root
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", r.promotionPath(), err)
	}
	tmp, err := fsutil.WriteTemp(dir, "promotion.json", b, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", r.promotionPath(), err)
	}
	defer fsutil.RemoveIfExists(tmp)
	if err := fsutil.RenameNoReplace(tmp, r.promotionPath()); errors.Is(err, fs.ErrExist) {
		return &PromotionPendingError{Target: "another target"}
	} else if err != nil {
		return fmt.Errorf("write %s: %w", r.promotionPath(), err)
	}
	return fsutil.SyncDir(dir)
}

// FinishPromotion finishes the pending promotion of source to target
// (none: nothing to do): the target registers what it does not register
// yet (not over a newer version it got since, nor a file a later change
// of the source retired), the source unregisters what the target
// registers, the very files, if it still registers them, and the intent
// goes.
func FinishPromotion(ctx context.Context, source, target PromotionStore) error {
	p, err := source.ReadPromotion(ctx)
	if err != nil || p == nil {
		return err
	}
	if p.Target != target.Address() {
		return &PromotionPendingError{Target: p.Target}
	}
	have, versions, err := registeredIn(ctx, target)
	if err != nil {
		return err
	}
	// What the source's store cannot lend in place is downloaded into a
	// temporary directory, made on first use.
	var downloads string
	defer func() {
		if downloads != "" {
			os.RemoveAll(downloads)
		}
	}()
	downloadDir := func() (string, error) {
		if downloads == "" {
			d, err := os.MkdirTemp("", "pacrepo-promote-")
			if err != nil {
				return "", err
			}
			downloads = d
		}
		return downloads, nil
	}
	var add []string
	fetchedAny := false
	for _, f := range p.Files {
		switch {
		case have[f.File] == f.SHA256:
		case versions[f.Name] != "" && version.Compare(versions[f.Name], f.Version) > 0:
			// The target got a newer version since the plan: it stays,
			// and so does the source's.
		default:
			path, fetched, err := source.Fetch(ctx, f, downloadDir)
			if err != nil {
				return fmt.Errorf("promote to %s: %w", p.Target, err)
			}
			if path == "" {
				continue // a later change of the source retired it: the source keeps what it registers
			}
			add = append(add, path)
			fetchedAny = fetchedAny || fetched
		}
	}
	if len(add) > 0 {
		if err := target.Register(ctx, add, fetchedAny); err != nil {
			if refusedByTarget(err) {
				// Finishing again would get the same answer and fail
				// every later change of the source: the promotion ends
				// here, what the target registers stays in both.
				if rerr := source.RemovePromotion(ctx, p); rerr != nil {
					err = errors.Join(err, rerr)
				}
			}
			return fmt.Errorf("promote to %s: %w", p.Target, err)
		}
	}
	source.Step("promote-registered")
	if !p.Copy {
		// Only what the target registers, the very file, leaves the source.
		if have, _, err = registeredIn(ctx, target); err != nil {
			return err
		}
		var moved []PromotedFile
		for _, f := range p.Files {
			if have[f.File] == f.SHA256 {
				moved = append(moved, f)
			}
		}
		if len(moved) > 0 {
			if err := source.Unregister(ctx, moved); err != nil {
				return err
			}
		}
		source.Step("promote-unregistered")
	}
	// Another process may have finished this intent meanwhile, and a new
	// promotion written its own: that one stays.
	return source.RemovePromotion(ctx, p)
}

// unregisterPromoted removes, in one transaction, the entries that still
// register the very files promoted: an entry replaced since (another
// version or build) stays.
func (r *Repo) unregisterPromoted(ctx context.Context, files []PromotedFile) error {
	promoted := map[string]string{}
	for _, f := range files {
		promoted[f.Name] = f.File + "\x00" + f.SHA256
	}
	var names []string
	for n := range promoted {
		names = append(names, n)
	}
	slices.Sort(names)
	_, err := r.transact(ctx, "promote", Request{}, scanFor(Request{}).scoped(names, nil), func(s *scanResult, db *dbContent) (*txn, error) {
		var still []string
		for _, e := range s.entries {
			if promoted[e.Name] == e.Filename+"\x00"+e.SHA256Sum {
				still = append(still, e.Name)
			}
		}
		if len(still) == 0 {
			return &txn{command: "promote", plan: &Plan{}, snap: s, db: db}, nil
		}
		p, err := planRemove(s, still, planOptions{Force: true})
		return &txn{command: "promote", plan: p, snap: s, db: db}, err
	})
	return err
}

// sameRepository tells whether a and b are one repository: the same
// database name in the same directory (judged by identity).
func sameRepository(a, b *Repo) bool {
	if a.opts.DB.Name != b.opts.DB.Name {
		return false
	}
	da, errA := os.Stat(a.dir())
	db, errB := os.Stat(b.dir())
	if errA != nil || errB != nil {
		return filepath.Clean(a.dir()) == filepath.Clean(b.dir())
	}
	return os.SameFile(da, db)
}

// refusedByTarget tells whether err is the target's add refusing the files
// themselves (unreadable, a signature its policy refuses, another file
// under their name), which no retry changes; nothing was registered.
func refusedByTarget(err error) bool {
	var unreadable *UnreadableFilesError
	var collision *CollisionError
	return errors.As(err, &unreadable) || errors.As(err, &collision)
}

// registeredIn is what target registers: the SHA-256 of each file, the
// version of each name (none without a database).
func registeredIn(ctx context.Context, target PromotionStore) (files, versions map[string]string, _ error) {
	files, versions = map[string]string{}, map[string]string{}
	es, err := target.Registered(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range es {
		files[e.Filename], versions[e.Name] = e.SHA256Sum, e.Version
	}
	return files, versions, nil
}
