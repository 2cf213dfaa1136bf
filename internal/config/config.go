// Package config reads pacrepo's TOML configuration, which uses repoctl's
// schema so that an existing repoctl configuration works unchanged.
//
// A file has a few global keys (columnate, color, quiet, default_profile)
// and one table per repository, [profiles.NAME]. repoctl before 0.21 had no
// profiles: the repository keys were at the top level. Such a file is still
// read (as one profile, named by default_profile or "default") with a
// warning suggesting `pacrepo conf migrate`.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/pacrepo/pacrepo/internal/layout"
)

// Defaults of the settings a profile may leave out. They are defined here
// only; the template of `conf new`, `conf show` and the commands use these.
const (
	// DefaultLockTimeout is how long a writer waits for the repository lock.
	DefaultLockTimeout = 10 * time.Minute
	// DefaultAURURL is the official AUR.
	DefaultAURURL = "https://aur.archlinux.org"
	// DefaultSyncDBDir holds pacman's sync databases (*.db).
	DefaultSyncDBDir = "/var/lib/pacman/sync"
	// DefaultLocalDBDir is pacman's database of installed packages.
	DefaultLocalDBDir = "/var/lib/pacman/local"

	// The watch command's timings: an upload unchanged for InboxSettle is
	// read; complete uploads are committed together after InboxWindow;
	// the directory is scanned again every InboxRescan; an upload still
	// broken after InboxRejectAfter is rejected.
	DefaultInboxSettle      = 2 * time.Second
	DefaultInboxWindow      = time.Second
	DefaultInboxRescan      = 30 * time.Second
	DefaultInboxRejectAfter = 10 * time.Minute
	// DefaultRejectedDir, inside the inbox, receives rejected uploads.
	DefaultRejectedDir = "rejected"
	// DefaultS3Grace is how long a repository in object storage keeps
	// objects no commit references any more (s3_grace): at least as long
	// as a mirror or CDN may serve an older database.
	DefaultS3Grace = 24 * time.Hour
	// DefaultGrace is how long a retired file stays after it was
	// superseded (grace), in a directory or a bucket: a client or mirror
	// holding yesterday's database still finds it.
	DefaultGrace = DefaultS3Grace
	// DefaultKeepGenerations is how many of the newest generations stay
	// restorable (keep_generations): enough to roll back the last few
	// changes of a busy repository, at the cost of the files those
	// changes retired, which follows the changes, not the repository.
	DefaultKeepGenerations = 10
)

// IsObjectStorage tells whether a repo value addresses object storage
// (s3://BUCKET/PREFIX/NAME.db.tar.EXT) rather than a file.
func IsObjectStorage(repo string) bool { return strings.HasPrefix(repo, "s3://") }

// durationOrDefault is d, or def when d is not set.
func durationOrDefault(d Duration, def time.Duration) time.Duration {
	if d.Duration > 0 {
		return d.Duration
	}
	return def
}

// InboxTimings are the watch command's timings, defaults included.
func (p *Profile) InboxTimings() (settle, window, rescan, rejectAfter time.Duration) {
	return durationOrDefault(p.InboxSettle, DefaultInboxSettle), durationOrDefault(p.InboxWindow, DefaultInboxWindow),
		durationOrDefault(p.InboxRescan, DefaultInboxRescan), durationOrDefault(p.InboxRejectAfter, DefaultInboxRejectAfter)
}

// S3GracePeriod is how long a repository in object storage keeps objects
// no commit references any more, the default included: grace, or its
// older name s3_grace. A bucket has one at least (an upload not committed
// yet lives on it).
func (p *Profile) S3GracePeriod() time.Duration {
	return durationOrDefault(p.Grace, durationOrDefault(p.S3Grace, DefaultS3Grace))
}

// finishRetention checks the retention keys and sets their defaults. An
// explicit grace of 0 means none (a directory then deletes retired files
// no retained generation references at once); s3_grace, the older name,
// stands for grace when grace is not set.
func (p *Profile) finishRetention(c *Config, bad func(key, format string, args ...any) error) error {
	key := func(k string) string { return "profiles." + p.Name + "." + k }
	if p.KeepGenerations < 0 {
		return bad("keep_generations", "%d is negative", p.KeepGenerations)
	}
	if !c.defined[key("keep_generations")] {
		p.KeepGenerations = DefaultKeepGenerations
	}
	if p.KeepDays < 0 {
		return bad("keep_days", "%d is negative", p.KeepDays)
	}
	if p.Grace.Duration < 0 {
		return bad("grace", "%s is negative", p.Grace.Duration)
	}
	switch {
	case c.defined[key("grace")]:
	case c.defined[key("s3_grace")]:
		p.Grace = p.S3Grace
	default:
		p.Grace.Duration = DefaultGrace
	}
	return nil
}

