package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/s3repo"
	"github.com/pacrepo/pacrepo/internal/ui"
)

// loadConfig finds (--config, $PACREPO_CONFIG, the XDG directories, then
// repoctl's file: see config.Find) and reads the configuration. Without a
// file it returns config.Default() (Path ""), which is fine for commands
// given --repo. The warnings (unknown keys, old format) are for the caller
// to print to g.Stderr, e.g. with printConfigWarnings.
func (g *Globals) loadConfig() (*config.Config, []string, error) {
	path, err := config.Find(g.ConfigFile)
	if err != nil {
		return nil, nil, err
	}
	if path == "" {
		return config.Default(), nil, nil
	}
	return config.Load(path)
}

// printConfigWarnings prints loadConfig's warnings to g.Stderr; they are
// printed even with --quiet, since they usually mean a typo.
func (g *Globals) printConfigWarnings(warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(g.Stderr, "pacrepo: warning: %s\n", w)
	}
}

// selectProfile returns the profile a command works on and its name:
//   - without --repo: the profile named by -P/--profile, else the file's
//     default_profile, else its only profile (config.Config.Select);
//   - with --repo and -P: that profile with its repo replaced by --repo;
//   - with --repo alone: the configured profile whose repo is that path if
//     there is one, else a profile with default settings and name "" (so
//     another repository's actions and backup settings never apply).
//
// --aur-url overrides the profile's aur_url. The returned profile is a copy:
// changing it does not change c.
func (g *Globals) selectProfile(c *config.Config) (string, *config.Profile, error) {
	if g.Repo == "" {
		name, p, err := c.Select(g.Profile)
		if err != nil {
			return "", nil, fmt.Errorf("%w (or give the database with --repo)", err)
		}
		cp := *p
		g.applyFlagOverrides(&cp)
		return name, &cp, nil
	}
	repo, err := resolveRepoFlag(g.Repo)
	if err != nil {
		return "", nil, usage(err)
	}
	var name string
	var cp config.Profile
	switch {
	case g.Profile != "":
		n, p, err := c.Select(g.Profile)
		if err != nil {
			return "", nil, err
		}
		name, cp = n, *p
	default:
		for _, n := range c.ProfileNames() {
			if sameDatabase(c.Profiles[n].Repo, repo) {
				name, cp = n, *c.Profiles[n]
				break
			}
		}
		if name == "" {
			cp = config.Profile{LockTimeout: config.Duration{Duration: config.DefaultLockTimeout}}
		}
	}
	cp.Repo = repo
	cp.Name = name
	g.applyFlagOverrides(&cp)
	return name, &cp, nil
}

// sameDatabase tells whether two database paths name the same file: the
// same base name in the same directory, judged by identity so that a path
// through a symbolic link still finds its profile (and its backup settings).
func sameDatabase(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	if filepath.Base(a) != filepath.Base(b) {
		return false
	}
	da, err := os.Stat(filepath.Dir(a))
	if err != nil {
		return false
	}
	db, err := os.Stat(filepath.Dir(b))
	return err == nil && os.SameFile(da, db)
}

func (g *Globals) applyFlagOverrides(p *config.Profile) {
	if g.AURURL != "" {
		p.AURURL = g.AURURL
	}
	if g.S3Endpoint != "" {
		p.S3Endpoint = g.S3Endpoint
	}
}

// resolveRepoFlag turns --repo into an absolute database path: a path to
// NAME.db.tar.EXT, or a directory holding exactly one such database.
func resolveRepoFlag(arg string) (string, error) {
	if config.IsObjectStorage(arg) {
		if _, err := s3repo.ParseURL(arg); err != nil {
			return "", fmt.Errorf("--repo: %w", err)
		}
		return arg, nil
	}
	abs, err := filepath.Abs(arg)
	if err != nil {
		return "", fmt.Errorf("--repo %s: %w", arg, err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		locs, err := repodb.DatabasesIn(abs)
		if err != nil {
			return "", fmt.Errorf("--repo %s: %w", arg, err)
		}
		var dbs []string
		for _, l := range locs {
			dbs = append(dbs, l.DBPath())
		}
		switch len(dbs) {
		case 1:
			return dbs[0], nil
		case 0:
			return "", fmt.Errorf("--repo %s: no database NAME.db.tar.EXT in this directory; give the database path", arg)
		default:
			return "", fmt.Errorf("--repo %s: several databases (%s); give one of them", arg, strings.Join(dbs, ", "))
		}
	}
	if err := config.CheckDBName(abs); err != nil {
		return "", fmt.Errorf("--repo: %w", err)
	}
	return abs, nil
}

// colorMode is the colour setting in effect: --color when given, else the
// file's color, else auto.
func (g *Globals) colorMode(cmd *cobra.Command, c *config.Config) string {
	if g.NoColor && !flagChanged(cmd, "color") {
		return "never"
	}
	if flagChanged(cmd, "color") || c == nil {
		return g.Color
	}
	return c.ColorMode()
}

// quiet is --quiet when given (also --quiet=false), else the file's quiet.
func (g *Globals) quiet(cmd *cobra.Command, c *config.Config) bool {
	if flagChanged(cmd, "quiet") || c == nil {
		return g.Quiet
	}
	return c.Quiet
}

// resolveOutput decides the output settings once, before the command
// runs: --color and --quiet when given, else the configuration file's
// color and quiet, and the environment (NO_COLOR, TERM, CI, a terminal or
// not). Every command prints through g.output(). A configuration that
// cannot be read is reported by the command that needs it; the output then
// follows the flags.
func (g *Globals) resolveOutput(cmd *cobra.Command) {
	var c *config.Config
	if path, err := config.Find(g.ConfigFile); err == nil && path != "" {
		c, _, _ = config.Load(path)
	}
	color, quiet := g.colorMode(cmd, c), g.quiet(cmd, c)
	// repo-add's --nocolor and -q, passed by repoctl in add_params or
	// rm_params, mean --color never and --quiet, unless the flags say
	// otherwise.
	if c != nil {
		if _, p, err := g.selectProfile(c); err == nil {
			params := repoToolParams(cmd.Name(), p)
			if params.NoColor && !flagChanged(cmd, "color") {
				color = "never"
			}
			if params.Quiet && !flagChanged(cmd, "quiet") {
				quiet = true
			}
		}
	}
	g.out = ui.New(g.Stdout, g.Stderr, color, quiet)
}

// columnate is --columns (or list -s) when given, else the
// configuration's columnate.
func (g *Globals) columnate(cmd *cobra.Command, c *config.Config) bool {
	if flagChanged(cmd, "columns") || c == nil {
		return g.Columns
	}
	return c.Columnate
}

// output is the command's UI, as resolveOutput decided it.
func (g *Globals) output() *ui.UI {
	if g.out == nil {
		g.out = ui.New(g.Stdout, g.Stderr, g.Color, g.Quiet)
	}
	return g.out
}

// flagChanged reports whether the flag (local or inherited) was set on
// the command line.
func flagChanged(cmd *cobra.Command, name string) bool {
	if cmd == nil {
		return false
	}
	f := cmd.Flags().Lookup(name)
	if f == nil {
		f = cmd.InheritedFlags().Lookup(name)
	}
	return f != nil && f.Changed
}
