package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/s3repo"
)

type publishOptions struct {
	dryRun bool
	force  bool
	json   bool
	sign   bool
	key    string
	unsign bool
}

func init() { register(newPublishCommand) }

func newPublishCommand(g *Globals) *cobra.Command {
	var o publishOptions
	cmd := &cobra.Command{
		Use:   "publish s3://BUCKET/PREFIX/NAME.db.tar.EXT",
		Short: "Copy a repository directory to object storage, in mirror-safe order",
		Long: `Make the repository in object storage at the given address hold exactly
what the selected repository directory registers: the packages and their
signatures are uploaded first (each written once; one already there with the
same content is skipped), then one commit registers them, then the files
database, the db and lastupdate are updated. Packages no longer registered
stay until gc deletes them after the grace period (s3_grace), so mirrors
serving the previous database find every package it names. Unregistering
more than half of the bucket's packages (when it holds more than 10: an empty
or wrong directory published) needs --force.

The bucket's repository must have the same NAME and extension. Other
publishers may publish into it at the same time; each commit is made
against the state it read.`,
		Example: `  pacrepo --repo /srv/repo/farm.db.tar.zst publish s3://farm/os/x86_64/farm.db.tar.zst
  pacrepo -P farm publish -n s3://farm/os/x86_64/farm.db.tar.zst   # show what would change`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPublish(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "show what would change, change nothing")
	f.BoolVar(&o.force, "force", false, "allow unregistering more than half of the bucket's packages")
	f.BoolVar(&o.json, "json", false, "print what was done (or would be) as JSON")
	f.BoolVarP(&o.sign, "sign", "s", false, "sign the databases (also sign_db in the profile)")
	f.BoolVar(&o.unsign, "unsign-db", false, "publish unsigned databases over signed ones, dropping their signatures")
	f.StringVarP(&o.key, "key", "k", "", "sign with this key (default: the profile's sign_key)")
	return cmd
}

func runPublish(cmd *cobra.Command, g *Globals, o publishOptions, dest string) error {
	addr, err := s3repo.ParseURL(dest)
	if err != nil {
		return usage(err)
	}
	sel, err := g.currentProfile(cmd)
	if err != nil {
		return err
	}
	if isObjectStorage(sel) {
		return usage(errors.New("publish copies a repository directory; the selected repository is in object storage already"))
	}
	opts, err := g.repoOptionsFor(cmd, sel)
	if err != nil {
		return err
	}
	if addr.Name != opts.DB.Name || addr.Ext != opts.DB.Ext {
		return usage(fmt.Errorf("publish %s: the repository %s%s cannot become %s%s (same name and extension)",
			dest, opts.DB.Name, opts.DB.Ext, addr.Name, addr.Ext))
	}
	entries, err := repo.New(opts).EntriesWithFiles(cmd.Context())
	if err != nil {
		return err
	}
	p := *sel.Profile
	p.Repo = dest
	target, err := g.objectRepo(cmd.Context(), &profileSelection{Profile: &p}, changeFlags{sign: o.sign, key: o.key, unsign: o.unsign})
	if err != nil {
		return err
	}
	return g.withActions(cmd.Context(), sel, "publish", o.dryRun, func() error {
		if !o.dryRun {
			// What the bucket promised to another repository first.
			if err := g.finishPromotionOf(cmd, sel.Config, target.PromotionStore()); err != nil {
				return err
			}
		}
		res, err := target.Publish(cmd.Context(), opts.DB.Dir, entries, s3repo.PublishOptions{DryRun: o.dryRun, Force: o.force})
		return g.reportResult(res, err, dbAddress{addr.Name, addr.String()}, o.dryRun, o.json)
	})
}