// RejectedDir is where the watch command moves rejected uploads.
func (p *Profile) RejectedDir(inbox string) string {
	if p.InboxRejected != "" {
		return p.InboxRejected
	}
	return filepath.Join(inbox, DefaultRejectedDir)
}

// DefaultBackupDir is the backup directory used when backup is true and the
// file does not mention backup_dir, as repoctl documents it.
const DefaultBackupDir = "backup/"

// DefaultProfileName names the profile made from a pre-0.21 flat file.
const DefaultProfileName = "default"

// Config is a whole configuration file.
type Config struct {
	Columnate      bool                `toml:"columnate"`
	Color          string              `toml:"color"` // auto, always/on, never/off
	Quiet          bool                `toml:"quiet"`
	DefaultProfile string              `toml:"default_profile"`
	Profiles       map[string]*Profile `toml:"profiles"`

	// Path is the file the configuration was read from ("" when none).
	Path string `toml:"-"`
	// Legacy is true when the file used repoctl's pre-0.21 flat format.
	Legacy bool `toml:"-"`

	// defined holds the dotted keys the file set, in our (profile) layout:
	// a flat file's "repo" is recorded as "profiles.default.repo".
	defined map[string]bool
}

// Profile is one repository's settings.
type Profile struct {
	Repo             string   `toml:"repo"` // ~ and $VARS are expanded by Load
	AddParams        []string `toml:"add_params"`
	RmParams         []string `toml:"rm_params"`
	IgnoreAUR        []string `toml:"ignore_aur"`
	RequireSignature bool     `toml:"require_signature"`
	Backup           bool     `toml:"backup"`
	BackupDir        string   `toml:"backup_dir"` // relative to the repository directory
	Interactive      bool     `toml:"interactive"`
	PreAction        string   `toml:"pre_action"`
	PostAction       string   `toml:"post_action"`

	// Ours.
	LockTimeout Duration `toml:"lock_timeout"` // default 10m
	KeepBackups int      `toml:"keep_backups"` // per package; 0 keeps all
	// Retention of the history (both stores): the newest KeepGenerations
	// generations (DefaultKeepGenerations), those of the last KeepDays
	// days, and those superseded within Grace stay restorable; a retired
	// file stays while one of them references it, and at least Grace
	// (DefaultGrace; s3_grace is its older name) after it was superseded.
	KeepGenerations int      `toml:"keep_generations"`
	KeepDays        int      `toml:"keep_days"`
	Grace           Duration `toml:"grace"`
	IgnorePatterns  []string `toml:"ignore_patterns"` // extra temporary-name patterns
	AURURL          string   `toml:"aur_url"`
	SyncDBDir       string   `toml:"sync_db_dir"`  // pacman sync databases (DefaultSyncDBDir)
	LocalDBDir      string   `toml:"local_db_dir"` // pacman local database (DefaultLocalDBDir)
	// Upstream names the sync databases (sync_db_dir/NAME.db) whose
	// packages may satisfy this repository's dependencies.
	Upstream []string `toml:"upstream"`
	// Installable is what add, update, watch and promote do with a change
	// that leaves a package unsatisfiable: InstallableOff, InstallableWarn
	// or InstallableRefuse ("" is off).
	Installable string `toml:"installable"`
	// DebugRepo names the repository (a profile name, a database path or
	// an s3:// address) that add, watch and promote route debug packages
	// to: PKGBASE-debug, makepkg's detached symbols of pkgbase PKGBASE
	// ("": none, they go in this repository). Parse resolves it
	// (DebugProfile).
	DebugRepo string `toml:"debug_repo"`
	debug     *Profile

	// Signatures (pacrepo only).
	Keyring               []string `toml:"keyring"`       // files of public keys signatures are verified against
	TrustedKeys           []string `toml:"trusted_keys"`  // fingerprints: only these keys of the keyring count
	SignDB                bool     `toml:"sign_db"`       // sign the databases with every change
	SignPackages          bool     `toml:"sign_packages"` // add signs the packages it places without a .sig
	SignKey               string   `toml:"sign_key"`      // fingerprint or key ID of the signing key
	SignKeyFile           string   `toml:"sign_key_file"` // armored secret key file (signing in-process)
	SignKeyPassphraseFile string   `toml:"sign_key_passphrase_file"`
	SignWith              string   `toml:"sign_with"` // "gpg": sign with the gpg program (agent, smartcard)

	// The watch command (pacrepo only).
	Inbox            string   `toml:"inbox"`              // directory builders upload into ("" : the repository directory)
	InboxRejected    string   `toml:"inbox_rejected"`     // rejected uploads (default INBOX/rejected)
	InboxSettle      Duration `toml:"inbox_settle"`       // DefaultInboxSettle
	InboxWindow      Duration `toml:"inbox_window"`       // DefaultInboxWindow
	InboxRescan      Duration `toml:"inbox_rescan"`       // DefaultInboxRescan
	InboxRejectAfter Duration `toml:"inbox_reject_after"` // DefaultInboxRejectAfter

	// Repositories in object storage (repo = "s3://...").
	S3Endpoint string   `toml:"s3_endpoint"` // the server's URL ("": AWS, or AWS_ENDPOINT_URL)
	S3Grace    Duration `toml:"s3_grace"`    // DefaultS3Grace

	// AddOptions and RmOptions are what add_params and rm_params ask
	// (set by Parse).
	AddOptions RepoAddParams `toml:"-"`
	RmOptions  RepoAddParams `toml:"-"`

	// Name is the profile's name in the file (set by Load and Select).
	Name string `toml:"-"`
}

