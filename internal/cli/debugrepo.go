package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// debugSigning is what the command line asks to sign, in the debug
// repository too: add's and watch's -s (its databases), add's
// --sign-packages (the packages that come without a .sig), with -k's key.
type debugSigning struct {
	databases, packages bool
	key                 string
}

// debugRepoOf is the repository p routes debug packages to (debug_repo),
// with that repository's own options, signature policy and signing, and
// what the command line asks to sign; nil when p names none. Routing works
// between repository directories only.
func (g *Globals) debugRepoOf(cmd *cobra.Command, cfg *config.Config, p *config.Profile, sign debugSigning) (*repo.Repo, error) {
	dp := p.DebugProfile()
	if dp == nil {
		return nil, nil
	}
	if config.IsObjectStorage(p.Repo) || config.IsObjectStorage(dp.Repo) {
		return nil, usage(fmt.Errorf("debug_repo %s: debug packages are routed between repository directories only, not yet to or from object storage (%s, %s)",
			p.DebugRepo, p.Repo, dp.Repo))
	}
	if sameDatabase(dp.Repo, p.Repo) {
		// --repo may have made the profile's repository its debug_repo.
		return nil, usage(fmt.Errorf("debug_repo %s is the repository itself (%s)", p.DebugRepo, p.Repo))
	}
	g.applyFlagOverrides(dp)
	opts, err := g.repoOptionsFor(cmd, &profileSelection{Config: cfg, Name: dp.Name, Profile: dp, UI: g.output()})
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
	return repo.New(opts), nil
}

// finishPromotions finishes, before a change of r (sel's repository), an
// interrupted promotion from it and one from its debug repository: a
// promotion moves the debug packages of what it moves in a promotion of
// their own, which the next change of the source finishes with its own.
func (g *Globals) finishPromotions(cmd *cobra.Command, sel *profileSelection, r *repo.Repo) error {
	if err := g.finishPromotion(cmd, sel.Config, r); err != nil {
		return err
	}
	dp := sel.Profile.DebugProfile()
	if dp == nil || config.IsObjectStorage(dp.Repo) {
		return nil // a bucket promotes nothing yet
	}
	// Only a pending promotion needs the debug repository's options (its
	// keyring read, its signer): a change of r is not to fail for them.
	loc, err := repodb.ParseLocation(dp.Repo)
	if err != nil {
		return usage(fmt.Errorf("debug_repo %s: %w", sel.Profile.DebugRepo, err))
	}
	if pending, err := repo.New(repo.Options{DB: loc}).PendingPromotion(); err != nil || pending == nil {
		return err
	}
	debugRepo, err := g.debugRepoOf(cmd, sel.Config, sel.Profile, debugSigning{})
	if err != nil {
		return err
	}
	return g.finishPromotion(cmd, sel.Config, debugRepo)
}

// addWithDebug adds files to r as add does, the debug packages among them
// to debugRepo: first, in a transaction of its own, reported as a change
// of its own. An add stays all or nothing: a file whose .PKGINFO cannot be
// read sends every file to r, whose add names it and adds nothing, and a
// refusal of the debug repository (a problem, its signature policy) adds
// nothing to r. Only a failure of r's add after the debug packages are in
// leaves them there without their base packages, which a retry adds.
func (g *Globals) addWithDebug(cmd *cobra.Command, r, debugRepo *repo.Repo, files []string, o repo.AddOptions, asJSON bool) (*repo.Result, error) {
	route := repo.RouteDebugPackages(files, false)
	if len(route.Unreadable) > 0 || len(route.Debug) == 0 {
		return r.Add(cmd.Context(), files, o)
	}
	if err := ensureRepoDir(debugRepo, o.Request); err != nil {
		return nil, err
	}
	res, err := debugRepo.Add(cmd.Context(), route.Debug, o)
	if !asJSON && !g.output().Quiet {
		fmt.Fprintf(g.Stdout, "debug packages, to %s:\n", debugRepo.Options().DB.Name)
	}
	if err := g.reportResult(res, err, localAddress(debugRepo.Options().DB), o.DryRun, asJSON); err != nil {
		return nil, reported(err)
	}
	if !asJSON && !g.output().Quiet {
		fmt.Fprintf(g.Stdout, "to %s:\n", r.Options().DB.Name)
	}
	if len(route.Rest) == 0 {
		return &repo.Result{Plan: &repo.Plan{}}, nil // "nothing to do"
	}
	return r.Add(cmd.Context(), route.Rest, o)
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
	var targetDebug *repo.Repo
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
		if err := g.finishPromotion(cmd, sel.Config, sourceDebug); err != nil {
			return nil, nil, nil, err
		}
		if targetDebug != nil {
			// A debug repository is made on demand, as add makes it.
			if err := ensureRepoDir(targetDebug, req.Request); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	var targetDebugStore repo.PromotionStore
	if targetDebug != nil {
		targetDebugStore = targetDebug.PromotionStore()
	}
	files, debug, err := repo.PromoteWithDebug(cmd.Context(), source, target, sourceDebug.PromotionStore(), targetDebugStore, req)
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
