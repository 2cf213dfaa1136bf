package cli

import (
	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/s3repo"
)

type rollbackOptions struct {
	changeFlags
}

func init() { register(newRollbackCommand) }

func newRollbackCommand(g *Globals) *cobra.Command {
	var o rollbackOptions
	cmd := &cobra.Command{
		Use:   "rollback GEN",
		Short: "Make the repository's packages those of an earlier generation again",
		Long: `Make a new generation whose packages are those of generation GEN (pacrepo
log lists them): its files are registered again, every other package is
unregistered, and the files replaced are retired by the profile's rules, as
any change retires them (so that rolling forward again works while they are
kept). The change is applied like any other: under the lock, through the
journal, signed when the databases are signed.

The files GEN needs are taken where they are: registered, kept in place, in
the backup directory (copied back), or, in object storage, the objects kept
until gc. When some are gone, nothing changes and each is named. A rollback
that would unregister more than half of a repository of more than 10
packages needs --force.`,
		Example: `  pacrepo log bar          # find the generation that held the version wanted
  pacrepo rollback 41 -n   # show the plan
  pacrepo rollback 41`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			gen, err := parseGeneration(args[0])
			if err != nil {
				return err
			}
			return g.runChange(cmd, "rollback", o.changeFlags, nil, func(r *repo.Repo, req repo.Request) (*repo.Result, error) {
				return r.Rollback(cmd.Context(), gen, req)
			}, &objectChange{apply: func(r *s3repo.Repo, sel *profileSelection, f changeFlags) (*repo.Result, error) {
				return r.Rollback(cmd.Context(), gen, objectRequest(f))
			}})
		},
	}
	o.register(cmd, "allow a rollback that unregisters most of the repository")
	return cmd
}