// Duration is a time.Duration written as "10m" or "30s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Errors callers may need to tell apart.
var (
	// ErrNoProfile: no profile was named and none can be chosen.
	ErrNoProfile = errors.New("no profile to use")
	// ErrUnknownProfile: the named profile is not in the file.
	ErrUnknownProfile = errors.New("unknown profile")
	// ErrNotFound: an explicitly named configuration file does not exist.
	ErrNotFound = errors.New("configuration file not found")
)

// Environment variables naming a configuration file.
const (
	EnvPacrepoConfig = "PACREPO_CONFIG"
	EnvRepoctlConfig = "REPOCTL_CONFIG"
)

// Default returns the configuration used when there is no file.
func Default() *Config {
	return &Config{Color: "auto", Profiles: map[string]*Profile{}, defined: map[string]bool{}}
}

// SearchPath returns, in order, the files Find considers after an explicit
// path and $PACREPO_CONFIG: pacrepo/config.toml in $XDG_CONFIG_HOME
// (default ~/.config) then in each of $XDG_CONFIG_DIRS (default /etc/xdg),
// then $REPOCTL_CONFIG (when set) and repoctl/config.toml in the same
// directories.
//
// The user's directory comes before the system ones because repoctl merges
// the XDG files so that the user's file overrides the system's; pacrepo
// reads one file only (no merging), so the file that would win in repoctl
// is the one chosen.
func SearchPath() []string {
	dirs := configDirs()
	var paths []string
	for _, d := range dirs {
		paths = append(paths, filepath.Join(d, "pacrepo", "config.toml"))
	}
	return append(paths, repoctlSearchPath(dirs)...)
}

// RepoctlSearchPath returns the part of SearchPath that is repoctl's:
// $REPOCTL_CONFIG (when set), then repoctl/config.toml in the XDG
// directories.
func RepoctlSearchPath() []string { return repoctlSearchPath(configDirs()) }

func repoctlSearchPath(dirs []string) []string {
	var paths []string
	if p := os.Getenv(EnvRepoctlConfig); p != "" {
		paths = append(paths, p)
	}
	for _, d := range dirs {
		paths = append(paths, filepath.Join(d, "repoctl", "config.toml"))
	}
	return paths
}

