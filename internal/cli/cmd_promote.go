package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/s3repo"
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
		Long: `Move the named packages of the selected repository to TARGET, a profile
name, a database path or an s3:// address: the target registers them
(copying their files, by its own rules) before the source unregisters them
(retiring them by its own), so that an interruption leaves each package in
one repository or both, never in neither; the next change of the source
(add, remove, update, promote...) or check --repair finishes it.

Each package moves with every package of its pkgbase (a split package moves
whole). A newer version in the target is refused: nothing changes.

--all moves every package whose version differs from the target's;
--snapshot S moves exactly what snapshot S holds (NAMEs select among it);
--copy keeps the packages in the source. Either repository, or both, may be
in object storage: the files are streamed there or from there with their
signatures.`,
		Example: `  pacrepo -P staging promote --to testing foo
  pacrepo -P testing snapshot create rc1
  pacrepo -P testing promote --to stable --snapshot rc1 --all
  pacrepo -P testing promote --to /srv/stable/stable.db.tar.zst --copy bar -n
  pacrepo -P testing promote --to s3://mirror/os/x86_64/stable.db.tar.zst --all`,
		ValidArgsFunction: completeRegisteredNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.to == "" {
				return usage(fmt.Errorf("promote needs --to TARGET: a profile name, a database path or an s3:// address"))
			}
			if len(args) == 0 && !o.all && o.snapshot == "" {
				return usage(fmt.Errorf("promote needs package names, --all or --snapshot S"))
			}
			if o.snapshot != "" {
				if err := checkSnapshotName(o.snapshot); err != nil {
					return err
				}
			}
			sel, err := g.currentProfile(cmd)
			if err != nil {
				return err
			}
			defer sel.UI.Finish()
			source, err := g.promotionStore(cmd, sel)
			if err != nil {
				return err
			}
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
					}{source.Address(), target.Address(), o.dryRun, o.copy, files, debug})
				}
				verb := "promote"
				if o.dryRun {
					verb = "would promote"
				}
				for _, f := range files {
					fmt.Fprintf(g.Stdout, "%s %s %s -> %s\n", verb, f.Name, f.Version, target.Name())
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
	f.StringVar(&o.to, "to", "", "the target repository: a profile name, a database path or an s3:// address")
	f.BoolVar(&o.all, "all", false, "promote every package whose version differs from the target's")
	f.StringVar(&o.snapshot, "snapshot", "", "promote exactly what snapshot `S` of the repository holds")
	f.BoolVar(&o.copy, "copy", false, "keep the packages in the source")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "show what would be promoted, change nothing")
	f.BoolVar(&o.json, "json", false, "print JSON")
	return cmd
}

// promotionStore is sel's repository, a directory or in object storage, as
// a promotion's source or target; as a target it adds as a plain add into
// it does (its add_params: --include-sigs, and -v for a directory).
func (g *Globals) promotionStore(cmd *cobra.Command, sel *profileSelection) (repo.PromotionStore, error) {
	add := changeFlags{}.withProfile("add", sel.Profile)
	if isObjectStorage(sel) {
		r, err := g.objectRepo(cmd.Context(), sel, changeFlags{})
		if err != nil {
			return nil, err
		}
		return r.PromotionStoreAdding(repo.Request{EmbedSignatures: add.includeSigs}), nil
	}
	opts, err := g.repoOptionsFor(cmd, sel)
	if err != nil {
		return nil, err
	}
	// Each repository's change signs its databases as any change of it
	// does (objectRepo does so for a bucket).
	if sel.Profile.SignsDatabases() {
		if opts.DatabaseSigner, err = signer(sel.Profile, ""); err != nil {
			return nil, err
		}
	}
	return repo.New(opts).PromotionStoreAdding(repo.Request{EmbedSignatures: add.includeSigs, VerifyDatabase: add.verify}), nil
}

// promotionTarget is the repository to promote to: a profile of cfg by
// name, or a database path or s3:// address (with the options of the
// profile of that repository, if one has it).
func (g *Globals) promotionTarget(cmd *cobra.Command, cfg *config.Config, to string) (repo.PromotionStore, error) {
	name, p := to, cfg.Profiles[to]
	if p == nil {
		path, err := resolveRepoFlag(to)
		if err != nil {
			return nil, usage(fmt.Errorf("--to %s: neither a profile nor a database path: %w", to, err))
		}
		name = ""
		for _, n := range cfg.ProfileNames() {
			if sameRepositoryAddress(cfg.Profiles[n].Repo, path) {
				name, p = n, cfg.Profiles[n]
				break
			}
		}
		cp := config.Profile{LockTimeout: config.Duration{Duration: config.DefaultLockTimeout}}
		if p != nil {
			cp = *p
		} else {
			g.applyFlagOverrides(&cp) // --s3-endpoint reaches a bucket no profile names
		}
		cp.Repo, cp.Name = path, name
		p = &cp
	}
	return g.promotionStore(cmd, &profileSelection{Config: cfg, Name: name, Profile: p, UI: g.output()})
}

// sameRepositoryAddress tells whether a and b name one repository: one
// database, or one s3:// address (of either database's name).
func sameRepositoryAddress(a, b string) bool {
	if config.IsObjectStorage(a) || config.IsObjectStorage(b) {
		aa, errA := s3repo.ParseURL(a)
		ab, errB := s3repo.ParseURL(b)
		return errA == nil && errB == nil && aa.String() == ab.String()
	}
	return sameDatabase(a, b)
}

// finishPromotion finishes an interrupted promotion from r, if there is
// one, before another change of r: with the target's options.
func (g *Globals) finishPromotion(cmd *cobra.Command, cfg *config.Config, r *repo.Repo) error {
	return g.finishPromotionOf(cmd, cfg, r.PromotionStore())
}

// finishPromotionOf finishes an interrupted promotion from source, a
// directory or a bucket, if there is one.
func (g *Globals) finishPromotionOf(cmd *cobra.Command, cfg *config.Config, source repo.PromotionStore) error {
	pending, err := source.ReadPromotion(cmd.Context())
	if err != nil || pending == nil {
		return err
	}
	target, err := g.promotionTarget(cmd, cfg, pending.Target)
	if err != nil {
		return err
	}
	if err := repo.FinishPromotion(cmd.Context(), source, target); err != nil {
		return err
	}
	fmt.Fprintf(g.Stderr, "pacrepo: finished an interrupted promotion to %s\n", pending.Target)
	return nil
}

// promotionFinding is check's finding of an interrupted promotion from
// source (nil: none); with repair, it is finished.
func (g *Globals) promotionFinding(cmd *cobra.Command, cfg *config.Config, source repo.PromotionStore, repair bool) (*findingJSON, error) {
	pending, err := source.ReadPromotion(cmd.Context())
	if err != nil || pending == nil {
		return nil, err
	}
	f := &findingJSON{Kind: "promotion", Path: pending.Target, Detail: "an interrupted promotion to it is pending"}
	if repair {
		if err := g.finishPromotionOf(cmd, cfg, source); err != nil {
			return nil, err
		}
		f.Repaired = true
	}
	return f, nil
}
