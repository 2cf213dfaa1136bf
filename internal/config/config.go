// Package config reads pacrepo's TOML configuration, which uses repoctl's
// schema so that an existing repoctl configuration works unchanged.
package config

import (
	"errors"
	"time"
)

// Config is a whole configuration file.
type Config struct {
	Columnate      bool                `toml:"columnate"`
	Color          string              `toml:"color"` // auto, always/on, never/off
	Quiet          bool                `toml:"quiet"`
	DefaultProfile string              `toml:"default_profile"`
	Profiles       map[string]*Profile `toml:"profiles"`

	// Path is the file the configuration was read from ("" when none).
	Path string `toml:"-"`
}

// Profile is one repository's settings.
type Profile struct {
	Repo             string   `toml:"repo"`
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
	LockTimeout    Duration `toml:"lock_timeout"`    // default 10m
	KeepBackups    int      `toml:"keep_backups"`    // per package; 0 keeps all
	IgnorePatterns []string `toml:"ignore_patterns"` // extra temporary-name patterns
	AURURL         string   `toml:"aur_url"`
	SyncDBDir      string   `toml:"sync_db_dir"`  // pacman sync databases, default /var/lib/pacman/sync
	LocalDBDir     string   `toml:"local_db_dir"` // pacman local database, default /var/lib/pacman/local
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

// Find returns the configuration file to use: explicit when set, then
// $PACREPO_CONFIG, then pacrepo/config.toml in $XDG_CONFIG_HOME and
// $XDG_CONFIG_DIRS, then repoctl's ($REPOCTL_CONFIG, repoctl/config.toml in
// the same places). It returns "" and no error when there is none.
func Find(explicit string) (string, error) { return "", errors.New("not implemented yet") }

// Load reads the file at path. Unknown keys are returned as warnings.
func Load(path string) (*Config, []string, error) { return nil, nil, errors.New("not implemented yet") }

// Select returns the profile named name, or the default profile when name
// is empty (default_profile, or the only profile). It returns the chosen name.
func (c *Config) Select(name string) (string, *Profile, error) {
	return "", nil, errors.New("not implemented yet")
}