// configDirs is $XDG_CONFIG_HOME followed by $XDG_CONFIG_DIRS, with the
// XDG Base Directory defaults; relative entries are ignored as the
// specification requires.
func configDirs() []string {
	var dirs []string
	if home := userConfigDir(); home != "" {
		dirs = append(dirs, home)
	}
	sys := os.Getenv("XDG_CONFIG_DIRS")
	if sys == "" {
		sys = "/etc/xdg"
	}
	for _, d := range filepath.SplitList(sys) {
		if filepath.IsAbs(d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// UserPath is where a new configuration file goes (`conf new`, `conf
// migrate`): $PACREPO_CONFIG, else pacrepo/config.toml in $XDG_CONFIG_HOME
// (default ~/.config), the first place Find looks.
func UserPath() (string, error) {
	if p := os.Getenv(EnvPacrepoConfig); p != "" {
		return p, nil
	}
	home := userConfigDir()
	if home == "" {
		return "", errors.New("neither XDG_CONFIG_HOME nor HOME is set: give the file's path")
	}
	return filepath.Join(home, "pacrepo", "config.toml"), nil
}

// userConfigDir is $XDG_CONFIG_HOME, else ~/.config; "" when neither is
// known (a relative $XDG_CONFIG_HOME is ignored, as the specification says).
func userConfigDir() string {
	home := os.Getenv("XDG_CONFIG_HOME")
	if home == "" {
		if h := os.Getenv("HOME"); h != "" {
			home = filepath.Join(h, ".config")
		}
	}
	if !filepath.IsAbs(home) {
		return ""
	}
	return home
}

// FindRepoctl returns repoctl's configuration file (RepoctlSearchPath), or
// "" when there is none.
func FindRepoctl() string {
	for _, p := range RepoctlSearchPath() {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// Find returns the configuration file to use: explicit when set, then
// $PACREPO_CONFIG, then pacrepo/config.toml in $XDG_CONFIG_HOME and
// $XDG_CONFIG_DIRS, then repoctl's ($REPOCTL_CONFIG, repoctl/config.toml in
// the same places). It returns "" and no error when there is none.
//
// An explicit path or $PACREPO_CONFIG that does not exist is an error
// (ErrNotFound): the user asked for that file. $REPOCTL_CONFIG is only a
// candidate, since it may be left over from repoctl. See SearchPath for
// why the user's directory precedes the system's.
func Find(explicit string) (string, error) {
	for _, named := range []struct{ what, path string }{
		{"--config", explicit},
		{"$" + EnvPacrepoConfig, os.Getenv(EnvPacrepoConfig)},
	} {
		if named.path == "" {
			continue
		}
		if _, err := os.Stat(named.path); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("%s %s: %w", named.what, named.path, ErrNotFound)
			}
			return "", fmt.Errorf("%s %s: %w", named.what, named.path, err)
		}
		return named.path, nil
	}
	for _, p := range SearchPath() {
		fi, err := os.Stat(p)
		if err == nil && !fi.IsDir() {
			return p, nil
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("look for configuration: %w", err)
		}
	}
	return "", nil
}

// Load reads the file at path. Unknown keys are returned as warnings.
func Load(path string) (*Config, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read configuration: %w", err)
	}
	c, warnings, err := Parse(data, path)
	if err != nil {
		return nil, warnings, err
	}
	c.Path = path
	return c, warnings, nil
}

// LoadLegacy reads a file in repoctl's pre-0.21 flat format (repository
// keys at the top level) into a Config with one profile, named by the
// file's default_profile or "default". A file that is already in the
// profile format is read as Load would. It is what `conf migrate` uses.
func LoadLegacy(path string) (*Config, []string, error) {
	c, warnings, err := Load(path)
	// The file is being converted: telling to convert it would send the
	// user in a circle.
	for i, w := range warnings {
		warnings[i] = strings.TrimSuffix(w, migrateHint)
	}
	return c, warnings, err
}

// migrateHint ends the warning about repoctl's flat format.
const migrateHint = " (run `pacrepo conf migrate` to convert)"

// profileKeys are the keys of a Profile table, which repoctl before 0.21
// accepted at the top level.
var profileKeys = map[string]bool{
	"repo": true, "add_params": true, "rm_params": true, "ignore_aur": true,
	"require_signature": true, "backup": true, "backup_dir": true,
	"interactive": true, "pre_action": true, "post_action": true,
	"lock_timeout": true, "keep_backups": true, "ignore_patterns": true,
	"keep_generations": true, "keep_days": true, "grace": true,
	"aur_url": true, "sync_db_dir": true, "local_db_dir": true, "upstream": true, "installable": true, "debug_repo": true,
	"keyring": true, "trusted_keys": true, "sign_db": true, "sign_packages": true, "sign_key": true,
	"sign_key_file": true, "sign_key_passphrase_file": true, "sign_with": true,
	"inbox": true, "inbox_rejected": true, "inbox_settle": true, "inbox_window": true, "inbox_rescan": true,
	"inbox_reject_after": true, "s3_endpoint": true, "s3_grace": true,
}

// deprecatedKeys were accepted by older repoctl versions and mean nothing
// now; they warn with the reason instead of "unknown key".
var deprecatedKeys = map[string]string{
	"unconfigured":         "it is no longer needed",
	"action_on_completion": "it is always disabled",
}

// Parse decodes a configuration from data; name (usually the file's path)
// prefixes every error and warning. It expands ~ and $VARS in paths,
// applies defaults and validates.
func Parse(data []byte, name string) (*Config, []string, error) {
	c := Default()
	md, err := toml.Decode(string(data), c)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if c.Profiles == nil {
		c.Profiles = map[string]*Profile{}
	}
	for _, k := range md.Keys() {
		c.defined[strings.Join(k, ".")] = true
	}

	var warnings []string
	var flat []string // top-level profile keys: the pre-0.21 format
	var unknown []toml.Key
	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	for _, k := range md.Undecoded() {
		if len(k) == 1 && profileKeys[k[0]] {
			flat = append(flat, k[0])
			continue
		}
		unknown = append(unknown, k)
	}
	if len(flat) > 0 {
		if err := c.decodeFlat(data, name, flat); err != nil {
			return nil, nil, err
		}
		warnings = append(warnings, fmt.Sprintf("%s: repository keys at the top level are repoctl's pre-0.21 format; read as profile %q"+migrateHint, name, c.flatProfileName()))
	}
	for _, k := range unknown {
		if why, ok := deprecatedKeys[k.String()]; ok {
			warnings = append(warnings, fmt.Sprintf("%s: key %s is deprecated and ignored: %s", name, k, why))
			continue
		}
		// The keys inside an unknown table are not reported one by one.
		if len(k) > 1 && undecoded[k[:len(k)-1].String()] {
			continue
		}
		warnings = append(warnings, fmt.Sprintf("%s: unknown key %s", name, k))
	}
	sort.Strings(warnings)

	for pname, p := range c.Profiles {
		if p == nil {
			p = &Profile{}
			c.Profiles[pname] = p
		}
		p.Name = pname
		if err := c.finishProfile(p, name); err != nil {
			return nil, warnings, err
		}
	}
	if err := c.resolveDebugRepos(name); err != nil {
		return nil, warnings, err
	}
	if err := c.validateGlobals(name); err != nil {
		return nil, warnings, err
	}
	return c, warnings, nil
}

func (c *Config) flatProfileName() string {
	if c.DefaultProfile != "" {
		return c.DefaultProfile
	}
	return DefaultProfileName
}

// decodeFlat decodes a pre-0.21 file's top-level repository keys into the
// profile named by default_profile (or "default"), as repoctl does: into
// the existing profile of that name if there is one.
func (c *Config) decodeFlat(data []byte, name string, keys []string) error {
	pname := c.flatProfileName()
	p := c.Profiles[pname]
	if p == nil {
		p = &Profile{}
		c.Profiles[pname] = p
	}
	if _, err := toml.Decode(string(data), p); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	c.Legacy = true
	for _, k := range keys {
		c.defined["profiles."+pname+"."+k] = true
	}
	c.defined["profiles."+pname] = true
	return nil
}

// IsDefined reports whether the file set the dotted key, e.g. "color" or
// "profiles.main.backup_dir". Keys of a pre-0.21 flat file are reported
// under their profile.
func (c *Config) IsDefined(key string) bool { return c.defined[key] }

// ColorMode returns the color setting normalised to "auto", "always" or
// "never" (repoctl also accepts "on" and "off").
func (c *Config) ColorMode() string { return NormalizeColor(c.Color) }

// NormalizeColor maps repoctl's and our spellings to auto/always/never;
// it returns "" for anything else.
func NormalizeColor(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return "auto"
	case "always", "on", "yes", "true":
		return "always"
	case "never", "off", "no", "false":
		return "never"
	}
	return ""
}

func (c *Config) validateGlobals(name string) error {
	if NormalizeColor(c.Color) == "" {
		return fmt.Errorf("%s: color: %q is not one of auto, always (on), never (off)", name, c.Color)
	}
	return nil
}

// finishProfile expands paths, applies defaults and validates one profile.
func (c *Config) finishProfile(p *Profile, name string) error {
	key := func(k string) string { return "profiles." + quoteKey(p.Name) + "." + k }
	bad := func(k, format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s", name, key(k), fmt.Sprintf(format, args...))
	}

	var err error
	if p.Repo == "" {
		return bad("repo", "missing: set it to the database path, e.g. /srv/repo/myrepo.db.tar.zst")
	}
	if IsObjectStorage(p.Repo) {
		if err := CheckDBName(p.Repo); err != nil {
			return bad("repo", "%v", err)
		}
	} else {
		if p.Repo, err = ExpandPath(p.Repo); err != nil {
			return bad("repo", "%v", err)
		}
		if !filepath.IsAbs(p.Repo) {
			return bad("repo", "%q must be an absolute path or s3://BUCKET/PREFIX/NAME.db.tar.EXT", p.Repo)
		}
		p.Repo = filepath.Clean(p.Repo)
		if err := CheckDBName(p.Repo); err != nil {
			return bad("repo", "%v", err)
		}
	}

	if p.Backup && !c.defined["profiles."+p.Name+".backup_dir"] {
		p.BackupDir = DefaultBackupDir
	}
	if p.BackupDir, err = ExpandPath(p.BackupDir); err != nil {
		return bad("backup_dir", "%v", err)
	}
	for _, k := range []struct {
		key string
		val *string
	}{{"sync_db_dir", &p.SyncDBDir}, {"local_db_dir", &p.LocalDBDir}, {"inbox", &p.Inbox}, {"inbox_rejected", &p.InboxRejected}} {
		if *k.val, err = ExpandPath(*k.val); err != nil {
			return bad(k.key, "%v", err)
		}
		if *k.val != "" && !filepath.IsAbs(*k.val) {
			return bad(k.key, "%q must be an absolute path", *k.val)
		}
	}

	if err := p.finishRepoAddParams(bad); err != nil {
		return err
	}
	if p.LockTimeout.Duration < 0 {
		return bad("lock_timeout", "%s is negative", p.LockTimeout.Duration)
	}
	if p.LockTimeout.Duration == 0 {
		p.LockTimeout.Duration = DefaultLockTimeout
	}
	if p.KeepBackups < 0 {
		return bad("keep_backups", "%d is negative (0 keeps all)", p.KeepBackups)
	}
	switch p.Installable {
	case "", InstallableOff, InstallableWarn, InstallableRefuse:
	default:
		return bad("installable", "%q is none of %q, %q, %q", p.Installable, InstallableOff, InstallableWarn, InstallableRefuse)
	}
	for _, name := range p.Upstream {
		if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
			return bad("upstream", "%q is not a repository name", name)
		}
	}
	if err := p.finishRetention(c, bad); err != nil {
		return err
	}
	for _, pat := range p.IgnorePatterns {
		if _, err := filepath.Match(pat, ""); err != nil || strings.Contains(pat, "/") {
			return bad("ignore_patterns", "%q is not a file name pattern (shell glob without /)", pat)
		}
	}
	for i := range p.Keyring {
		if p.Keyring[i], err = ExpandPath(p.Keyring[i]); err != nil {
			return bad("keyring", "%v", err)
		}
	}
	for _, k := range []struct {
		key string
		val *string
	}{{"sign_key_file", &p.SignKeyFile}, {"sign_key_passphrase_file", &p.SignKeyPassphraseFile}} {
		if *k.val, err = ExpandPath(*k.val); err != nil {
			return bad(k.key, "%v", err)
		}
	}
	switch p.SignWith {
	case "", "gpg", "key":
	default:
		return bad("sign_with", "%q is neither \"gpg\" nor \"key\"", p.SignWith)
	}
	if p.SignWith == "key" && p.SignKeyFile == "" {
		return bad("sign_with", "\"key\" needs sign_key_file")
	}
	for _, k := range []struct {
		key string
		val *Duration
		def time.Duration
	}{{"inbox_settle", &p.InboxSettle, DefaultInboxSettle}, {"inbox_window", &p.InboxWindow, DefaultInboxWindow},
		{"inbox_rescan", &p.InboxRescan, DefaultInboxRescan}, {"inbox_reject_after", &p.InboxRejectAfter, DefaultInboxRejectAfter},
		{"s3_grace", &p.S3Grace, DefaultS3Grace}} {
		if k.val.Duration < 0 {
			return bad(k.key, "%s is negative", k.val.Duration)
		}
		if k.val.Duration == 0 {
			k.val.Duration = k.def
		}
	}
	if p.S3Endpoint != "" {
		u, err := url.Parse(p.S3Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("s3_endpoint", "%q is not an http(s) URL", p.S3Endpoint)
		}
	}
	if p.AURURL != "" {
		u, err := url.Parse(p.AURURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("aur_url", "%q is not an http(s) URL", p.AURURL)
		}
	}
	return nil
}

