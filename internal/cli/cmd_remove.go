package cli

import (
	"github.com/spf13/cobra"
)

type removeOptions struct {
	dryRun bool
	force  bool
}

func init() { register(newRemoveCommand) }

func newRemoveCommand(g *Globals) *cobra.Command {
	var o removeOptions
	cmd := &cobra.Command{
		Use:     "remove NAME...",
		Aliases: []string{"rm"},
		Short:   "Remove packages from the repository",
		Long: `Unregister each named package and retire its files and signatures (delete
them, or move them to the backup directory with backup = true). A name
registered without its file is unregistered. An unknown name is an error and
nothing is changed.

Removing more than half of a repository of more than 10 packages needs
--force.`,
		Example: `  pacrepo remove foo bar
  pacrepo rm -n foo     # show what would be removed`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeRegisteredNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRemove(cmd, g, o, args)
		},
	}
	cmd.Flags().BoolVarP(&o.dryRun, "dry-run", "n", false, "show what would be done, change nothing")
	cmd.Flags().BoolVar(&o.force, "force", false, "allow removing most of the repository")
	return cmd
}

func runRemove(cmd *cobra.Command, g *Globals, o removeOptions, names []string) error {
	r, sel, err := g.openRepo(cmd, o.force, o.dryRun)
	if err != nil {
		return err
	}
	defer sel.UI.Finish()
	return g.withActions(cmd.Context(), sel, "remove", o.dryRun, func() error {
		res, err := r.Remove(cmd.Context(), names)
		sel.UI.Finish()
		return g.reportResult(res, err, o.dryRun)
	})
}
