package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/ui"
)

func init() { register(newConfCommand) }

func newConfCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "conf",
		Short: "Create, show, edit and migrate the configuration file",
		Long: `Manage pacrepo's configuration file. It has repoctl's format: an existing
repoctl configuration works unchanged, and pacrepo finds it when it has none
of its own. The file is looked up in this order (the first one found is
used, files are not merged):

  --config FILE
  $PACREPO_CONFIG
  $XDG_CONFIG_HOME/pacrepo/config.toml   (default ~/.config/pacrepo/config.toml)
  DIR/pacrepo/config.toml for each DIR in $XDG_CONFIG_DIRS (default /etc/xdg)
  $REPOCTL_CONFIG
  $XDG_CONFIG_HOME/repoctl/config.toml, then in $XDG_CONFIG_DIRS

The user's file comes before the system's, as in repoctl where the user's
file overrides the system's.`,
		Example: `  pacrepo conf new --repo /srv/repo/myrepo.db.tar.zst
  pacrepo conf show
  pacrepo conf edit
  pacrepo conf migrate`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newConfNewCommand(g), newConfShowCommand(g), newConfEditCommand(g), newConfMigrateCommand(g))
	return cmd
}

func newConfNewCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "new [PATH] --repo DIR/NAME.db.tar.EXT",
		Short: "Write a new configuration file with every setting explained",
		Long: `Write a configuration file for the repository given with --repo, with a
comment explaining every setting. PATH defaults to $PACREPO_CONFIG, else
$XDG_CONFIG_HOME/pacrepo/config.toml (~/.config/pacrepo/config.toml).

An existing file is first copied to PATH.bak (or PATH.bak.1, PATH.bak.2, ...:
an earlier backup is never overwritten). The new profile is named "default"
and keeps retired package files in backup/ next to the database.`,
		Example: "  pacrepo conf new --repo /srv/repo/myrepo.db.tar.zst",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.Repo == "" {
				return usage(errors.New("conf new: give the repository database with --repo DIR/NAME.db.tar.EXT"))
			}
			repo, err := filepath.Abs(g.Repo)
			if err != nil {
				return err
			}
			if err := config.CheckDBName(repo); err != nil {
				return usage(fmt.Errorf("--repo: %w", err))
			}
			path, err := targetPath(args)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := config.WriteCommented(&buf, config.NewConfig(repo)); err != nil {
				return err
			}
			return writeConfigFile(g, path, buf.Bytes())
		},
	}
}

func targetPath(args []string) (string, error) {
	if len(args) > 0 {
		return args[0], nil
	}
	return config.UserPath()
}

// writeConfigFile replaces path with data atomically, after copying an
// existing file to a backup name that is not taken yet.
func writeConfigFile(g *Globals, path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if _, err := os.Stat(path); err == nil {
		bak, err := backupFile(path)
		if err != nil {
			return err
		}
		if !g.output().Quiet {
			fmt.Fprintf(g.Stderr, "pacrepo: kept the previous %s as %s\n", path, bak)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fsutil.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !g.output().Quiet {
		fmt.Fprintf(g.Stderr, "pacrepo: wrote %s\n", path)
	}
	return nil
}

// backupFile copies path to PATH.bak, or PATH.bak.N for the first N that
// is free; the copy is created exclusively, so no backup is ever
// overwritten, even by a concurrent run.
func backupFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("back up %s: %w", path, err)
	}
	for n := 0; n < 10000; n++ {
		name := path + ".bak"
		if n > 0 {
			name += "." + strconv.Itoa(n)
		}
		_, _, err := fsutil.CopyFile(path, name, fi.Mode().Perm())
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("back up %s: %w", path, err)
		}
		return name, nil
	}
	return "", fmt.Errorf("back up %s: too many backups already", path)
}

// setting is one effective value and where it came from.
type setting struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Source string `json:"source"`
}

type confShow struct {
	ConfigFile string    `json:"config_file"` // "" when none
	Profile    string    `json:"profile"`     // "" when none selected
	Profiles   []string  `json:"profiles"`
	Settings   []setting `json:"settings"`
	Warnings   []string  `json:"warnings,omitempty"`
	NoProfile  string    `json:"no_profile,omitempty"` // why no profile is shown
}

