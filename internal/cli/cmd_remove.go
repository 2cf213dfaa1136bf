package cli

import (
	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/s3repo"
)

type removeOptions struct {
	changeFlags
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
	o.register(cmd, "allow removing most of the repository")
	return cmd
}

func runRemove(cmd *cobra.Command, g *Globals, o removeOptions, names []string) error {
	return g.runChange(cmd, "remove", o.changeFlags, nil, func(r *repo.Repo, req repo.Request) (*repo.Result, error) {
		return r.Remove(cmd.Context(), names, req)
	}, &objectChange{apply: func(r *s3repo.Repo, sel *profileSelection, f changeFlags) (*repo.Result, error) {
		return r.Remove(cmd.Context(), names, objectRequest(f))
	}})
}
