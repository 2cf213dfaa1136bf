package cli

import (
	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/repo"
)

type addOptions struct {
	move, link       bool
	requireSignature bool
	dryRun           bool
	force            bool
}

func init() { register(newAddCommand) }

func newAddCommand(g *Globals) *cobra.Command {
	var o addOptions
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

If any FILE cannot be read completely, nothing is added and the command exits
with code 3 naming each file and the reason.`,
		Example: `  pacrepo add ./foo-1.0-1-x86_64.pkg.tar.zst
  pacrepo add -m build/*.pkg.tar.zst     # move instead of copy
  pacrepo add -r foo-1.0-1-any.pkg.tar.zst  # require foo-...pkg.tar.zst.sig`,
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
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "show what would be done, change nothing")
	f.BoolVar(&o.force, "force", false, "allow a change that retires most of the repository")
	cmd.MarkFlagsMutuallyExclusive("move", "link")
	return cmd
}

func runAdd(cmd *cobra.Command, g *Globals, o addOptions, files []string) error {
	r, sel, err := g.openRepo(cmd, o.force, o.dryRun)
	if err != nil {
		return err
	}
	defer sel.UI.Finish()
	if o.requireSignature {
		opts := r.Options()
		opts.RequireSignature = true
		r = repo.New(opts)
	}
	mode := repo.Copy
	switch {
	case o.move:
		mode = repo.Move
	case o.link:
		mode = repo.Link
	}
	return g.withActions(cmd.Context(), sel, "add", o.dryRun, func() error {
		res, err := r.Add(cmd.Context(), files, mode)
		sel.UI.Finish()
		return g.reportResult(res, err, o.dryRun)
	})
}
