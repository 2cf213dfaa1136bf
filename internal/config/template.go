package config

import (
	"fmt"
	"io"
	"strings"
	"text/template"
)

// WriteCommented writes c as a TOML file in which every key is explained,
// the way `conf new` and `conf migrate` write it. Keys left at their
// defaults are written commented out. Reading the output with Parse gives
// back c's settings.
func WriteCommented(w io.Writer, c *Config) error {
	type prof struct {
		Key string
		*Profile
	}
	data := struct {
		*Config
		Profs []prof
	}{Config: c}
	for _, n := range c.ProfileNames() {
		data.Profs = append(data.Profs, prof{Key: quoteKey(n), Profile: c.Profiles[n]})
	}
	return commentedTmpl.Execute(w, data)
}

var commentedTmpl = template.Must(template.New("config").Funcs(template.FuncMap{
	"t":  tomlValue,
	"on": commentUnless,
}).Parse(`# pacrepo configuration (repoctl's format: repoctl reads it too, and
# warns only about the keys marked "pacrepo only").
#
# Lookup order when --config is not given: $PACREPO_CONFIG, then
# pacrepo/config.toml in $XDG_CONFIG_HOME (~/.config) and $XDG_CONFIG_DIRS
# (/etc/xdg), then $REPOCTL_CONFIG and repoctl/config.toml in the same places.
# The first file found is used; files are not merged.

# columnate prints listings (the list command) in columns, like ls.
columnate = {{t .Columnate}}

# color says when to colour the output: "auto" (on a terminal, unless
# NO_COLOR is set), "always"/"on" or "never"/"off". --color overrides it.
color = {{t .ColorMode}}

# quiet prints only errors and the output that was asked for.
quiet = {{t .Quiet}}

# default_profile is the profile used when --profile (-P) is not given.
# With a single profile it may be left empty.
default_profile = {{t .DefaultProfile}}
{{range .Profs}}
[profiles.{{.Key}}]
  # repo is the absolute path of the repository database,
  # DIR/NAME.db.tar.EXT (EXT: zst, xz, gz, bz2, ...). The package files live
  # in DIR. ~ and $VARIABLES are expanded.
  repo = {{t .Repo}}

  # add_params and rm_params were passed to repo-add and repo-remove by
  # repoctl. pacrepo writes the database itself and honours each option
  # with its meaning: -n/--new, -p/--prevent-downgrade and --include-sigs
  # as add's flags, -s/--sign as sign_db, -k/--key KEY as sign_key,
  # -v/--verify as --verify, -q as --quiet, --nocolor as --color never;
  # -w (pacrepo always waits for the lock) and -R (it always retires old
  # files) are accepted. Any other option is refused.
  {{on (len .AddParams)}}add_params = {{t .AddParams}}
  {{on (len .RmParams)}}rm_params = {{t .RmParams}}

  # ignore_aur lists package names that AUR related commands (status -a,
  # down, list -o) leave alone.
  {{on (len .IgnoreAUR)}}ignore_aur = {{t .IgnoreAUR}}

  # require_signature refuses to add a package without its .sig file.
  require_signature = {{t .RequireSignature}}

  # backup keeps package files that leave the repository (replaced by a
  # newer version, or removed) instead of deleting them.
  backup = {{t .Backup}}

  # backup_dir is where backup puts them; a relative path is relative to the
  # repository directory. "" (or any path that is the repository directory)
  # leaves the old files in place, only unregistered, for tools like
  # paccache. With backup = true and no backup_dir, "backup/" is used.
  backup_dir = {{t .BackupDir}}

  # interactive shows what a change would do and asks before doing it
  # (add, remove, update, reset); no answer means no.
  interactive = {{t .Interactive}}

  # pre_action and post_action are shell commands (sh -c) run before and
  # after a command uses the repository, e.g. to mount a remote file
  # system. They see PACREPO_ACTION, PACREPO_COMMAND, PACREPO_PROFILE,
  # PACREPO_REPO (database path), PACREPO_REPO_DIR and PACREPO_REPO_NAME.
  # A failing pre_action stops the command.
  {{on (ne .PreAction "")}}pre_action = {{t .PreAction}}
  {{on (ne .PostAction "")}}post_action = {{t .PostAction}}

  # lock_timeout (pacrepo only) is how long a change waits for another
  # process that holds the repository lock, e.g. "30s", "10m" (default).
  lock_timeout = {{t .LockTimeout.String}}

  # keep_backups (pacrepo only) is how many backed-up files to keep per
  # package in backup_dir; 0 keeps all.
  keep_backups = {{t .KeepBackups}}

  # Retention (pacrepo only; a directory and a bucket alike): the newest
  # keep_generations generations, those of the last keep_days days and
  # those superseded within grace stay restorable (rollback); a package
  # file goes only when none of them references it and it was superseded
  # longer ago than grace (s3_grace is its older name). gc applies it;
  # changes apply it to the names they touch.
  keep_generations = {{t .KeepGenerations}}
  keep_days = {{t .KeepDays}}
  grace = {{t .Grace.String}}

  # ignore_patterns (pacrepo only) are file name patterns (shell globs) of
  # files being written, besides the built-in ones (dot-files, *.part,
  # *.tmp, *~). Such files are never read or touched, except a file the
  # database registers (and its .sig), which no pattern hides.
  {{on (len .IgnorePatterns)}}ignore_patterns = {{t .IgnorePatterns}}

  # aur_url (pacrepo only) is the AUR's base URL; --aur-url overrides it.
  {{on (ne .AURURL "")}}aur_url = {{t .AURBaseURL}}

  # sync_db_dir and local_db_dir (pacrepo only) are pacman's databases,
  # used to tell which packages are installed or in the official
  # repositories.
  {{on (ne .SyncDBDir "")}}sync_db_dir = {{t .SyncDatabases}}
  {{on (ne .LocalDBDir "")}}local_db_dir = {{t .LocalDatabase}}

  # upstream (pacrepo only) names the sync databases in sync_db_dir
  # (NAME.db) whose packages may satisfy this repository's dependencies,
  # for check --deps, rebuilds and installable, e.g. ["core", "extra"].
  {{on (len .Upstream)}}upstream = {{t .Upstream}}

  # installable (pacrepo only): "off" (default), "warn" or "refuse". add,
  # update, watch and promote check that the change leaves every package
  # installable (dependencies and needed libraries); "refuse" refuses one
  # that does not.
  {{on (ne .Installable "")}}installable = {{t .Installable}}

  # debug_repo (pacrepo only) names the repository, a profile, a
  # database path or an s3:// address (not this one), that add, watch
  # (with an inbox, to a directory) and promote route debug packages to:
  # PKGBASE-debug, the detached symbols makepkg's debug option makes
  # (pkgbase PKGBASE, pkgdesc "Detached debugging symbols for ..."), as
  # Arch publishes them in REPO-debug.
  # They go there by that repository's own rules (lock, signatures);
  # promote moves them along with their pkgbase. Unset, they stay here.
  {{on (ne .DebugRepo "")}}debug_repo = {{t .DebugRepo}}

  # Signatures (pacrepo only). keyring lists files of exported public keys
  # (armored or binary, like pacman's keyrings/*.gpg); every package's .sig
  # is verified against them before the package counts, and check verifies
  # them again. trusted_keys (fingerprints) keeps only those keys.
  {{on (len .Keyring)}}keyring = {{t .Keyring}}
  {{on (len .TrustedKeys)}}trusted_keys = {{t .TrustedKeys}}
  # sign_db signs the databases with every change (NAME.db.tar.EXT.sig and
  # the NAME.db.sig link); sign_packages makes add sign the packages it
  # places without a .sig. The key: sign_key_file, an armored secret key
  # (signed in-process; its passphrase in sign_key_passphrase_file or
  # $PACREPO_SIGN_PASSPHRASE, never on the command line), else gpg
  # (sign_with = "gpg": the user's agent or smartcard); sign_key chooses
  # the key by fingerprint.
  sign_db = {{t .SignDB}}
  sign_packages = {{t .SignPackages}}
  {{on (ne .SignKey "")}}sign_key = {{t .SignKey}}
  {{on (ne .SignKeyFile "")}}sign_key_file = {{t .SignKeyFile}}
  {{on (ne .SignKeyPassphraseFile "")}}sign_key_passphrase_file = {{t .SignKeyPassphraseFile}}
  {{on (ne .SignWith "")}}sign_with = {{t .SignWith}}

  # The watch command (pacrepo only) commits uploads as they complete.
  # inbox is the directory builders upload into (absolute; without it,
  # watch watches the repository directory itself); uploads still broken
  # after inbox_reject_after go to inbox_rejected (default INBOX/rejected).
  # An upload is read once unchanged for inbox_settle; complete uploads
  # are committed together after inbox_window; the directory is scanned
  # again every inbox_rescan, besides inotify.
  {{on (ne .Inbox "")}}inbox = {{t .Inbox}}
  {{on (ne .InboxRejected "")}}inbox_rejected = {{t .InboxRejected}}
  inbox_settle = {{t .InboxSettle.String}}
  inbox_window = {{t .InboxWindow.String}}
  inbox_rescan = {{t .InboxRescan.String}}
  inbox_reject_after = {{t .InboxRejectAfter.String}}

  # A repository in object storage: repo = "s3://BUCKET/PREFIX/NAME.db.tar.zst".
  # s3_endpoint is the S3-compatible server's URL (empty: AWS, or
  # $AWS_ENDPOINT_URL); credentials come the standard AWS way. gc keeps
  # objects no commit references for s3_grace, at least as long as a
  # mirror or CDN may serve an older database.
  {{on (ne .S3Endpoint "")}}s3_endpoint = {{t .S3Endpoint}}
  s3_grace = {{t .S3Grace.String}}
{{end}}`))

