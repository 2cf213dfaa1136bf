package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/ui"
)

type promoteOptions struct {
	to       string
	all      bool
	snapshot string
	copy     bool
	dryRun   bool
	json     bool
}

func init() { register(newPromoteCommand) }

func newPromoteCommand(g *Globals) *cobra.Command {
	var o promoteOptions
	cmd := &cobra.Command{
		Use:   "promote --to TARGET [NAME...]",
		Short: "Move packages to another repository (staging -> testing -> stable)",
		Long: `Move the named packages of the selected repository to TARGET, a profile name
or a database path: the target registers them (copying their files, by its
own rules) before the source unregisters them (retiring them by its own), so
that an interruption leaves each package in one repository or both, never in
neither; the next change of the source (add, remove, update, promote...)
or check --repair finishes it.

Each package moves with every package of its pkgbase (a split package moves
whole). A newer version in the target is refused: nothing changes.

--all moves every package whose version differs from the target's;
--snapshot S moves exactly what snapshot S holds (NAMEs select among it);
--copy keeps the packages in the source. Repositories in object storage
cannot be promoted from or to yet.`,
		Example: `  pacrepo -P staging promote --to testing foo
  pacrepo -P testing snapshot create rc1
  pacrepo -P testing promote --to stable --snapshot rc1 --all
  pacrepo -P testing promote --to /srv/stable/stable.db.tar.zst --copy bar -n`,
		ValidArgsFunction: completeRegisteredNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.to == "" {
				return usage(fmt.Errorf("promote needs --to TARGET: a profile name or a database path"))
			}
			if len(args) == 0 && !o.all && o.snapshot == "" {
				return usage(fmt.Errorf("promote needs package names, --all or --snapshot S"))
			}
			if o.snapshot != "" {
				if err := checkSnapshotName(o.snapshot); err != nil {
					return err
				}
			}
			source, sel, err := g.openRepo(cmd)
			if err != nil {
				return err
			}
			defer sel.UI.Finish()
			target, err := g.promotionTarget(cmd, sel.Config, o.to)
			if err != nil {
				return err
			}
			return g.withActions(cmd.Context(), sel, "promote", o.dryRun, func() error {
				files, debug, targetDebug, err := g.promoteWithDebug(cmd, sel, source, target, repo.PromoteRequest{Request: repo.Request{DryRun: o.dryRun},
					Names: args, All: o.all, Snapshot: o.snapshot, Copy: o.copy})
				if err != nil {
					return err
				}
				if o.json {
					if files == nil {
						files = []repo.PromotedFile{}
					}
					return ui.WriteJSON(g.Stdout, struct {
						Source   string               `json:"source"`
						Target   string               `json:"target"`
						DryRun   bool                 `json:"dry_run"`
						Copy     bool                 `json:"copy"`
						Promoted []repo.PromotedFile  `json:"promoted"`
						Debug    *repo.DebugPromotion `json:"debug,omitempty"`
					}{source.Options().DB.DBPath(), target.Options().DB.DBPath(), o.dryRun, o.copy, files, debug})
				}
				verb := "promote"
				if o.dryRun {
					verb = "would promote"
				}
				for _, f := range files {
					fmt.Fprintf(g.Stdout, "%s %s %s -> %s\n", verb, f.Name, f.Version, target.Options().DB.Name)
				}
				g.printDebugPromotion(debug, sel, targetDebug, o.dryRun)
				if len(files) == 0 && !g.output().Quiet {
					fmt.Fprintln(g.Stdout, "nothing to promote")
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.to, "to", "", "the target repository: a profile name or a database path")
	f.BoolVar(&o.all, "all", false, "promote every package whose version differs from the target's")
	f.StringVar(&o.snapshot, "snapshot", "", "promote exactly what snapshot `S` of the repository holds")
	f.BoolVar(&o.copy, "copy", false, "keep the packages in the source")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "show what would be promoted, change nothing")
	f.BoolVar(&o.json, "json", false, "print JSON")
	return cmd
}

// promotionTarget is the repository directory to promote to: a profile
// of cfg by name, or a database path (with the options of the profile of
// that database, if one has it).
func (g *Globals) promotionTarget(cmd *cobra.Command, cfg *config.Config, to string) (*repo.Repo, error) {
	if config.IsObjectStorage(to) {
		return nil, usage(fmt.Errorf("promote to %s: promotion to or from object storage is not supported yet", to))
	}
	name, p := to, cfg.Profiles[to]
	if p == nil {
		path, err := resolveRepoFlag(to)
		if err != nil {
			return nil, usage(fmt.Errorf("--to %s: neither a profile nor a database path: %w", to, err))
		}
		name = ""
		for _, n := range cfg.ProfileNames() {
			if sameDatabase(cfg.Profiles[n].Repo, path) {
				name, p = n, cfg.Profiles[n]
				break
			}
		}
		cp := config.Profile{LockTimeout: config.Duration{Duration: config.DefaultLockTimeout}}
		if p != nil {
			cp = *p
		}
		cp.Repo, cp.Name = path, name
		p = &cp
	}
	if config.IsObjectStorage(p.Repo) {
		return nil, usage(fmt.Errorf("promote to %s: promotion to or from object storage is not supported yet", to))
	}
	opts, err := g.repoOptionsFor(cmd, &profileSelection{Config: cfg, Name: name, Profile: p, UI: g.output()})
	if err != nil {
		return nil, err
	}
	return repo.New(opts), nil
}

// finishPromotion finishes an interrupted promotion from r, if there is
// one, before another change of r: with the target's options.
func (g *Globals) finishPromotion(cmd *cobra.Command, cfg *config.Config, r *repo.Repo) error {
	pending, err := r.PendingPromotion()
	if err != nil || pending == nil {
		return err
	}
	target, err := g.promotionTarget(cmd, cfg, pending.Target)
	if err != nil {
		return err
	}
	if err := r.FinishPromotion(cmd.Context(), target); err != nil {
		return err
	}
	fmt.Fprintf(g.Stderr, "pacrepo: finished an interrupted promotion to %s\n", pending.Target)
	return nil
}
