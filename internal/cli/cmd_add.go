package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/s3repo"
)

type addOptions struct {
	move, link       bool
	requireSignature bool
	onlyNew          bool
	preventDowngrade bool
	signPackages     bool
	removeOld        bool // -R: repo-add's; pacrepo retires old files anyway
	changeFlags
}

func init() { register(newAddCommand) }

func newAddCommand(g *Globals) *cobra.Command {
	o := addOptions{changeFlags: changeFlags{dashNIsRepoAdds: true}}
	cmd := &cobra.Command{
		Use:   "add FILE...",
		Short: "Add package files to the repository",
		Long: `Verify each package file completely (a readable, complete archive whose
.PKGINFO parses, with its size and SHA-256), then copy it (default), move it
(-m) or link it (-l) into the repository under a temporary name, rename it
into place and register it. A FILE.sig next to a file travels with it.

The added file becomes the registered version of its name even when it is
older than the registered one (a downgrade). Other files of that name are
retired (deleted, or moved to the backup directory) only after the new
database has reached the disk.

If any FILE cannot be used, nothing is added and each file is named with the
reason; the command exits with code 3 when every such file is still being
written (retry later), else 1. A FILE is read through symbolic links; one
whose name is not a package file name is placed under its canonical name
NAME-VERSION-ARCH.pkg.tar.EXT. A FILE that does not exist or is a directory
is a wrong argument: nothing is added and the exit code is 2.

With debug_repo in the profile, the debug packages among the FILEs
(PKGBASE-debug, makepkg's detached symbols of pkgbase PKGBASE) go to that
repository, first and by its own rules, the others to this one.

-n is --dry-run, as in every pacrepo command, not repo-add's -n (--new,
which is --new here): add -n says so on standard error.`,
		Example: `  pacrepo add ./foo-1.0-1-x86_64.pkg.tar.zst
  pacrepo add -m build/*.pkg.tar.zst     # move instead of copy
  pacrepo add -r foo-1.0-1-any.pkg.tar.zst  # require foo-...pkg.tar.zst.sig
  pacrepo add -p build/*.pkg.tar.zst        # never downgrade (repo-add -p)`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completePackageFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAdd(cmd, g, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.move, "move", "m", false, "move the files into the repository instead of copying")
	f.BoolVarP(&o.link, "link", "l", false, "link the files into the repository instead of copying")
	f.BoolVarP(&o.requireSignature, "require-signature", "r", false, "refuse package files without a .sig file")
	f.BoolVar(&o.signPackages, "sign-packages", false, "sign the packages that come without a .sig (the key as for -s; also sign_packages in the profile)")
	f.BoolVar(&o.onlyNew, "new", false, "leave out files of packages that are registered already (repo-add's --new)")
	f.BoolVarP(&o.preventDowngrade, "prevent-downgrade", "p", false, "leave out files older than the registered version (repo-add's --prevent-downgrade)")
	f.BoolVarP(&o.removeOld, "remove", "R", false, "accepted for repo-add's -R: pacrepo retires the old files anyway (deleted, or kept as backup and backup_dir say)")
	o.register(cmd, "allow a change that retires most of the repository")
	cmd.MarkFlagsMutuallyExclusive("move", "link")
	return cmd
}

func runAdd(cmd *cobra.Command, g *Globals, o addOptions, files []string) error {
	if o.dashN {
		o.dryRun = true
		fmt.Fprintln(g.Stderr, "pacrepo: add -n is --dry-run: nothing is changed (repo-add's -n, adding only new packages, is --new)")
	}
	mode := repo.Copy
	switch {
	case o.move:
		mode = repo.Move
	case o.link:
		mode = repo.Link
	}
	var params config.RepoAddParams
	var profile *config.Profile
	tune := func(opts *repo.Options, p *config.Profile) error {
		opts.RequireSignature = opts.RequireSignature || o.requireSignature
		params, profile = p.AddOptions, p
		if o.signPackages || p.SignPackages {
			s, err := signer(p, o.key)
			if err != nil {
				return err
			}
			opts.PackageSigner = s
		}
		return nil
	}
	return g.runChange(cmd, "add", o.changeFlags, tune, func(r *repo.Repo, req repo.Request) (*repo.Result, error) {
		if err := checkAddArguments(files); err != nil {
			return nil, err
		}
		debugRepo, err := g.debugRepoOf(cmd, nil, profile, debugSigning{databases: o.sign, packages: o.signPackages, key: o.key})
		if err != nil {
			return nil, err
		}
		if err := ensureRepoDir(r, req); err != nil {
			return nil, err
		}
		// repoctl users pass repo-add's options through add_params.
		addOpts := repo.AddOptions{Request: req, Mode: mode,
			OnlyNew:          o.onlyNew || params.New,
			PreventDowngrade: o.preventDowngrade || params.PreventDowngrade}
		if debugRepo != nil {
			return g.addWithDebug(cmd, dirAddTarget(r, addOpts), debugRepo.target(addOpts), files, req.DryRun, o.json)
		}
		return r.Add(cmd.Context(), files, addOpts)
	}, &objectChange{
		check: func(f changeFlags) error { return checkObjectAdd(o, f, files) },
		apply: func(r *s3repo.Repo, sel *profileSelection, f changeFlags) (*repo.Result, error) {
			return g.addToObjectStorage(cmd, r, sel, o, f, files)
		},
	})
}

// checkAddArguments refuses a FILE that does not exist or is a directory
// with exit code 2: retrying later cannot mend a mistyped path. It runs after
// pre_action, which may mount the file system the files are on.
func checkAddArguments(files []string) error {
	for _, f := range files {
		fi, err := os.Stat(f)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return usage(fmt.Errorf("add %s: no such file; nothing added", f))
		case err == nil && fi.IsDir():
			return usage(fmt.Errorf("add %s: a directory, not a package file; nothing added", f))
		}
	}
	return nil
}
