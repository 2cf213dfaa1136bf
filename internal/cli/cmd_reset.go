package cli

import (
	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/s3repo"
)

type resetOptions struct {
	changeFlags
}

func init() { register(newResetCommand) }

func newResetCommand(g *Globals) *cobra.Command {
	var o resetOptions
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Rebuild the database from every readable package in the directory",
		Long: `Rebuild the repository database (NAME.db.tar.* and NAME.files.tar.*) from
every readable package file in the repository directory, creating the
directory and the database when they do not exist. The newest file of each
package name is registered. Nothing is deleted or moved: obsolete files stay
where they are (see update).

reset is the one command that proceeds when the existing database cannot be
read; it says so, and the unreadable database is kept as NAME.db.tar.*.old.
An entry whose file is present but cannot be read right now (permissions, an
I/O error) keeps its entry. A rebuild that would unregister more than half of
a repository of more than 10 packages (their files are gone, as after a lost
mount) needs --force.

Every unreadable or incomplete package file is reported by name and reason
and left where it is; the database is still written from the others and the
command exits with code 3 when every such file is still being written, else 1.`,
		Example: `  pacrepo --repo /srv/repo/myrepo.db.tar.zst reset
  pacrepo reset -n        # show what would be registered`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReset(cmd, g, o)
		},
	}
	// reset never retires a file, but it unregisters entries whose files
	// are gone: after a lost mount that is most of the repository.
	o.register(cmd, "allow a rebuild that unregisters most of the repository")
	return cmd
}

func runReset(cmd *cobra.Command, g *Globals, o resetOptions) error {
	return g.runChange(cmd, "reset", o.changeFlags, nil, func(r *repo.Repo, req repo.Request) (*repo.Result, error) {
		if err := ensureRepoDir(r, req); err != nil {
			return nil, err
		}
		return r.Reset(cmd.Context(), req)
	}, &objectChange{apply: func(r *s3repo.Repo, sel *profileSelection, f changeFlags) (*repo.Result, error) {
		return r.Reset(cmd.Context(), objectRequest(f))
	}})
}
