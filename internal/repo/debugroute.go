package repo

// Debug packages: makepkg's debug option makes, beside the packages of
// pkgbase B, a package B-debug of pkgbase B holding their detached
// symbols, and Arch publishes those in a repository of their own
// (REPO-debug) that db-move keeps in step with REPO. A profile's
// debug_repo asks for the same: add and watch route debug packages to it,
// and promote moves them along with their pkgbase. This file holds the
// rule of what a debug package is, the routing of files, and the
// promotion that moves them along.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
)

// debugDescPrefix begins the pkgdesc makepkg gives a debug package.
const debugDescPrefix = "Detached debugging symbols for "

// IsDebugPackage tells whether a package is the detached debug symbols of
// its pkgbase, by the rule of Arch's dbscripts: it is named PKGBASE-debug,
// its pkgbase is PKGBASE, and its pkgdesc is makepkg's "Detached debugging
// symbols for ...". A package that is only named ...-debug (its own
// pkgbase, or another description) is an ordinary package.
func IsDebugPackage(name, base, desc string) bool {
	return base != "" && name == base+"-debug" && strings.HasPrefix(desc, debugDescPrefix)
}

// DebugRoute is where RouteDebugPackages sends package files.
type DebugRoute struct {
	Debug []string // debug packages: to the debug repository
	Rest  []string // every other package: to the repository
	// Unreadable are the files whose .PKGINFO could not be read (or, for
	// uploads, that are not regular files): nothing says where they
	// belong, so the repository's add gets them and reports them.
	Unreadable []string
}

// RouteDebugPackages sorts package files by IsDebugPackage, reading only
// their .PKGINFO (the add that follows reads each completely). With
// uploads, a file that is a symbolic link or not a regular file is not
// opened (AddOptions.Uploads).
func RouteDebugPackages(files []string, uploads bool) DebugRoute {
	var r DebugRoute
	for _, f := range files {
		if uploads {
			if fi, err := os.Lstat(f); err != nil || !fi.Mode().IsRegular() {
				r.Unreadable = append(r.Unreadable, f)
				continue
			}
		}
		info, err := readInfo(f)
		switch {
		case err != nil:
			r.Unreadable = append(r.Unreadable, f)
		case IsDebugPackage(info.Name, info.Base, info.Desc):
			r.Debug = append(r.Debug, f)
		default:
			r.Rest = append(r.Rest, f)
		}
	}
	return r
}

// readInfo reads the .PKGINFO of the regular file at path, never
// blocking on a FIFO put in its place.
func readInfo(path string) (*pkgfile.Info, error) {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return pkgfile.ReadInfoFrom(f, path)
}

// DebugPromotion is what a promotion did with the debug packages of the
// pkgbases it moved.
type DebugPromotion struct {
	// Files moved from the source's debug repository to the target's.
	Files []PromotedFile `json:"promoted"`
	// Left are the debug packages of those pkgbases that stay in the
	// source's debug repository: the target names none.
	Left []PromotedFile `json:"left,omitempty"`
}