func newConfShowCommand(g *Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the configuration in effect and where each value comes from",
		Long: `Print the effective configuration: command-line flags override environment
variables, which override the file, which overrides the defaults. Each value
is followed by its source: "flag --NAME", "env NAME", "FILE:KEY" or "default".`,
		Example: `  pacrepo conf show
  pacrepo -P extra conf show     # the profile extra
  pacrepo --config ./test.toml conf show --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, warnings, err := g.loadConfig()
			if err != nil {
				return err
			}
			show, err := buildConfShow(g, cmd, c)
			if err != nil {
				return err
			}
			show.Warnings = warnings
			if asJSON {
				return ui.WriteJSON(g.Stdout, show)
			}
			g.printConfigWarnings(warnings)
			return printConfShow(g.Stdout, show)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// buildConfShow collects the effective settings. A profile that cannot be
// chosen is shown as such, unless -P named one that does not exist.
func buildConfShow(g *Globals, cmd *cobra.Command, c *config.Config) (*confShow, error) {
	s := &confShow{ConfigFile: c.Path, Profiles: c.ProfileNames(), Settings: []setting{}}
	from := func(key string, flag string, env string) string {
		switch {
		case flag != "" && flagChanged(cmd, flag):
			return "flag --" + flag
		case env != "" && os.Getenv(env) != "":
			return "env " + env
		case c.Path != "" && c.IsDefined(key):
			return c.Path + ":" + key
		}
		return "default"
	}
	add := func(key string, v any, src string) { s.Settings = append(s.Settings, setting{key, v, src}) }

	add("columnate", c.Columnate, from("columnate", "", ""))
	color := g.colorMode(cmd, c)
	colorSrc := from("color", "color", "")
	if colorSrc != "flag --color" && os.Getenv("NO_COLOR") != "" && color == "auto" {
		color, colorSrc = "never", "env NO_COLOR"
	}
	add("color", color, colorSrc)
	add("quiet", g.quiet(cmd, c), from("quiet", "quiet", ""))
	add("default_profile", c.DefaultProfile, from("default_profile", "", ""))

	name, p, err := g.selectProfile(c)
	if err != nil {
		if g.Profile != "" || g.Repo != "" {
			return nil, err
		}
		s.NoProfile = err.Error()
		return s, nil
	}
	s.Profile = name
	pk := func(k string) string { return "profiles." + name + "." + k }
	pfrom := func(k string) string {
		if name == "" {
			return "default"
		}
		return from(pk(k), "", "")
	}
	repoSrc := pfrom("repo")
	if g.Repo != "" {
		repoSrc = "flag --repo"
	}
	add("repo", p.Repo, repoSrc)
	add("add_params", nonNil(p.AddParams), pfrom("add_params"))
	add("rm_params", nonNil(p.RmParams), pfrom("rm_params"))
	add("ignore_aur", nonNil(p.IgnoreAUR), pfrom("ignore_aur"))
	add("require_signature", p.RequireSignature, pfrom("require_signature"))
	add("backup", p.Backup, pfrom("backup"))
	add("backup_dir", p.BackupDir, pfrom("backup_dir"))
	mode, dir := p.Retirement(filepath.Dir(p.Repo))
	retire := mode.String()
	if dir != "" {
		retire += " " + dir
	}
	add("retired_files", retire, "from backup and backup_dir")
	add("interactive", p.Interactive, pfrom("interactive"))
	add("pre_action", p.PreAction, pfrom("pre_action"))
	add("post_action", p.PostAction, pfrom("post_action"))
	add("lock_timeout", p.LockTimeout.String(), pfrom("lock_timeout"))
	add("keep_backups", p.KeepBackups, pfrom("keep_backups"))
	add("keep_generations", p.KeepGenerations, pfrom("keep_generations"))
	add("keep_days", p.KeepDays, pfrom("keep_days"))
	graceSrc := pfrom("grace")
	if name != "" && !c.IsDefined(pk("grace")) && c.IsDefined(pk("s3_grace")) {
		graceSrc = pfrom("s3_grace")
	}
	add("grace", p.Grace.String(), graceSrc)
	add("ignore_patterns", nonNil(p.IgnorePatterns), pfrom("ignore_patterns"))
	aurSrc := pfrom("aur_url")
	if g.AURURL != "" {
		aurSrc = "flag --aur-url"
	}
	add("aur_url", p.AURBaseURL(), aurSrc)
	add("sync_db_dir", p.SyncDatabases(), pfrom("sync_db_dir"))
	add("local_db_dir", p.LocalDatabase(), pfrom("local_db_dir"))
	if p.DebugRepo != "" {
		add("debug_repo", p.DebugRepo+" ("+p.DebugProfile().Repo+")", pfrom("debug_repo"))
	}
	add("keyring", nonNil(p.Keyring), pfrom("keyring"))
	add("trusted_keys", nonNil(p.TrustedKeys), pfrom("trusted_keys"))
	add("sign_db", p.SignDB, pfrom("sign_db"))
	add("sign_packages", p.SignPackages, pfrom("sign_packages"))
	add("sign_key", p.SignKey, pfrom("sign_key"))
	add("sign_key_file", p.SignKeyFile, pfrom("sign_key_file"))
	add("sign_key_passphrase_file", p.SignKeyPassphraseFile, pfrom("sign_key_passphrase_file"))
	add("sign_with", p.SignWith, pfrom("sign_with"))
	inbox, inboxSrc := p.Inbox, pfrom("inbox")
	if inbox == "" {
		inbox, inboxSrc = filepath.Dir(p.Repo), "the repository directory (no inbox)"
	}
	add("inbox", inbox, inboxSrc)
	if p.Inbox != "" {
		add("inbox_rejected", p.RejectedDir(p.Inbox), pfrom("inbox_rejected"))
	}
	settle, window, rescan, rejectAfter := p.InboxTimings()
	add("inbox_settle", settle.String(), pfrom("inbox_settle"))
	add("inbox_window", window.String(), pfrom("inbox_window"))
	add("inbox_rescan", rescan.String(), pfrom("inbox_rescan"))
	add("inbox_reject_after", rejectAfter.String(), pfrom("inbox_reject_after"))
	if config.IsObjectStorage(p.Repo) {
		endpoint, endpointSrc := p.S3Endpoint, pfrom("s3_endpoint")
		if g.S3Endpoint != "" {
			endpointSrc = "flag --s3-endpoint"
		}
		add("s3_endpoint", endpoint, endpointSrc)
		add("s3_grace", p.S3GracePeriod().String(), pfrom("s3_grace"))
	}
	return s, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func printConfShow(w io.Writer, s *confShow) error {
	var b strings.Builder
	file := s.ConfigFile
	if file == "" {
		file = "none (defaults)"
	}
	fmt.Fprintf(&b, "# configuration file: %s\n", file)
	if len(s.Profiles) > 0 {
		fmt.Fprintf(&b, "# profiles: %s\n", strings.Join(s.Profiles, ", "))
	}
	for i, st := range s.Settings {
		if st.Key == "repo" {
			name := s.Profile
			if name == "" {
				name = "(from --repo)"
			}
			fmt.Fprintf(&b, "\n[profiles.%s]\n", name)
		}
		indent := ""
		if i >= 4 {
			indent = "  "
		}
		fmt.Fprintf(&b, "%s%s = %s  # %s\n", indent, st.Key, showValue(st.Value), st.Source)
	}
	if s.NoProfile != "" {
		fmt.Fprintf(&b, "\n# no profile: %s\n", s.NoProfile)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func showValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprint(v)
}

func newConfEditCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "edit",
		Short: "Open the configuration file in an editor, then check it",
		Long: `Open the configuration file in $EDITOR (else $VISUAL, else vi), then read
it back and report any error or unknown key. The file is the one pacrepo
uses (see "pacrepo conf"); create one first with "pacrepo conf new".`,
		Example: `  pacrepo conf edit
  EDITOR=nano pacrepo conf edit
  pacrepo --config /etc/xdg/pacrepo/config.toml conf edit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := config.Find(g.ConfigFile)
			if err != nil {
				return err
			}
			if path == "" {
				return errors.New("no configuration file to edit: create one with `pacrepo conf new --repo DIR/NAME.db.tar.EXT`")
			}
			editor := os.Getenv("EDITOR")
			if editor == "" {
				editor = os.Getenv("VISUAL")
			}
			if editor == "" {
				editor = "vi"
			}
			// The editor setting may carry arguments ("code -w"), so the
			// shell splits it; the path is passed as "$1", never parsed.
			ed := exec.CommandContext(cmd.Context(), "sh", "-c", editor+` "$1"`, "sh", path)
			ed.Stdin, ed.Stdout, ed.Stderr = os.Stdin, g.directStdout(), g.Stderr
			if err := ed.Run(); err != nil {
				return fmt.Errorf("editor %q: %w", editor, err)
			}
			_, warnings, err := config.Load(path)
			g.printConfigWarnings(warnings)
			if err != nil {
				return fmt.Errorf("the edited file is not valid (run `pacrepo conf edit` again to fix it): %w", err)
			}
			if !g.output().Quiet {
				fmt.Fprintf(g.Stderr, "pacrepo: %s is valid\n", path)
			}
			return nil
		},
	}
}

func newConfMigrateCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate [FROM] [TO]",
		Short: "Convert a repoctl configuration into pacrepo's",
		Long: `Read a repoctl configuration, in the current format ([profiles.NAME]
tables) or in the flat format of repoctl before 0.21 (repo, backup, ... at
the top level), and write it as pacrepo's commented configuration.

FROM defaults to repoctl's file ($REPOCTL_CONFIG, else repoctl/config.toml in
$XDG_CONFIG_HOME and $XDG_CONFIG_DIRS). TO defaults to $PACREPO_CONFIG, else
$XDG_CONFIG_HOME/pacrepo/config.toml. FROM and TO may be the same file.
An existing TO is first copied to TO.bak (or TO.bak.N); FROM is never
changed unless it is TO. ~ and $VARIABLES in paths are written expanded.
Keys pacrepo does not know are reported and left out.`,
		Example: `  pacrepo conf migrate     # repoctl's file -> ~/.config/pacrepo/config.toml
  pacrepo conf migrate ~/.config/repoctl/config.toml ./pacrepo.toml
  pacrepo conf migrate old.toml old.toml   # in place, keeping old.toml.bak`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			from, to := "", ""
			if len(args) > 0 {
				from = args[0]
			}
			if len(args) > 1 {
				to = args[1]
			}
			if from == "" {
				from = config.FindRepoctl()
				if from == "" {
					return errors.New("no repoctl configuration found: give its path")
				}
			}
			if to == "" {
				var err error
				if to, err = config.UserPath(); err != nil {
					return err
				}
			}
			c, warnings, err := config.LoadLegacy(from)
			g.printConfigWarnings(warnings)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := config.WriteCommented(&buf, c); err != nil {
				return err
			}
			return writeConfigFile(g, to, buf.Bytes())
		},
	}
}
