package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/s3repo"
)

// debugSigning is what the command line asks to sign, in the debug
// repository too: add's and watch's -s (its databases), add's
// --sign-packages (the packages that come without a .sig), with -k's key.
type debugSigning struct {
	databases, packages bool
	key                 string
}

// debugRepository is the repository a profile routes debug packages to
// (debug_repo), with its own options, signature policy and signing: a
// directory (dir) or a repository in object storage (bucket).
type debugRepository struct {
	dir    *repo.Repo
	bucket *s3repo.Repo
}

// promotionStore is the repository as a promotion's source or target.
func (d *debugRepository) promotionStore() repo.PromotionStore {
	if d.bucket != nil {
		return d.bucket.PromotionStore()
	}
	return d.dir.PromotionStore()
}

// target is the repository as an add into it, asked o.
func (d *debugRepository) target(o repo.AddOptions) addTarget {
	if d.bucket != nil {
		return objectAddTarget(d.bucket, s3repo.AddOptions{DryRun: o.DryRun, Force: o.Force, OnlyNew: o.OnlyNew,
			PreventDowngrade: o.PreventDowngrade, EmbedSignatures: o.EmbedSignatures})
	}
	return dirAddTarget(d.dir, o)
}

// debugRepoOf is the repository p routes debug packages to (debug_repo),
// a directory or in object storage, with that repository's own options,
// signature policy and signing, and what the command line asks to sign;
// nil when p names none.
func (g *Globals) debugRepoOf(cmd *cobra.Command, cfg *config.Config, p *config.Profile, sign debugSigning) (*debugRepository, error) {
	dp := p.DebugProfile()
	if dp == nil {
		return nil, nil
	}
	if sameRepositoryAddress(dp.Repo, p.Repo) {
		// --repo may have made the profile's repository its debug_repo.
		return nil, usage(fmt.Errorf("debug_repo %s is the repository itself (%s)", p.DebugRepo, p.Repo))
	}
	g.applyFlagOverrides(dp)
	sel := &profileSelection{Config: cfg, Name: dp.Name, Profile: dp, UI: g.output()}
	if config.IsObjectStorage(dp.Repo) {
		if sign.packages {
			// As add --sign-packages to a bucket is refused.
			return nil, usage(fmt.Errorf("add --sign-packages: debug_repo %s is in object storage (%s): sign the debug packages before publishing them",
				p.DebugRepo, dp.Repo))
		}
		r, err := g.objectRepo(cmd.Context(), sel, changeFlags{sign: sign.databases, key: sign.key})
		if err != nil {
			return nil, fmt.Errorf("debug_repo %s: %w", p.DebugRepo, err)
		}
		return &debugRepository{bucket: r}, nil
	}
	opts, err := g.repoOptionsFor(cmd, sel)
	if err != nil {
		return nil, fmt.Errorf("debug_repo %s: %w", p.DebugRepo, err)
	}
	if sign.databases || dp.SignsDatabases() {
		if opts.DatabaseSigner, err = signer(dp, sign.key); err != nil {
			return nil, err
		}
	}
	if sign.packages || dp.SignPackages {
		if opts.PackageSigner, err = signer(dp, sign.key); err != nil {
			return nil, err
		}
	}
	return &debugRepository{dir: repo.New(opts)}, nil
}

// finishPromotions finishes, before a change of source (sel's
// repository, a directory or in object storage), an interrupted promotion
// from it and one from its debug repository: a promotion moves the debug
// packages of what it moves in a promotion of their own, which the next
// change of the source finishes with its own.
func (g *Globals) finishPromotions(cmd *cobra.Command, sel *profileSelection, source repo.PromotionStore) error {
	if err := g.finishPromotionOf(cmd, sel.Config, source); err != nil {
		return err
	}
	dp := sel.Profile.DebugProfile()
	if dp == nil {
		return nil
	}
	// Only a pending promotion needs the debug repository's options (its
	// keyring read, its signer): a change of the source is not to fail
	// for them.
	g.applyFlagOverrides(dp) // a copy of the profile's
	pending, err := g.pendingPromotionAt(cmd, dp)
	if err != nil || pending == nil {
		if err != nil {
			err = fmt.Errorf("debug_repo %s: %w", sel.Profile.DebugRepo, err)
		}
		return err
	}
	debugRepo, err := g.debugRepoOf(cmd, sel.Config, sel.Profile, debugSigning{})
	if err != nil {
		return err
	}
	return g.finishPromotionOf(cmd, sel.Config, debugRepo.promotionStore())
}

// pendingPromotionAt is the intent of an interrupted promotion from p's
// repository, read without p's options (its endpoint alone); nil when
// there is none.
func (g *Globals) pendingPromotionAt(cmd *cobra.Command, p *config.Profile) (*repo.Promotion, error) {
	if config.IsObjectStorage(p.Repo) {
		addr, err := s3repo.ParseURL(p.Repo)
		if err != nil {
			return nil, usage(err)
		}
		bucket, err := objstore.Open(cmd.Context(), objstore.Config{Bucket: addr.Bucket, Endpoint: p.S3Endpoint})
		if err != nil {
			return nil, err
		}
		return s3repo.New(addr, bucket, s3repo.Options{}).PendingPromotion(cmd.Context())
	}
	loc, err := repodb.ParseLocation(p.Repo)
	if err != nil {
		return nil, usage(err)
	}
	return repo.New(repo.Options{DB: loc}).PendingPromotion()
}