// PromoteWithDebug is Promote, moving along, from sourceDebug (the
// source's debug repository) to targetDebug (the target's), the debug
// package of each pkgbase promoted, of the same version: a promotion of
// its own, journaled by an intent in sourceDebug's store like any.
// The DebugPromotion is nil when there is no debug package to move
// (without sourceDebug, or when both share one debug repository, it is
// Promote); without targetDebug the debug packages stay where they are
// (DebugPromotion.Left).
//
// Both promotions are planned before anything changes (a refusal of
// either changes nothing), then both intents are written, the
// repository's first (a failure to write the second withdraws the
// first), then each is finished, the repository's first. A crash or an
// error after both intents leaves both for the next change of the source
// (or of its debug repository, or their check --repair) to finish; every
// package is in one repository or both at every moment. Only a crash
// between the two writes leaves the debug package behind in the source's
// debug repository: never lost, and promoted by a promote of its own.
func PromoteWithDebug(ctx context.Context, source, target, sourceDebug, targetDebug PromotionStore, req PromoteRequest) ([]PromotedFile, *DebugPromotion, error) {
	if sourceDebug == nil || targetDebug != nil && sourceDebug.Same(targetDebug) {
		// One debug repository for both holds the debug packages already.
		files, err := Promote(ctx, source, target, req)
		return files, nil, err
	}
	if !req.DryRun {
		// The plans below are of the repositories as they will be.
		if err := finishPendingTo(ctx, source, target); err != nil {
			return nil, nil, err
		}
		if targetDebug != nil {
			if err := finishPendingTo(ctx, sourceDebug, targetDebug); err != nil {
				return nil, nil, fmt.Errorf("debug packages: %w", err)
			}
		}
	}
	plan := req
	plan.DryRun = true
	files, err := Promote(ctx, source, target, plan)
	if err != nil {
		return nil, nil, err
	}
	companions, err := debugCompanions(ctx, sourceDebug, files)
	if err != nil {
		return nil, nil, err
	}
	if targetDebug == nil || len(companions) == 0 {
		if !req.DryRun {
			files, err = Promote(ctx, source, target, req)
		}
		if len(companions) == 0 {
			return files, nil, err
		}
		return files, &DebugPromotion{Files: []PromotedFile{}, Left: companions}, err
	}
	var names []string
	for _, c := range companions {
		names = append(names, c.Name)
	}
	debugReq := PromoteRequest{Request: plan.Request, Names: names, Copy: req.Copy}
	debugFiles, err := Promote(ctx, sourceDebug, targetDebug, debugReq)
	if err != nil {
		return nil, nil, fmt.Errorf("debug packages: %w", err)
	}
	if req.DryRun {
		return files, &DebugPromotion{Files: debugFiles}, nil
	}
	intent := &Promotion{Version: promotionVersion, ID: rand.Text(), Target: target.Address(), Copy: req.Copy, Files: files}
	if err := source.WritePromotion(ctx, intent); err != nil {
		return nil, nil, err
	}
	source.Step("promote-intent")
	err = sourceDebug.WritePromotion(ctx, &Promotion{Version: promotionVersion, ID: rand.Text(), Target: targetDebug.Address(), Copy: req.Copy, Files: debugFiles})
	if err != nil {
		// Nothing of the promotion began: it is withdrawn whole.
		if werr := source.RemovePromotion(ctx, intent); werr != nil {
			return nil, nil, errors.Join(err, werr)
		}
		return nil, nil, fmt.Errorf("debug packages: %w", err)
	}
	source.Step("promote-debug-intent")
	if err := FinishPromotion(ctx, source, target); err != nil {
		return nil, nil, err
	}
	if err := FinishPromotion(ctx, sourceDebug, targetDebug); err != nil {
		return files, nil, fmt.Errorf("debug packages: %w", err)
	}
	return files, &DebugPromotion{Files: debugFiles}, nil
}

// PromoteWithDebug is PromoteWithDebug over repository directories; a nil
// sourceDebug or targetDebug is none.
func (r *Repo) PromoteWithDebug(ctx context.Context, target, sourceDebug, targetDebug *Repo, req PromoteRequest) ([]PromotedFile, *DebugPromotion, error) {
	return PromoteWithDebug(ctx, r.PromotionStore(), target.PromotionStore(), sourceDebug.promotionStoreOrNil(), targetDebug.promotionStoreOrNil(), req)
}

// promotionStoreOrNil is r's PromotionStore, nil for a nil r.
func (r *Repo) promotionStoreOrNil() PromotionStore {
	if r == nil {
		return nil
	}
	return r.PromotionStore()
}

// debugCompanions are the debug packages debugRepo registers for the
// promoted files: of a promoted pkgbase, at the version promoted.
func debugCompanions(ctx context.Context, debugRepo PromotionStore, files []PromotedFile) ([]PromotedFile, error) {
	entries, err := debugRepo.Registered(ctx)
	if err != nil {
		return nil, err
	}
	promoted := map[string]bool{}
	for _, f := range files {
		promoted[f.Base+"\x00"+f.Version] = true
	}
	var out []PromotedFile
	for i := range entries {
		e := &entries[i]
		if IsDebugPackage(e.Name, e.Base, e.Desc) && promoted[e.Base+"\x00"+e.Version] {
			out = append(out, PromotedFile{Package: history.Package{Name: e.Name, Version: e.Version, File: e.Filename, Size: e.CSize,
				SHA256: e.SHA256Sum}, Base: e.Base, Source: debugRepo.FileSource(e)})
		}
	}
	slices.SortFunc(out, func(a, b PromotedFile) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// finishPendingTo finishes source's pending promotion to target; one to
// another target is left for Promote to refuse.
func finishPendingTo(ctx context.Context, source, target PromotionStore) error {
	pending, err := source.ReadPromotion(ctx)
	if err != nil || pending == nil || pending.Target != target.Address() {
		return err
	}
	return FinishPromotion(ctx, source, target)
}