// commentUnless returns "#" (comment the line out) unless set is true or a
// non-zero count.
func commentUnless(set any) string {
	switch v := set.(type) {
	case bool:
		if v {
			return ""
		}
	case int:
		if v != 0 {
			return ""
		}
	}
	return "#"
}

// tomlValue writes v as a TOML value.
func tomlValue(v any) string {
	switch x := v.(type) {
	case string:
		return tomlString(x)
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = tomlString(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		return fmt.Sprint(x)
	}
}

// tomlString quotes s as a TOML basic string (Go's %q escapes, such as
// \x00, are not all valid TOML).
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// NewConfig returns the configuration `conf new` writes: one profile,
// "default", for the database repo, with backups enabled in backup/.
func NewConfig(repo string) *Config {
	c := Default()
	c.DefaultProfile = DefaultProfileName
	c.Profiles[DefaultProfileName] = &Profile{
		Name:        DefaultProfileName,
		Repo:        repo,
		Backup:      true,
		BackupDir:   DefaultBackupDir,
		LockTimeout: Duration{DefaultLockTimeout},

		KeepGenerations: DefaultKeepGenerations,
		Grace:           Duration{DefaultGrace},

		InboxSettle:      Duration{DefaultInboxSettle},
		InboxWindow:      Duration{DefaultInboxWindow},
		InboxRescan:      Duration{DefaultInboxRescan},
		InboxRejectAfter: Duration{DefaultInboxRejectAfter},
		S3Grace:          Duration{DefaultS3Grace},
	}
	return c
}
