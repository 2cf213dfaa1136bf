package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/ui"
)

type gcOptions struct {
	dryRun bool
	json   bool
}

func init() { register(newGCCommand) }

func newGCCommand(g *Globals) *cobra.Command {
	var o gcOptions
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete what no retained generation needs, in a directory or a bucket",
		Long: `Delete the package files (and their .sig) that no retained generation
references and that were superseded longer ago than the grace period, the
history's databases and records of generations retention lets go, and, in
object storage, uploads of publishers killed before their commit. Every
deletion is printed with its path; -n prints the same and deletes nothing.

Retention (see the README): the newest keep_generations generations
(default 10), those of the last keep_days days, and those superseded
within grace (default 24h; s3_grace is its older name) stay restorable.
In a directory, keep_backups keeps the newest N retired files of each
name besides. Nothing registered is ever deleted, and the newest record
is always kept. Objects gc does not recognise are never touched.

Changes (add, update, remove) prune the retired files of the names they
touch by the same rule.`,
		Example: `  pacrepo --repo s3://farm/x86_64/farm.db.tar.zst gc -n   # show what would go
  pacrepo gc                                             # the profile's repository`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGC(cmd, g, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "show what would be deleted, delete nothing")
	f.BoolVar(&o.json, "json", false, "print JSON")
	return cmd
}

func runGC(cmd *cobra.Command, g *Globals, o gcOptions) error {
	sel, err := g.currentProfile(cmd)
	if err != nil {
		return err
	}
	if !isObjectStorage(sel) {
		return runDirGC(cmd, g, sel, o)
	}
	r, err := g.objectRepo(cmd.Context(), sel, changeFlags{})
	if err != nil {
		return err
	}
	return g.withActions(cmd.Context(), sel, "gc", o.dryRun, func() error {
		res, err := r.GC(cmd.Context(), o.dryRun)
		if res != nil {
			if werr := printGC(g, r.Address().Name, o, res.Deleted, nonNil(res.Young), r.Address().URL); werr != nil {
				return werr
			}
		}
		return err
	})
}

// runDirGC is gc of a repository directory.
func runDirGC(cmd *cobra.Command, g *Globals, sel *profileSelection, o gcOptions) error {
	opts, err := g.repoOptionsFor(cmd, sel)
	if err != nil {
		return err
	}
	r := repo.New(opts)
	return g.withActions(cmd.Context(), sel, "gc", o.dryRun, func() error {
		res, err := r.GC(cmd.Context(), o.dryRun)
		if res != nil {
			if werr := printGC(g, opts.DB.Name, o, res.Deleted, nil, func(p string) string { return p }); werr != nil {
				return werr
			}
		}
		return err
	})
}

// printGC prints what gc deleted (or would delete), one path a line, or
// as JSON; young are the unreferenced objects a bucket keeps within the
// grace period (nil for a directory).
func printGC(g *Globals, name string, o gcOptions, deleted, young []string, where func(string) string) error {
	if o.json {
		return ui.WriteJSON(g.Stdout, struct {
			Repo    string   `json:"repo"`
			DryRun  bool     `json:"dry_run"`
			Deleted []string `json:"deleted"`
			Young   []string `json:"kept_within_grace"`
		}{name, o.dryRun, nonNil(deleted), nonNil(young)})
	}
	verb := "deleted"
	if o.dryRun {
		verb = "would delete"
	}
	for _, k := range deleted {
		fmt.Fprintf(g.Stdout, "%s %s\n", verb, where(k))
	}
	if g.output().Quiet {
		return nil
	}
	if young == nil {
		fmt.Fprintf(g.Stdout, "%s %s\n", verb, plural(len(deleted), "file"))
		return nil
	}
	fmt.Fprintf(g.Stdout, "%s %s; kept %s within the grace period\n", verb, plural(len(deleted), "object"),
		plural(len(young), "unreferenced object"))
	return nil
}