// quoteKey quotes a profile name the way TOML needs it in a dotted key.
func quoteKey(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	}) < 0 {
		return s
	}
	return fmt.Sprintf("%q", s)
}

// CheckDBName checks that path names a database file NAME.db.tar.EXT, as
// repo must; the error suggests a valid name.
func CheckDBName(path string) error {
	// repo-add also knows lrz, lzo, Z and lz, which have no Go codec.
	if _, files, _, ok := layout.SplitDatabase(filepath.Base(path)); !ok || files {
		return fmt.Errorf("%q must name the database file NAME.db.tar.EXT (EXT one of zst, xz, gz, bz2, lz4, or none), e.g. %s", path, suggestDB(path))
	}
	return nil
}

// suggestDB proposes a valid database name for an invalid one.
func suggestDB(repo string) string {
	base := filepath.Base(repo)
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	return filepath.Join(filepath.Dir(repo), base+".db.tar.zst")
}

// ExpandPath expands a leading ~ (the current user's home, from $HOME) and
// $VAR or ${VAR} references, as repoctl does for repo. A referenced
// variable that is unset is an error rather than an empty string, so that
// "$REPODIR/x.db.tar.zst" never silently becomes "/x.db.tar.zst".
func ExpandPath(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if s == "~" || strings.HasPrefix(s, "~/") {
		home := os.Getenv("HOME")
		if home == "" {
			return "", fmt.Errorf("%q starts with ~ but $HOME is not set", s)
		}
		s = home + s[1:]
	}
	var missing []string
	out := os.Expand(s, func(v string) string {
		val, ok := os.LookupEnv(v)
		if !ok {
			missing = append(missing, v)
		}
		return val
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%q uses unset environment variable $%s", s, missing[0])
	}
	return out, nil
}

// ProfileNames returns the profile names, sorted.
func (c *Config) ProfileNames() []string {
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Select returns the profile named name, or the default profile when name
// is empty (default_profile, or the only profile). It returns the chosen name.
func (c *Config) Select(name string) (string, *Profile, error) {
	where := c.Path
	if where == "" {
		where = "configuration"
	}
	if name == "" {
		name = c.DefaultProfile
	}
	if name == "" {
		switch len(c.Profiles) {
		case 0:
			if c.Path == "" {
				return "", nil, fmt.Errorf("no configuration file found: %w", ErrNoProfile)
			}
			return "", nil, fmt.Errorf("%s defines no profile: %w", where, ErrNoProfile)
		case 1:
			for n := range c.Profiles {
				name = n
			}
		default:
			return "", nil, fmt.Errorf("%s: several profiles (%s) and no default_profile: choose one with --profile: %w",
				where, strings.Join(c.ProfileNames(), ", "), ErrNoProfile)
		}
	}
	p, ok := c.Profiles[name]
	if !ok {
		have := "none defined"
		if len(c.Profiles) > 0 {
			have = "have " + strings.Join(c.ProfileNames(), ", ")
		}
		return "", nil, fmt.Errorf("%s: profile %q (%s): %w", where, name, have, ErrUnknownProfile)
	}
	p.Name = name
	return name, p, nil
}

// AURBaseURL is the profile's aur_url, or DefaultAURURL.
func (p *Profile) AURBaseURL() string { return orDefault(p.AURURL, DefaultAURURL) }

// The values of installable.
const (
	InstallableOff    = "off"
	InstallableWarn   = "warn"
	InstallableRefuse = "refuse"
)

// UpstreamDatabases are the paths of the sync databases upstream names.
func (p *Profile) UpstreamDatabases() []string {
	var out []string
	for _, name := range p.Upstream {
		out = append(out, filepath.Join(p.SyncDatabases(), name+".db"))
	}
	return out
}

// SyncDatabases is the profile's sync_db_dir, or DefaultSyncDBDir.
func (p *Profile) SyncDatabases() string { return orDefault(p.SyncDBDir, DefaultSyncDBDir) }

// LocalDatabase is the profile's local_db_dir, or DefaultLocalDBDir.
func (p *Profile) LocalDatabase() string { return orDefault(p.LocalDBDir, DefaultLocalDBDir) }

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
