package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

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
		Short: "Delete objects no commit references (repositories in object storage)",
		Long: `Delete, from a repository in object storage, the package objects and
database generations that no commit references and that are older than the
grace period (s3_grace, default 24h): packages that removals and upgrades
retired, and uploads of publishers killed before their commit.

Nothing a commit of the grace period references is deleted, so a mirror or
CDN serving an older database still finds every package it names; and an
upload younger than the grace period is kept, since its publisher may be
about to commit it. Objects gc does not recognise are never touched.

A repository directory needs no gc: each change retires its files.`,
		Example: `  pacrepo --repo s3://farm/x86_64/farm.db.tar.zst gc -n   # show what would go
  pacrepo gc`,
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
		return usage(errors.New("gc is for repositories in object storage; a repository directory retires its files with each change"))
	}
	r, err := g.objectRepo(cmd.Context(), sel, changeFlags{})
	if err != nil {
		return err
	}
	return g.withActions(cmd.Context(), sel, "gc", o.dryRun, func() error {
		res, err := r.GC(cmd.Context(), o.dryRun)
		if res != nil {
			if o.json {
				if werr := ui.WriteJSON(g.Stdout, struct {
					Repo    string   `json:"repo"`
					DryRun  bool     `json:"dry_run"`
					Deleted []string `json:"deleted"`
					Young   []string `json:"kept_within_grace"`
				}{r.Address().Name, o.dryRun, nonNil(res.Deleted), nonNil(res.Young)}); werr != nil {
					return werr
				}
			} else {
				verb := "deleted"
				if o.dryRun {
					verb = "would delete"
				}
				for _, k := range res.Deleted {
					fmt.Fprintf(g.Stdout, "%s %s\n", verb, r.Address().URL(k))
				}
				if !g.output().Quiet {
					fmt.Fprintf(g.Stdout, "%s %s; kept %s within the grace period\n", verb, plural(len(res.Deleted), "object"),
						plural(len(res.Young), "unreferenced object"))
				}
			}
		}
		return err
	})
}
