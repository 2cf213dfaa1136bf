package testutil

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gofrs/flock"
)

// Pacman is a real pacman confined to a temporary directory: its own
// pacman.conf, database path, cache, log, GnuPG home and root, with the
// given repositories as servers and signature checks off.
type Pacman struct {
	t        testing.TB
	Dir      string // the temporary directory holding everything
	Config   string // path of pacman.conf
	DBPath   string
	CacheDir string
}

// NewPacman writes a pacman.conf whose repositories are repos, in name
// order: name -> the directory holding NAME.db and NAME.files (served as
// file://), or a server URL such as http://127.0.0.1:PORT/NAME, used as
// it is.
func NewPacman(t testing.TB, repos map[string]string) *Pacman {
	t.Helper()
	RequireTool(t, "pacman")
	if os.Geteuid() != 0 {
		RequireTool(t, "fakeroot")
	}
	dir := t.TempDir()
	p := &Pacman{
		t:        t,
		Dir:      dir,
		Config:   filepath.Join(dir, "pacman.conf"),
		DBPath:   filepath.Join(dir, "db"),
		CacheDir: filepath.Join(dir, "cache"),
	}
	for _, d := range []string{p.DBPath, filepath.Join(p.DBPath, "local"), p.CacheDir, filepath.Join(dir, "root"), filepath.Join(dir, "gnupg"), filepath.Join(dir, "hooks")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[options]\nArchitecture = auto\nSigLevel = Never\nLocalFileSigLevel = Never\n")
	fmt.Fprintf(&b, "RootDir = %s\nDBPath = %s\nCacheDir = %s\nLogFile = %s\nGPGDir = %s\nHookDir = %s\n",
		filepath.Join(dir, "root"), p.DBPath, p.CacheDir, filepath.Join(dir, "pacman.log"), filepath.Join(dir, "gnupg"), filepath.Join(dir, "hooks"))
	names := make([]string, 0, len(repos))
	for n := range repos {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "\n[%s]\nServer = %s\n", n, serverURL(t, repos[n]))
	}
	if err := os.WriteFile(p.Config, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// serverURL is location itself when it is a URL, else the file:// URL of
// the directory location.
func serverURL(t testing.TB, location string) string {
	t.Helper()
	if strings.Contains(location, "://") {
		return location
	}
	abs, err := filepath.Abs(location)
	if err != nil {
		t.Fatal(err)
	}
	return "file://" + abs
}

// Run runs pacman with this configuration and returns its combined output
// and error. Operations that need root (-Sy, -Fy, -Sw) run under fakeroot
// when the test is not root.
func (p *Pacman) Run(args ...string) (string, error) {
	p.t.Helper()
	full := append([]string{"--config", p.Config, "--dbpath", p.DBPath, "--noconfirm", "--color", "never"}, args...)
	name := "pacman"
	if os.Geteuid() != 0 {
		full = append([]string{"pacman"}, full...)
		name = "fakeroot"
	}
	cmd := exec.Command(name, full...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// MustRun is Run that fails the test when pacman fails.
func (p *Pacman) MustRun(args ...string) string {
	p.t.Helper()
	out, err := p.Run(args...)
	if err != nil {
		p.t.Fatalf("pacman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Sync lists what "pacman -Sl repo" shows: "name version" per package.
func (p *Pacman) Sync(repo string) []string {
	p.t.Helper()
	out := p.MustRun("-Sl", repo)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == repo {
			lines = append(lines, f[1]+" "+f[2])
		}
	}
	sort.Strings(lines)
	return lines
}

// Info parses "pacman -Si repo/pkg" into its fields ("Name", "Version",
// "Depends On", ...). Multi-line values (Optional Deps) are joined by
// newlines; "None" stays "None".
func (p *Pacman) Info(repo, pkg string) map[string]string {
	p.t.Helper()
	return ParsePacmanInfo(p.MustRun("-Si", repo+"/"+pkg))
}

// ParsePacmanInfo parses pacman -Si/-Qi output of one package.
func ParsePacmanInfo(out string) map[string]string {
	info := map[string]string{}
	var last string
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if strings.HasPrefix(l, " ") && last != "" {
			info[last] += "\n" + strings.TrimSpace(l)
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		last = strings.TrimSpace(k)
		info[last] = strings.TrimSpace(v)
	}
	return info
}

// Exec is exec.Command with the UTF-8 locale pacman tools expect.
func Exec(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	return cmd
}

// RequireSignatures makes this pacman require signed packages and
// databases (SigLevel = Required DatabaseRequired), trusting the keys in
// keyFiles (fingerprint -> exported public key file) as pacman-key does
// for a repository's packager: --init, --add, --lsign-key, in this
// pacman's own GnuPG directory. pacman-key runs under fakeroot when the
// test is not root. The next pacman of the same test trusting the same
// keys gets a copy of the directory pacman-key left: --add and
// --lsign-key start a dozen processes and a gpg-agent per key, and give
// the same keyring every time.
func (p *Pacman) RequireSignatures(keyFiles map[string]string) {
	p.t.Helper()
	RequireTool(p.t, "pacman-key")
	gpgdir := filepath.Join(p.Dir, "gnupg")
	trust := trustedKeyringKey(p.t, keyFiles)
	if made, ok := trustedKeyrings.Load(trust); ok {
		if err := copyTree(made.(string), gpgdir); err != nil {
			p.t.Fatalf("copy the trusted pacman keyring: %v", err)
		}
		// pacman only verifies: no agent runs in the copy unless the test
		// started one.
		p.t.Cleanup(func() {
			if _, err := os.Lstat(filepath.Join(gpgdir, "S.gpg-agent")); err == nil {
				exec.Command("gpgconf", "--homedir", gpgdir, "--kill", "all").Run()
			}
		})
	} else {
		if err := copyTree(pacmanKeyringTemplate(p.t), gpgdir); err != nil {
			p.t.Fatalf("copy the initialised pacman keyring: %v", err)
		}
		p.t.Cleanup(func() { exec.Command("gpgconf", "--homedir", gpgdir, "--kill", "all").Run() })
		for fpr, file := range keyFiles {
			p.pacmanKey("--gpgdir", gpgdir, "--add", file)
			p.pacmanKey("--gpgdir", gpgdir, "--lsign-key", fpr)
		}
		// A copy taken now: the pacman using gpgdir may change it later.
		kept := p.t.TempDir()
		if err := copyTree(gpgdir, kept); err != nil {
			p.t.Fatalf("keep the trusted pacman keyring: %v", err)
		}
		if _, loaded := trustedKeyrings.LoadOrStore(trust, kept); !loaded {
			p.t.Cleanup(func() { trustedKeyrings.Delete(trust) })
		}
	}
	b, err := os.ReadFile(p.Config)
	if err != nil {
		p.t.Fatal(err)
	}
	conf := strings.Replace(string(b), "SigLevel = Never", "SigLevel = Required DatabaseRequired", 1)
	if err := os.WriteFile(p.Config, []byte(conf), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// trustedKeyrings holds, per test and set of trusted keys (a
// trustedKeyring), the GnuPG directory RequireSignatures made with
// pacman-key, for the test's next pacmans to copy.
var trustedKeyrings sync.Map

// trustedKeyring names a test's set of trusted keys: each fingerprint
// with the SHA-256 of its key file, in order.
type trustedKeyring struct {
	t    testing.TB
	keys string
}

func trustedKeyringKey(t testing.TB, keyFiles map[string]string) trustedKeyring {
	t.Helper()
	fprs := make([]string, 0, len(keyFiles))
	for fpr := range keyFiles {
		fprs = append(fprs, fpr)
	}
	sort.Strings(fprs)
	var b strings.Builder
	for _, fpr := range fprs {
		data, err := os.ReadFile(keyFiles[fpr])
		if err != nil {
			t.Fatalf("read the key of %s: %v", fpr, err)
		}
		fmt.Fprintf(&b, "%s=%x\n", fpr, sha256.Sum256(data))
	}
	return trustedKeyring{t: t, keys: b.String()}
}

func (p *Pacman) pacmanKey(args ...string) {
	p.t.Helper()
	runPacmanKey(p.t, args...)
}

func runPacmanKey(t testing.TB, args ...string) {
	t.Helper()
	name := "pacman-key"
	if os.Geteuid() != 0 {
		args = append([]string{"pacman-key"}, args...)
		name = "fakeroot"
	}
	cmd := exec.Command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pacman-key %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// pacmanKeyringTemplate returns a GnuPG directory as `pacman-key --init`
// leaves it, made once per user and machine (in the tools cache of
// scripts/build-versitygw.sh) and copied for each pacman that requires
// signatures: --init generates a 4096-bit RSA master key, seconds of CPU
// that the suite paid once per pacman. The master key only certifies the
// keys a test trusts; sharing it between tests changes nothing they check.
func pacmanKeyringTemplate(t testing.TB) string {
	t.Helper()
	cache := os.Getenv("PACREPO_TOOLS_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			t.Fatalf("no cache directory for the pacman keyring: %v", err)
		}
		cache = filepath.Join(base, "pacrepo-tools")
	}
	out, err := exec.Command("pacman-key", "--version").Output()
	if err != nil {
		t.Fatalf("pacman-key --version: %v", err)
	}
	version := strings.Fields(strings.SplitN(string(out), "\n", 2)[0])
	dir := filepath.Join(cache, "pacman-keyring-"+strings.Join(version, "-"))
	if _, err := os.Stat(filepath.Join(dir, "trustdb.gpg")); err == nil {
		return dir
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	lock := flock.New(dir + ".lock")
	if err := lock.Lock(); err != nil {
		t.Fatalf("lock %s: %v", dir+".lock", err)
	}
	defer lock.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "trustdb.gpg")); err == nil {
		return dir // made by another test process while this one waited
	}
	tmp, err := os.MkdirTemp(cache, ".pacman-keyring-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	runPacmanKey(t, "--gpgdir", tmp, "--init")
	// The agent removes its sockets when it exits: the copies get none.
	if out, err := exec.Command("gpgconf", "--homedir", tmp, "--kill", "all").CombinedOutput(); err != nil {
		t.Fatalf("gpgconf --kill all: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatalf("put the pacman keyring in place: %v", err)
	}
	return dir
}

// copyTree copies the directories and regular files under src to dst,
// with their permissions (GnuPG refuses a home others can read).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm())
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm())
		default:
			return nil // a socket of an agent still running: not state
		}
	})
}
