package cli

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/s3repo"
	"github.com/pacrepo/pacrepo/internal/server"
)

// objectCommands are the commands that work on a repository in object
// storage; the others say so instead of misreading the address as a path.
const objectCommands = "add, remove, update, reset, status, list, check, gc, promote and host"

// errNotForObjectStorage is what a command that only works on a directory
// says to an s3:// repository.
func errNotForObjectStorage(cmd *cobra.Command, repo string) error {
	return usage(fmt.Errorf("%s works on a repository directory, not on %s in object storage (there: %s)",
		cmd.Name(), repo, objectCommands))
}

// repoName is the name of sel's repository (NAME of NAME.db.tar.EXT).
func repoName(sel *profileSelection) string {
	name, _, _, _ := layout.SplitDatabase(path.Base(sel.Profile.Repo))
	return name
}

// isObjectStorage tells whether the selected profile's repository is in
// object storage.
func isObjectStorage(sel *profileSelection) bool { return config.IsObjectStorage(sel.Profile.Repo) }

// objectRepo opens the selected profile's repository in object storage.
func (g *Globals) objectRepo(ctx context.Context, sel *profileSelection, f changeFlags) (*s3repo.Repo, error) {
	p := sel.Profile
	addr, err := s3repo.ParseURL(p.Repo)
	if err != nil {
		return nil, usage(err)
	}
	bucket, err := objstore.Open(ctx, objstore.Config{Bucket: addr.Bucket, Endpoint: p.S3Endpoint})
	if err != nil {
		return nil, err
	}
	keyring, err := g.keyring(p)
	if err != nil {
		return nil, err
	}
	opts := s3repo.Options{Grace: p.S3GracePeriod(), Retention: history.Retention{KeepGenerations: p.KeepGenerations, KeepDays: p.KeepDays},
		UnsignDatabase: f.unsign, Command: g.Command,
		Signatures:  repo.SignaturePolicy{Require: p.RequireSignature, Keyring: keyring},
		Installable: p.Installable, Upstream: p.UpstreamDatabases()}
	if f.sign || p.SignsDatabases() {
		s, err := signer(p, f.key)
		if err != nil {
			return nil, err
		}
		opts.Sign = func(path string) ([]byte, error) { return s.Sign(ctx, path) }
	}
	return s3repo.New(addr, bucket, opts), nil
}

// objectRequest is what one change of a repository in object storage is
// asked, as a change of a directory is (runChange).
func objectRequest(f changeFlags) repo.Request {
	return repo.Request{DryRun: f.dryRun, Force: f.force, EmbedSignatures: f.includeSigs}
}

// objectChangeFunc makes one change to a repository in object storage.
type objectChangeFunc func(r *s3repo.Repo, sel *profileSelection, f changeFlags) (*repo.Result, error)

// objectChange is how a command changes a repository in object storage:
// check refuses the flags that mean nothing there (before the bucket is
// opened), apply makes the change.
type objectChange struct {
	check func(f changeFlags) error
	apply objectChangeFunc
}

// runObjectChange runs one change of a repository in object storage, with
// the profile's pre_action and post_action around it, and reports it like
// a change of a directory.
func (g *Globals) runObjectChange(cmd *cobra.Command, sel *profileSelection, name string, f changeFlags, apply objectChangeFunc) error {
	if f.verify {
		return usage(fmt.Errorf("%s --verify: the databases in object storage are checked against the SHA-256 their commit records", name))
	}
	r, err := g.objectRepo(cmd.Context(), sel, f)
	if err != nil {
		return err
	}
	return g.withActions(cmd.Context(), sel, name, f.dryRun, func() error {
		if !f.dryRun {
			if err := g.finishPromotions(cmd, sel, r.PromotionStore()); err != nil {
				return err
			}
		}
		res, err := apply(r, sel, f)
		return g.reportResult(res, err, dbAddress{r.Address().Name, r.Address().String()}, f.dryRun, f.json)
	})
}

// checkObjectAdd refuses add's flags that mean nothing for a repository
// in object storage.
func checkObjectAdd(o addOptions, f changeFlags, files []string) error {
	switch {
	case o.move || o.link:
		return usage(errors.New("add -m/-l: a repository in object storage gets a copy of each file"))
	case o.signPackages:
		return usage(errors.New("add --sign-packages: sign the packages before publishing them to object storage"))
	}
	return checkAddArguments(files)
}

