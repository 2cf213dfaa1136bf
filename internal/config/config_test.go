package config

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

func TestParse(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	t.Setenv("REPODIR", "/srv/repo")
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; "" means success
		check   func(t *testing.T, c *Config)
	}{
		{
			name: "minimal",
			in:   "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\n",
			check: func(t *testing.T, c *Config) {
				p := c.Profiles["a"]
				if p.Repo != "/r/a.db.tar.zst" || p.LockTimeout.Duration != DefaultLockTimeout || c.ColorMode() != "auto" || p.Name != "a" {
					t.Errorf("got %+v color %q", p, c.Color)
				}
			},
		},
		{
			name: "retention",
			in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\n[profiles.b]\nrepo = \"/r/b.db.tar.zst\"\ns3_grace = \"2h\"\n" +
				"[profiles.c]\nrepo = \"/r/c.db.tar.zst\"\ngrace = \"0s\"\nkeep_generations = 1\nkeep_days = 7\n",
			check: func(t *testing.T, c *Config) {
				a, b, cc := c.Profiles["a"], c.Profiles["b"], c.Profiles["c"]
				if a.KeepGenerations != DefaultKeepGenerations || a.KeepDays != 0 || a.Grace.Duration != DefaultGrace {
					t.Errorf("defaults: %d %d %s", a.KeepGenerations, a.KeepDays, a.Grace)
				}
				if b.Grace.Duration != 2*time.Hour || b.S3GracePeriod() != 2*time.Hour {
					t.Errorf("s3_grace, grace's older name: %s %s", b.Grace, b.S3GracePeriod())
				}
				if cc.Grace.Duration != 0 || cc.KeepGenerations != 1 || cc.KeepDays != 7 || cc.S3GracePeriod() != DefaultS3Grace {
					t.Errorf("explicit: %s %d %d %s", cc.Grace, cc.KeepGenerations, cc.KeepDays, cc.S3GracePeriod())
				}
			},
		},
		{
			name: "debug_repo by profile and by path",
			in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\ndebug_repo = \"a-debug\"\n[profiles.a-debug]\nrepo = \"/r/d/a-debug.db.tar.zst\"\nsign_db = true\n" +
				"[profiles.b]\nrepo = \"/r/b.db.tar.zst\"\ndebug_repo = \"/r/d/a-debug.db.tar.zst\"\n" +
				"[profiles.c]\nrepo = \"/r/c.db.tar.zst\"\ndebug_repo = \"$REPODIR/c-debug.db.tar.zst\"\n",
			check: func(t *testing.T, c *Config) {
				a, b, cc := c.Profiles["a"].DebugProfile(), c.Profiles["b"].DebugProfile(), c.Profiles["c"].DebugProfile()
				if a == nil || a.Name != "a-debug" || !a.SignDB {
					t.Errorf("a: %+v", a)
				}
				if b == nil || b.Name != "a-debug" {
					t.Errorf("b, by the path of a profile's repo: %+v", b)
				}
				if cc == nil || cc.Repo != "/srv/repo/c-debug.db.tar.zst" || cc.Name != "" || cc.LockTimeout.Duration != DefaultLockTimeout {
					t.Errorf("c, by a path no profile has: %+v", cc)
				}
				if c.Profiles["a-debug"].DebugProfile() != nil {
					t.Error("unset debug_repo resolved to something")
				}
			},
		},
		{name: "debug_repo itself", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\ndebug_repo = \"a\"\n", wantErr: "profiles.a.debug_repo: \"a\" is the repository itself"},
		{name: "debug_repo its own path", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\ndebug_repo = \"/r/./a.db.tar.zst\"\n", wantErr: "is the repository itself"},
		{name: "debug_repo unknown", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\ndebug_repo = \"dbg\"\n", wantErr: "profiles.a.debug_repo: \"dbg\" is neither a profile (have a) nor an absolute database path"},
		{name: "debug_repo not a database", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\ndebug_repo = \"/r/dbg\"\n", wantErr: "profiles.a.debug_repo: \"/r/dbg\" must name the database file"},
		{name: "negative grace", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\ngrace = \"-1h\"\n", wantErr: "profiles.a.grace"},
		{name: "negative keep_generations", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\nkeep_generations = -1\n", wantErr: "profiles.a.keep_generations"},
		{
			name: "tilde and env",
			in:   "[profiles.a]\nrepo = \"~/repo/a.db.tar.xz\"\n[profiles.b]\nrepo = \"${REPODIR}/b.db.tar\"\nbackup_dir = \"$HOME/old\"\n",
			check: func(t *testing.T, c *Config) {
				if got := c.Profiles["a"].Repo; got != "/home/u/repo/a.db.tar.xz" {
					t.Errorf("a: %q", got)
				}
				if got := c.Profiles["b"].Repo; got != "/srv/repo/b.db.tar" {
					t.Errorf("b: %q", got)
				}
				if got := c.Profiles["b"].BackupDir; got != "/home/u/old" {
					t.Errorf("b backup_dir: %q", got)
				}
			},
		},
		{name: "unset variable", in: "[profiles.a]\nrepo = \"$NOPE_NOT_SET/a.db.tar.zst\"\n", wantErr: "profiles.a.repo: \"$NOPE_NOT_SET/a.db.tar.zst\" uses unset environment variable $NOPE_NOT_SET"},
		{name: "relative repo", in: "[profiles.a]\nrepo = \"a.db.tar.zst\"\n", wantErr: "profiles.a.repo: \"a.db.tar.zst\" must be an absolute path"},
		{name: "bad db name", in: "[profiles.a]\nrepo = \"/r/a.tar.zst\"\n", wantErr: "profiles.a.repo: \"/r/a.tar.zst\" must name the database file"},
		{name: "db link is not enough", in: "[profiles.a]\nrepo = \"/r/a.db\"\n", wantErr: "e.g. /r/a.db.tar.zst"},
		{name: "missing repo", in: "[profiles.a]\nbackup = true\n", wantErr: "profiles.a.repo: missing"},
		{name: "bad color", in: "color = \"pink\"\n", wantErr: "color: \"pink\""},
		{name: "color on", in: "color = \"on\"\n", check: func(t *testing.T, c *Config) {
			if c.ColorMode() != "always" {
				t.Errorf("ColorMode %q", c.ColorMode())
			}
		}},
		{name: "bad duration", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\nlock_timeout = \"soon\"\n", wantErr: "lock_timeout"},
		{name: "negative duration", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\nlock_timeout = \"-1s\"\n", wantErr: "profiles.a.lock_timeout: -1s is negative"},
		{name: "duration", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\nlock_timeout = \"30s\"\n", check: func(t *testing.T, c *Config) {
			if c.Profiles["a"].LockTimeout.Duration != 30*time.Second {
				t.Errorf("%v", c.Profiles["a"].LockTimeout)
			}
		}},
		{name: "negative keep", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\nkeep_backups = -2\n", wantErr: "profiles.a.keep_backups"},
		{name: "bad pattern", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\nignore_patterns = [\"[\"]\n", wantErr: "profiles.a.ignore_patterns"},
		{name: "bad aur url", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\naur_url = \"ftp://x\"\n", wantErr: "profiles.a.aur_url"},
		{name: "relative sync dir", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\nsync_db_dir = \"sync\"\n", wantErr: "profiles.a.sync_db_dir"},
		{name: "type error", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\nbackup = \"yes\"\n", wantErr: "test.toml: "},
		{name: "syntax error", in: "[profiles.a\n", wantErr: "test.toml: "},
		{name: "quoted profile name", in: "[profiles.\"my repo\"]\nrepo = \"/r/a.db.tar.zst\"\nkeep_backups = -1\n", wantErr: "profiles.\"my repo\".keep_backups"},
		{name: "backup default dir", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\nbackup = true\n", check: func(t *testing.T, c *Config) {
			if got := c.Profiles["a"].BackupDir; got != DefaultBackupDir {
				t.Errorf("BackupDir %q", got)
			}
		}},
		{name: "backup in place", in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\nbackup = true\nbackup_dir = \"\"\n", check: func(t *testing.T, c *Config) {
			if m, _ := c.Profiles["a"].Retirement("/r"); m != RetireKeepInPlace {
				t.Errorf("mode %v", m)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Parse([]byte(tt.in), "test.toml")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "test.toml: ") {
					t.Fatalf("error %v, want one containing %q and naming the file", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestUnknownKeysWarn(t *testing.T) {
	in := `colour = "auto"
unconfigured = false
[profiles.x]
repo = "/r/x.db.tar.zst"
foo = 1
[profiles.x.extra]
a = 1
b = 2
[other]
z = 1
`
	c, warnings, err := Parse([]byte(in), "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"config.toml: key unconfigured is deprecated and ignored: it is no longer needed",
		"config.toml: unknown key colour",
		"config.toml: unknown key other",
		"config.toml: unknown key profiles.x.extra",
		"config.toml: unknown key profiles.x.foo",
	}
	if strings.Join(warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
	if c.Profiles["x"].Repo != "/r/x.db.tar.zst" {
		t.Errorf("profile not read: %+v", c.Profiles["x"])
	}
}

func TestRepoctlExample(t *testing.T) {
	c, warnings, err := Load(filepath.Join("testdata", "repoctl-example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	name, p, err := c.Select("")
	if err != nil {
		t.Fatal(err)
	}
	if name != "default" || p.Repo != "/srv/abs/graphite.db.tar.gz" || p.Backup || c.Legacy {
		t.Errorf("got %s %+v legacy=%v", name, p, c.Legacy)
	}
	if m, _ := p.Retirement("/srv/abs"); m != RetireDelete {
		t.Errorf("retire %v", m)
	}
	if !c.IsDefined("profiles.default.backup_dir") || c.IsDefined("profiles.default.pre_action") {
		t.Error("IsDefined wrong")
	}
}

func TestRepoctlLegacy(t *testing.T) {
	c, warnings, err := LoadLegacy(filepath.Join("testdata", "repoctl-legacy.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "pre-0.21") {
		t.Errorf("warnings: %q", warnings)
	}
	name, p, err := c.Select("")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Legacy || name != "default" || p.Repo != "/srv/abs/graphite.db.tar.gz" || !c.Columnate ||
		len(p.IgnoreAUR) != 1 || p.IgnoreAUR[0] != "colemak-bm" || p.BackupDir != "backup/" {
		t.Errorf("got %s %+v columnate=%v", name, p, c.Columnate)
	}
	if !c.IsDefined("profiles.default.ignore_aur") {
		t.Error("flat key not recorded under its profile")
	}

	// A flat file naming its default profile puts the keys there.
	c, _, err = Parse([]byte("default_profile = \"main\"\nrepo = \"/r/m.db.tar.zst\"\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	if name, p, err := c.Select(""); err != nil || name != "main" || p.Repo != "/r/m.db.tar.zst" {
		t.Errorf("Select: %s %+v %v", name, p, err)
	}
}

func TestSelect(t *testing.T) {
	two := "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\n[profiles.b]\nrepo = \"/r/b.db.tar.zst\"\n"
	tests := []struct {
		in, name string
		want     string
		err      error
	}{
		{in: "[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\n", want: "a"},
		{in: two, name: "b", want: "b"},
		{in: "default_profile = \"b\"\n" + two, want: "b"},
		{in: "default_profile = \"b\"\n" + two, name: "a", want: "a"},
		{in: two, err: ErrNoProfile},
		{in: "", err: ErrNoProfile},
		{in: two, name: "c", err: ErrUnknownProfile},
		{in: "default_profile = \"zz\"\n" + two, err: ErrUnknownProfile},
	}
	for _, tt := range tests {
		c, _, err := Parse([]byte(tt.in), "f")
		if err != nil {
			t.Fatal(err)
		}
		got, p, err := c.Select(tt.name)
		if !errors.Is(err, tt.err) || got != tt.want || (err == nil && p.Name != got) {
			t.Errorf("Select(%q) on %q = %q, %v; want %q, %v", tt.name, tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestRetirement(t *testing.T) {
	tests := []struct {
		backup bool
		dir    string
		mode   RetireMode
		want   string
	}{
		{false, "backup", RetireDelete, ""},
		{true, "backup/", RetireMove, "/r/backup"},
		{true, "/old", RetireMove, "/old"},
		{true, "", RetireKeepInPlace, ""},
		{true, ".", RetireKeepInPlace, ""},
		{true, "/r/", RetireKeepInPlace, ""},
		{true, "../elsewhere", RetireMove, "/elsewhere"},
	}
	for _, tt := range tests {
		p := &Profile{Backup: tt.backup, BackupDir: tt.dir}
		mode, dir := p.Retirement("/r")
		if mode != tt.mode || dir != tt.want || p.ResolvedBackupDir("/r") != tt.want {
			t.Errorf("%v %q: got %v %q, want %v %q", tt.backup, tt.dir, mode, dir, tt.mode, tt.want)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindOrder(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home")
	xdgHome := filepath.Join(root, "xdg-home")
	sys1 := filepath.Join(root, "sys1")
	sys2 := filepath.Join(root, "sys2")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", xdgHome)
	t.Setenv("XDG_CONFIG_DIRS", sys1+":relative/ignored:"+sys2)
	t.Setenv(EnvPacrepoConfig, "")
	t.Setenv(EnvRepoctlConfig, "")

	find := func(explicit string) string {
		t.Helper()
		p, err := Find(explicit)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if got := find(""); got != "" {
		t.Fatalf("nothing present: got %q", got)
	}
	// Candidates from least to most preferred; each one added must win.
	steps := []string{
		filepath.Join(sys2, "repoctl", "config.toml"),
		filepath.Join(sys1, "repoctl", "config.toml"),
		filepath.Join(xdgHome, "repoctl", "config.toml"),
		filepath.Join(root, "repoctl-env.toml"), // $REPOCTL_CONFIG
		filepath.Join(sys2, "pacrepo", "config.toml"),
		filepath.Join(sys1, "pacrepo", "config.toml"),
		filepath.Join(xdgHome, "pacrepo", "config.toml"),
		filepath.Join(root, "pacrepo-env.toml"), // $PACREPO_CONFIG
	}
	for _, p := range steps {
		writeFile(t, p, "")
		switch filepath.Base(p) {
		case "repoctl-env.toml":
			t.Setenv(EnvRepoctlConfig, p)
		case "pacrepo-env.toml":
			t.Setenv(EnvPacrepoConfig, p)
		}
		if got := find(""); got != p {
			t.Errorf("after creating %s: Find = %s", p, got)
		}
	}
	explicit := filepath.Join(root, "explicit.toml")
	writeFile(t, explicit, "")
	if got := find(explicit); got != explicit {
		t.Errorf("explicit: %s", got)
	}
	if _, err := Find(filepath.Join(root, "missing.toml")); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing explicit: %v", err)
	}
	t.Setenv(EnvPacrepoConfig, filepath.Join(root, "missing.toml"))
	if _, err := Find(""); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "$PACREPO_CONFIG") {
		t.Errorf("missing $PACREPO_CONFIG: %v", err)
	}
	// A dangling $REPOCTL_CONFIG is only a candidate.
	t.Setenv(EnvPacrepoConfig, "")
	t.Setenv(EnvRepoctlConfig, filepath.Join(root, "missing.toml"))
	if got := find(""); got != filepath.Join(xdgHome, "pacrepo", "config.toml") {
		t.Errorf("dangling REPOCTL_CONFIG: %s", got)
	}
}

func TestFindDefaultsToHomeConfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_CONFIG_DIRS", filepath.Join(home, "nonexistent"))
	t.Setenv(EnvPacrepoConfig, "")
	t.Setenv(EnvRepoctlConfig, "")
	want := filepath.Join(home, ".config", "repoctl", "config.toml")
	writeFile(t, want, "")
	if got, err := Find(""); err != nil || got != want {
		t.Errorf("Find = %q, %v; want %q", got, err, want)
	}
}

func TestWriteCommentedRoundTrip(t *testing.T) {
	c := NewConfig("/srv/repo/main.db.tar.zst")
	p := c.Profiles["default"]
	p.IgnoreAUR = []string{"a", "b\"q"}
	p.PreAction = "mount /srv/repo"
	p.KeepBackups = 3
	p.LockTimeout.Duration = 90 * time.Second
	c.Profiles["second one"] = &Profile{Repo: "/x/s.db.tar.gz", AURURL: "http://127.0.0.1:1"}
	c.Columnate = true
	var buf bytes.Buffer
	if err := WriteCommented(&buf, c); err != nil {
		t.Fatal(err)
	}
	got, warnings, err := Parse(buf.Bytes(), "new.toml")
	if err != nil || len(warnings) > 0 {
		t.Fatalf("%v %q\n%s", err, warnings, buf.String())
	}
	gp := got.Profiles["default"]
	if !got.Columnate || got.DefaultProfile != "default" || gp.Repo != p.Repo || !gp.Backup || gp.BackupDir != "backup/" ||
		strings.Join(gp.IgnoreAUR, ",") != "a,b\"q" || gp.PreAction != p.PreAction || gp.KeepBackups != 3 ||
		gp.LockTimeout.Duration != 90*time.Second || got.Profiles["second one"].AURURL != "http://127.0.0.1:1" {
		t.Errorf("round trip lost settings:\n%s", buf.String())
	}
	var comments strings.Builder
	for _, line := range strings.Split(buf.String(), "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "# ") {
			comments.WriteString(line + "\n")
		}
	}
	for _, k := range []string{"columnate", "color", "quiet", "default_profile", "repo", "add_params", "rm_params", "ignore_aur",
		"require_signature", "backup", "backup_dir", "interactive", "pre_action", "post_action", "lock_timeout",
		"keep_backups", "keep_generations", "keep_days", "grace", "ignore_patterns", "aur_url", "sync_db_dir", "local_db_dir", "debug_repo"} {
		if !strings.Contains(comments.String(), k+" ") {
			t.Errorf("key %s is not explained", k)
		}
	}
}

func TestRunAction(t *testing.T) {
	testutil.RequireTool(t, "sh") // RunAction runs sh -c
	env := ActionEnv("pre_action", "add", "main", "/srv/repo/main.db.tar.zst")
	var out, errOut bytes.Buffer
	err := RunAction(context.Background(), `echo "$PACREPO_ACTION $PACREPO_COMMAND $PACREPO_PROFILE $PACREPO_REPO $PACREPO_REPO_DIR $PACREPO_REPO_NAME"; echo oops >&2`, env, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "pre_action add main /srv/repo/main.db.tar.zst /srv/repo main\n" || errOut.String() != "oops\n" {
		t.Errorf("stdout %q stderr %q", got, errOut.String())
	}
	err = RunAction(context.Background(), "exit 7", env, &out, &errOut)
	var ae *ActionError
	if !errors.As(err, &ae) || ae.ExitCode != 7 || !strings.Contains(err.Error(), `pre_action "exit 7" failed with exit status 7`) {
		t.Errorf("err %v", err)
	}
	if err := RunAction(context.Background(), "  ", nil, &out, &errOut); err != nil {
		t.Errorf("empty action: %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	for _, name := range []string{"repoctl-example.toml", "repoctl-legacy.toml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("[profiles.a]\nrepo = \"~/$X/a.db.tar.zst\"\nbackup = true\nlock_timeout = \"1h\"\n"))
	f.Add([]byte("repo = 1\n[profiles]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := Parse(data, "fuzz.toml")
		if err != nil {
			return
		}
		for _, p := range c.Profiles {
			p.Retirement("/r")
		}
		_, _, _ = c.Select("")
		var buf bytes.Buffer
		if err := WriteCommented(&buf, c); err != nil {
			t.Fatal(err)
		}
		// What we write must read back.
		if _, _, err := Parse(buf.Bytes(), "rewritten.toml"); err != nil {
			t.Fatalf("rewritten config does not parse: %v\n%s", err, buf.String())
		}
	})
}

// TestCheckBackupDirRefusesTheRepository: a backup_dir that is the
// repository directory through a symbolic link would put retired files back
// into the repository; it is refused, naming both paths.
func TestCheckBackupDirRefusesTheRepository(t *testing.T) {
	base := t.TempDir()
	repoDir := filepath.Join(base, "repo")
	os.Mkdir(repoDir, 0o755)
	os.Symlink(repoDir, filepath.Join(base, "alias"))
	os.Symlink(".", filepath.Join(repoDir, "self"))
	for _, dir := range []string{filepath.Join(base, "alias"), "self", "self/", "../alias"} {
		p := &Profile{Backup: true, BackupDir: dir}
		err := p.CheckBackupDir(repoDir)
		if err == nil || !strings.Contains(err.Error(), repoDir) {
			t.Errorf("backup_dir %q: %v", dir, err)
		}
	}
	for _, dir := range []string{"", ".", "backup/", filepath.Join(base, "elsewhere")} {
		p := &Profile{Backup: true, BackupDir: dir}
		if err := p.CheckBackupDir(repoDir); err != nil {
			t.Errorf("backup_dir %q: %v", dir, err)
		}
	}
}
