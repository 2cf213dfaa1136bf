package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/ui"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// profileSelection is the configuration a repository command runs with.
type profileSelection struct {
	Config  *config.Config // never nil; config.Default() when there is no file
	Name    string         // profile name; "" with --repo and no matching profile
	Profile *config.Profile
	UI      *ui.UI // output settings: colour, quiet, progress
}

// currentProfile loads the configuration and selects the profile (with
// --repo applied), printing the configuration's warnings.
func (g *Globals) currentProfile(cmd *cobra.Command) (*profileSelection, error) {
	cfg, warnings, err := g.loadConfig()
	if err != nil {
		return nil, err
	}
	g.printConfigWarnings(warnings)
	name, p, err := g.selectProfile(cfg)
	if errors.Is(err, config.ErrNoProfile) || errors.Is(err, config.ErrUnknownProfile) {
		return nil, usage(err)
	}
	if err != nil {
		return nil, err
	}
	return &profileSelection{Config: cfg, Name: name, Profile: p, UI: g.output()}, nil
}

// openRepo builds the repository of the selected profile. Reading packages
// shows a progress bar on a terminal; the caller ends it with
// sel.UI.Finish.
func (g *Globals) openRepo(cmd *cobra.Command) (*repo.Repo, *profileSelection, error) {
	opts, sel, err := g.repoOptions(cmd)
	if err != nil {
		return nil, nil, err
	}
	return repo.New(opts), sel, nil
}

// repoOptions are the repository options of the selected profile.
func (g *Globals) repoOptions(cmd *cobra.Command) (repo.Options, *profileSelection, error) {
	sel, err := g.currentProfile(cmd)
	if err != nil {
		return repo.Options{}, nil, err
	}
	opts, err := g.repoOptionsFor(cmd, sel)
	return opts, sel, err
}

// repoOptionsFor are the repository options of sel, a repository
// directory.
func (g *Globals) repoOptionsFor(cmd *cobra.Command, sel *profileSelection) (repo.Options, error) {
	if isObjectStorage(sel) {
		return repo.Options{}, errNotForObjectStorage(cmd, sel.Profile.Repo)
	}
	loc, err := repodb.ParseLocation(sel.Profile.Repo)
	if err != nil {
		return repo.Options{}, usage(err)
	}
	if err := checkOneDatabasePerDirectory(loc); err != nil {
		return repo.Options{}, usage(err)
	}
	p := sel.Profile
	opts := repo.Options{
		DB:               loc,
		Command:          g.Command,
		KeepBackups:      p.KeepBackups,
		Retention:        history.Retention{KeepGenerations: p.KeepGenerations, KeepDays: p.KeepDays, Grace: p.Grace.Duration},
		LockTimeout:      p.LockTimeout.Duration,
		IgnorePatterns:   p.IgnorePatterns,
		RequireSignature: p.RequireSignature,
		Installable:      p.Installable,
		Upstream:         p.UpstreamDatabases(),
		Progress:         sel.UI.Progress(0, "reading packages"),
		OnLockWait: func(w repo.LockWait) {
			fmt.Fprintf(g.Stderr, "pacrepo: waiting for the lock %s, held by %s; giving up after %s\n", w.Path, w.Holder, w.Timeout)
		},
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = config.DefaultLockTimeout
	}
	keyring, err := g.keyring(p)
	if err != nil {
		return repo.Options{}, err
	}
	opts.Keyring = keyring
	if err := p.CheckBackupDir(loc.Dir); err != nil {
		return repo.Options{}, err
	}
	switch mode, dir := p.Retirement(loc.Dir); mode {
	case config.RetireMove:
		opts.BackupDir = dir
	case config.RetireKeepInPlace:
		opts.RetireInPlace = true
	}
	return opts, nil
}

// repoEntries returns the registered entries of the selected repository.
func (g *Globals) repoEntries(cmd *cobra.Command) ([]repodb.Entry, error) {
	sel, err := g.currentProfile(cmd)
	if err != nil {
		return nil, err
	}
	if isObjectStorage(sel) {
		r, err := g.objectRepo(cmd.Context(), sel, changeFlags{})
		if err != nil {
			return nil, err
		}
		return r.Entries(cmd.Context())
	}
	opts, err := g.repoOptionsFor(cmd, sel)
	if err != nil {
		return nil, err
	}
	r := repo.New(opts)
	defer sel.UI.Finish()
	return r.Entries(cmd.Context())
}

// checkOneDatabasePerDirectory refuses a repository whose database does
// not exist in a directory that holds another one: a second database there
// would register and retire the first one's files (one repository per
// directory, as with repo-add).
func checkOneDatabasePerDirectory(loc repodb.Location) error {
	if _, err := os.Lstat(loc.DBPath()); err == nil {
		return nil
	}
	others, err := repodb.DatabasesIn(loc.Dir)
	if err != nil || len(others) == 0 {
		return nil
	}
	return fmt.Errorf("%s holds the database %s already; a directory holds one repository (give --repo %s, or another directory)",
		loc.Dir, others[0].DBFile(), others[0].DBPath())
}