// addToObjectStorage publishes files to a repository in object storage;
// with debug_repo in the profile, the debug packages among them go there
// (addWithDebug, as from a directory).
func (g *Globals) addToObjectStorage(cmd *cobra.Command, r *s3repo.Repo, sel *profileSelection, o addOptions, f changeFlags, files []string) (*repo.Result, error) {
	p := sel.Profile
	ao := s3repo.AddOptions{DryRun: f.dryRun, Force: f.force,
		OnlyNew:          o.onlyNew || p.AddOptions.New,
		PreventDowngrade: o.preventDowngrade || p.AddOptions.PreventDowngrade,
		EmbedSignatures:  f.includeSigs,
		RequireSignature: o.requireSignature || p.RequireSignature}
	debugRepo, err := g.debugRepoOf(cmd, sel.Config, p, debugSigning{databases: f.sign, key: f.key})
	if err != nil {
		return nil, err
	}
	main := objectAddTarget(r, ao)
	if debugRepo != nil {
		debugOpts := repo.AddOptions{Request: repo.Request{DryRun: f.dryRun, Force: f.force, EmbedSignatures: f.includeSigs},
			OnlyNew: ao.OnlyNew, PreventDowngrade: ao.PreventDowngrade}
		return g.addWithDebug(cmd, main, debugRepo.target(debugOpts), files, f.dryRun, f.json)
	}
	return main.add(cmd.Context(), files)
}

// objectListRows are list's rows of a repository in object storage.
func (g *Globals) objectListRows(ctx context.Context, sel *profileSelection) ([]listedPackage, error) {
	r, err := g.objectRepo(ctx, sel, changeFlags{})
	if err != nil {
		return nil, err
	}
	entries, err := r.Entries(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]listedPackage, 0, len(entries))
	for _, e := range entries {
		rows = append(rows, listedPackage{Name: e.Name, Version: e.Version, Registered: true, HasFile: true})
	}
	return rows, nil
}

// checkObjectStorage checks a repository in object storage.
func (g *Globals) checkObjectStorage(cmd *cobra.Command, sel *profileSelection, repair bool) (string, int, []findingJSON, error) {
	r, err := g.objectRepo(cmd.Context(), sel, changeFlags{})
	if err != nil {
		return "", 0, nil, err
	}
	report, err := r.Check(cmd.Context(), repair)
	if err != nil {
		return "", 0, nil, err
	}
	findings := make([]findingJSON, 0, len(report.Findings))
	for _, f := range report.Findings {
		findings = append(findings, findingJSON{Kind: f.Kind, Path: f.URL, Detail: f.Detail, Repaired: f.Repaired})
	}
	// An interrupted promotion is finished with the target's options.
	if f, err := g.promotionFinding(cmd, sel.Config, r.PromotionStore(), repair); err != nil {
		return "", 0, nil, err
	} else if f != nil {
		findings = append(findings, *f)
	}
	return r.Address().Name, report.Checked, findings, nil
}

// objectHostRepository is what host serves of a repository in object
// storage.
func (g *Globals) objectHostRepository(ctx context.Context, p *config.Profile) (server.Repository, error) {
	r, err := g.objectRepo(ctx, &profileSelection{Profile: p}, changeFlags{})
	if err != nil {
		return server.Repository{}, err
	}
	return server.Repository{Name: r.Address().Name, Objects: r, ObjectsURL: r.Address().String()}, nil
}

// objectStatus is status of a repository in object storage: what update
// would register of the package objects no commit registers.
func (g *Globals) objectStatus(cmd *cobra.Command, sel *profileSelection, o statusOptions, names []string) error {
	if o.cached || o.aur {
		return usage(errors.New("status -c/-a: not for a repository in object storage"))
	}
	// status does not judge dependencies, as in a directory.
	unjudged, p := *sel, *sel.Profile
	p.Installable = config.InstallableOff
	unjudged.Profile = &p
	r, err := g.objectRepo(cmd.Context(), &unjudged, changeFlags{})
	if err != nil {
		return err
	}
	res, err := r.Update(cmd.Context(), names, repo.Request{DryRun: true, EmbedSignatures: sel.Profile.AddOptions.IncludeSigs})
	if res == nil {
		return err
	}
	if err := g.showRefused(res.Plan, err); err != nil {
		return err
	}
	return g.printStatus(sel, o.json, r.Address().Name, summarise(res.Plan), res.Plan.Problems)
}
