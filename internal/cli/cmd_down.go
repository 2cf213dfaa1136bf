package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/aur"
	"github.com/pacrepo/pacrepo/internal/aur/depsolve"
	"github.com/pacrepo/pacrepo/internal/aur/snapshot"
	"github.com/pacrepo/pacrepo/internal/aur/srcinfo"
	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

type downOptions struct {
	dest         string
	clobber      bool
	upgrades     bool
	all          bool
	recursive    bool
	checkDepends bool
	orderFile    string
	dryRun       bool
	syncDBDir    string
	localDBDir   string
	aurSource    string
}

func init() { register(newDownCommand) }

func newDownCommand(g *Globals) *cobra.Command {
	var o downOptions
	cmd := &cobra.Command{
		Use:     "down [NAME...]",
		Aliases: []string{"download"},
		Short:   "Download and extract AUR build files",
		Long: `Download the AUR snapshot of each named package's base and extract it into
DEST/PKGBASE (one directory per package base, so split packages are
downloaded once). An existing directory is left alone unless --clobber.

-u adds every registered package that has a newer version in the AUR, -a
every registered package (ignore_aur excepted).
-r also downloads the AUR dependencies (depends and makedepends, and
checkdepends with --checkdepends) that neither the repository nor pacman's
databases satisfy, honouring version constraints and provides; -o writes
the build order, one package base per line, dependencies first.

Archives are extracted into a temporary directory inside DEST and renamed
into place: no member may leave its directory, and a failure leaves
nothing behind.`,
		Example: `  pacrepo down yay
  pacrepo down -u --dest ~/build
  pacrepo down -r -o order.txt some-package
  pacrepo down -n -r some-package`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !o.upgrades && !o.all {
				return usage(errors.New("give package names, -u for every package with an upgrade, or -a for every package"))
			}
			return runDown(cmd, g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.dest, "dest", "d", ".", "directory to extract into")
	f.BoolVarP(&o.clobber, "clobber", "l", false, "replace existing directories")
	f.BoolVarP(&o.upgrades, "upgrades", "u", false, "download every registered package with an upgrade in the AUR")
	f.BoolVarP(&o.all, "all", "a", false, "download every registered package")
	f.BoolVarP(&o.recursive, "recursive", "r", false, "also download AUR dependencies")
	f.BoolVar(&o.checkDepends, "checkdepends", false, "with -r, also resolve checkdepends")
	f.StringVarP(&o.orderFile, "order", "o", "", "write the build order (one pkgbase per line) to FILE")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "print what would be downloaded and the order; change nothing")
	f.StringVar(&o.syncDBDir, "sync-db-dir", "", "pacman sync databases (default: profile sync_db_dir, else "+config.DefaultSyncDBDir+")")
	f.StringVar(&o.localDBDir, "local-db-dir", "", "pacman local database (default: profile local_db_dir, else "+config.DefaultLocalDBDir+")")
	f.StringVar(&o.aurSource, "aur-source", "auto", "for -u: rpc, dump (the AUR's metadata dump, cached) or auto (dump above 1000 packages)")
	return cmd
}

func runDown(cmd *cobra.Command, g *Globals, o downOptions, args []string) error {
	mode, err := aur.ParseLookupMode(o.aurSource)
	if err != nil {
		return usage(err)
	}
	ctx := cmd.Context()
	prof, haveRepo := g.aurProfile()
	client := g.newAURClient(prof)

	// The repository is needed for -u, and used by -r when there is one.
	var entries []repodb.Entry
	if o.upgrades || o.all || o.recursive && haveRepo {
		entries, err = g.repoEntries(cmd)
		if err != nil {
			return err
		}
	}
	targets := append([]string(nil), args...)
	if o.all {
		for _, e := range entries {
			if !slices.Contains(prof.IgnoreAUR, e.Name) {
				targets = append(targets, e.Name)
			}
		}
	}
	if o.upgrades {
		reg := make([]aur.Installed, len(entries))
		for i, e := range entries {
			reg[i] = aur.Installed{Name: e.Name, Version: e.Version}
		}
		st, err := aur.Upgrades(ctx, client, reg, aur.UpgradeOptions{Ignore: prof.IgnoreAUR, Mode: mode})
		if err != nil {
			return err
		}
		for _, u := range st.Upgrades {
			targets = append(targets, u.Name)
		}
		if len(targets) == 0 {
			if !g.output().Quiet {
				fmt.Fprintln(g.Stdout, "nothing to download: no registered package has an upgrade in the AUR")
			}
			return nil
		}
	}

	var plan *depsolve.Plan
	if o.recursive {
		system, err := depsolve.LoadPacman(firstNonEmpty(o.syncDBDir, prof.SyncDatabases()),
			firstNonEmpty(o.localDBDir, prof.LocalDatabase()))
		if err != nil {
			return err
		}
		r := &depsolve.Resolver{Repo: depsolve.FromEntries(entries), System: system, AUR: client, CheckDepends: o.checkDepends}
		plan, err = r.Resolve(ctx, targets)
		if err != nil {
			return err
		}
	} else {
		plan, err = depsolve.Direct(ctx, client, targets)
		if err != nil {
			return err
		}
	}

	if o.dryRun {
		for _, b := range plan.Order {
			fmt.Fprintf(g.Stdout, "would download %s (%s) into %s\n", b.Name, packageNames(b), snapshot.Target(o.dest, b.Name))
		}
		return nil
	}

	// Refuse before downloading anything rather than halfway.
	var exists []string
	for _, b := range plan.Order {
		if err := snapshot.CheckTarget(o.dest, b.Name, o.clobber); err != nil {
			if !errors.Is(err, snapshot.ErrExists) {
				return err
			}
			exists = append(exists, snapshot.Target(o.dest, b.Name))
		}
	}
	if len(exists) > 0 {
		return fmt.Errorf("%s: %w", strings.Join(exists, ", "), snapshot.ErrExists)
	}
	u := g.output()
	progress := u.Progress(len(plan.Order), "downloading")
	for i, b := range plan.Order {
		dir, err := downloadBase(ctx, client, o, b.Name)
		if err != nil {
			u.Finish()
			return err
		}
		if !g.output().Quiet {
			u.Printf("downloaded %s into %s\n", b.Name, dir)
		}
		for _, w := range srcinfo.CheckFile(filepath.Join(dir, ".SRCINFO"), b.Name, versionsOf(b)) {
			u.Warnf("%s", w)
		}
		progress(i+1, len(plan.Order))
	}
	u.Finish()
	if o.orderFile != "" {
		var sb strings.Builder
		for _, b := range plan.Order {
			sb.WriteString(b.Name + "\n")
		}
		if err := os.WriteFile(o.orderFile, []byte(sb.String()), 0o644); err != nil {
			return fmt.Errorf("write build order: %w", err)
		}
	}
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func packageNames(b depsolve.Base) string {
	n := make([]string, len(b.Packages))
	for i, p := range b.Packages {
		n[i] = p.Name + " " + p.Version
	}
	return strings.Join(n, ", ")
}

func downloadBase(ctx context.Context, c *aur.Client, o downOptions, base string) (string, error) {
	rc, err := c.Snapshot(ctx, base)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", base, err)
	}
	defer rc.Close()
	return snapshot.Extract(rc, o.dest, base, snapshot.Options{Clobber: o.clobber})
}

// versionsOf maps the base's package names to the versions the AUR gave.
func versionsOf(b depsolve.Base) map[string]string {
	m := make(map[string]string, len(b.Packages))
	for _, p := range b.Packages {
		m[p.Name] = p.Version
	}
	return m
}