// addTarget is one repository an add goes to, whichever store holds it.
type addTarget struct {
	address dbAddress
	prepare func() error // makes the repository on demand, as add does
	add     func(ctx context.Context, files []string) (*repo.Result, error)
}

// dirAddTarget is the repository directory r as an add into it, asked o.
func dirAddTarget(r *repo.Repo, o repo.AddOptions) addTarget {
	return addTarget{address: localAddress(r.Options().DB),
		prepare: func() error { return ensureRepoDir(r, o.Request) },
		add:     func(ctx context.Context, files []string) (*repo.Result, error) { return r.Add(ctx, files, o) }}
}

// objectAddTarget is the repository in object storage r as an add into
// it, asked o.
func objectAddTarget(r *s3repo.Repo, o s3repo.AddOptions) addTarget {
	return addTarget{address: dbAddress{r.Address().Name, r.Address().String()},
		prepare: func() error { return nil }, // its first commit makes it
		add:     func(ctx context.Context, files []string) (*repo.Result, error) { return r.Add(ctx, files, o) }}
}

// addWithDebug adds files to main as add does, the debug packages among
// them to debug: first, in a change of its own, reported as a change of
// its own; main and debug are directories or in object storage, either.
// An add stays all or nothing: a file whose .PKGINFO cannot be read sends
// every file to main, whose add names it and adds nothing, and a refusal
// of the debug repository (a problem, its signature policy) adds nothing
// to main. Only a failure of main's add after the debug packages are in
// leaves them there without their base packages, which a retry adds.
func (g *Globals) addWithDebug(cmd *cobra.Command, main, debug addTarget, files []string, dryRun, asJSON bool) (*repo.Result, error) {
	route := repo.RouteDebugPackages(files, false)
	if len(route.Unreadable) > 0 || len(route.Debug) == 0 {
		return main.add(cmd.Context(), files)
	}
	if err := debug.prepare(); err != nil {
		return nil, err
	}
	res, err := debug.add(cmd.Context(), route.Debug)
	if !asJSON && !g.output().Quiet {
		fmt.Fprintf(g.Stdout, "debug packages, to %s:\n", debug.address.name)
	}
	if err := g.reportResult(res, err, debug.address, dryRun, asJSON); err != nil {
		return nil, reported(err)
	}
	if !asJSON && !g.output().Quiet {
		fmt.Fprintf(g.Stdout, "to %s:\n", main.address.name)
	}
	if len(route.Rest) == 0 {
		return &repo.Result{Plan: &repo.Plan{}}, nil // "nothing to do"
	}
	return main.add(cmd.Context(), route.Rest)
}

// promoteWithDebug promotes as req asks from source (sel's repository) to
// target and, when both name a debug_repo, moves the debug packages of
// what it promotes from the source's to the target's
// (repo.PromoteWithDebug). An interrupted promotion from the source's
// debug repository is finished first.
func (g *Globals) promoteWithDebug(cmd *cobra.Command, sel *profileSelection, source, target repo.PromotionStore, req repo.PromoteRequest) ([]repo.PromotedFile, *repo.DebugPromotion, repo.PromotionStore, error) {
	sourceDebug, err := g.debugRepoOf(cmd, sel.Config, sel.Profile, debugSigning{})
	if err != nil {
		return nil, nil, nil, err
	}
	var targetDebug *debugRepository
	for _, n := range sel.Config.ProfileNames() {
		if p := sel.Config.Profiles[n]; sameRepositoryAddress(p.Repo, target.Address()) {
			if targetDebug, err = g.debugRepoOf(cmd, sel.Config, p, debugSigning{}); err != nil {
				return nil, nil, nil, err
			}
			break
		}
	}
	if sourceDebug == nil {
		files, err := repo.Promote(cmd.Context(), source, target, req)
		return files, nil, nil, err
	}
	if !req.DryRun {
		if err := g.finishPromotionOf(cmd, sel.Config, sourceDebug.promotionStore()); err != nil {
			return nil, nil, nil, err
		}
		if targetDebug != nil {
			// A debug repository is made on demand, as add makes it.
			if err := targetDebug.target(repo.AddOptions{Request: req.Request}).prepare(); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	var targetDebugStore repo.PromotionStore
	if targetDebug != nil {
		targetDebugStore = targetDebug.promotionStore()
	}
	files, debug, err := repo.PromoteWithDebug(cmd.Context(), source, target, sourceDebug.promotionStore(), targetDebugStore, req)
	return files, debug, targetDebugStore, err
}

// printDebugPromotion says what a promotion did with the debug packages.
func (g *Globals) printDebugPromotion(d *repo.DebugPromotion, sel *profileSelection, targetDebug repo.PromotionStore, dryRun bool) {
	if d == nil {
		return
	}
	verb := "promote"
	if dryRun {
		verb = "would promote"
	}
	for _, f := range d.Files {
		fmt.Fprintf(g.Stdout, "%s %s %s -> %s\n", verb, f.Name, f.Version, targetDebug.Name())
	}
	for _, f := range d.Left {
		fmt.Fprintf(g.Stderr, "pacrepo: note: %s %s stays in the debug repository %s: the target names no debug_repo\n",
			f.Name, f.Version, sel.Profile.DebugRepo)
	}
}
