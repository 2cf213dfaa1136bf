package cli

import (
	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/s3repo"
)

type updateOptions struct {
	changeFlags
}

func init() { register(newUpdateCommand) }

func newUpdateCommand(g *Globals) *cobra.Command {
	var o updateOptions
	cmd := &cobra.Command{
		Use:   "update [NAME...]",
		Short: "Bring the database in line with the repository directory",
		Long: `Register new and newer package files, unregister entries whose file is
gone, and retire files that a registered newer version made obsolete. With
names, only those packages are considered. What update does is exactly what
status shows.

Files that cannot be read completely (still being uploaded, truncated,
corrupt) are reported by name and reason and never taken as evidence for
anything: no other file is retired and no entry dropped because of them. The
rest of the work is done and the command exits with code 3 when every such
file is still being written, so that a build farm retries later, and 1 when
one of them needs a person (corrupt, not a package, unreadable).`,
		Example: `  pacrepo update
  pacrepo update foo bar   # only these packages
  pacrepo update -n        # same as: pacrepo status`,
		ValidArgsFunction: completeRegisteredNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUpdate(cmd, g, o, args)
		},
	}
	o.register(cmd, "allow a change that retires or unregisters most of the repository")
	return cmd
}

func runUpdate(cmd *cobra.Command, g *Globals, o updateOptions, names []string) error {
	return g.runChange(cmd, "update", o.changeFlags, nil, func(r *repo.Repo, req repo.Request) (*repo.Result, error) {
		return r.Update(cmd.Context(), names, req)
	}, &objectChange{apply: func(r *s3repo.Repo, sel *profileSelection, f changeFlags) (*repo.Result, error) {
		return r.Update(cmd.Context(), names, objectRequest(f))
	}})
}
