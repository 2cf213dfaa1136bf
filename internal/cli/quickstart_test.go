package cli

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestQuickstart runs scripts/quickstart.sh, the README's first command,
// from start to end: as root (when the tests run as root, as in CI) and as
// an ordinary user, each in its own copy of the checkout. It used to exit
// 141 with no message (`pacrepo list | head -n 1` under pipefail) and could
// not run as an ordinary user (pacman -Sy refuses without root). It must
// leave no temporary directory behind.
func TestQuickstart(t *testing.T) {
	t.Parallel() // drives processes: overlaps with the other end-to-end tests
	if testing.Short() {
		t.Skip("builds pacrepo and runs pacman: not with -short")
	}
	for _, tool := range []string{"bash", "pacman", "fakeroot", "makepkg", "setpriv"} {
		testutil.RequireTool(t, tool)
	}
	goTool := testutil.RequireTool(t, "go")
	if os.Geteuid() != 0 {
		t.Run("user", func(t *testing.T) { runQuickstart(t, goTool, nil, "") }) // we are an ordinary user
		return
	}
	nobody, noNobody := nobodyUser()
	t.Run("root", func(t *testing.T) {
		// The ordinary user's build cache, which the user's run and the
		// PKGBUILD test fill too: with the same flags in the same cache,
		// one configuration is compiled after a change instead of two,
		// and the other builds only link. The entries root adds stay
		// readable by the user (the default umask); a write of the user's
		// over one of them fails, which go build ignores (that output is
		// then not cached).
		cache := goEnv(t, goTool, "GOCACHE")
		if nobody != nil {
			cache = userGoCache(t, nobody, cache)
		}
		runQuickstart(t, goTool, nil, cache)
	})
	t.Run("user", func(t *testing.T) {
		if noNobody != nil {
			testutil.Unavailable(t, "%v", noNobody)
		}
		runQuickstart(t, goTool, nobody, "")
	})
}

// nobodyUser is the unprivileged user that the tests running as root
// build and run the quickstart and makepkg as.
func nobodyUser() (*owner, error) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("no user nobody: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &owner{uid: uid, gid: gid, name: u.Username}, nil
}

// archPackageGoFlags are the Go flags contrib/archlinux/PKGBUILD builds
// with (Arch's Go packaging guidelines), given to the quickstart's builds
// too: what a build of one compiled, a build of the other finds in the
// cache of the same user, and its cache keys do not depend on the copy's
// path. (The PKGBUILD adds -mod=vendor when vendored, as the ordinary
// user's copy is; -modcacherw changes no cache key.)
const archPackageGoFlags = "-buildmode=pie -trimpath"

// archPackageVersion is the version of the release tarball TestArchPackage
// builds the Arch package from.
const archPackageVersion = "1.2.3"

type owner struct {
	uid, gid int
	name     string
}

// runQuickstart copies the checkout and the fixture packages into a new
// directory and runs quickstart.sh there, as as (nil: as ourselves, with
// the Go build cache goCache, "" for our default). An ordinary user cannot
// read our module cache, so its copy is vendored and builds offline.
func runQuickstart(t *testing.T, goTool string, as *owner, goCache string) {
	base, err := os.MkdirTemp("", "pacrepo-quickstart-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	src, home, tmp := filepath.Join(base, "src"), filepath.Join(base, "home"), filepath.Join(base, "tmp")
	if as != nil {
		copyTree(t, vendoredCheckout(t, goTool), src)
	} else {
		copyCheckout(t, testutil.ModuleRoot(t), src)
	}
	copyTree(t, testutil.FixturesDir(t), filepath.Join(src, "testdata", "cache", "pkgs"))
	for _, d := range []string{home, tmp} {
		os.MkdirAll(d, 0o755)
	}
	env := []string{"HOME=" + home, "TMPDIR=" + tmp, "LANG=C.UTF-8",
		"PATH=" + filepath.Dir(goTool) + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	// Every build of pacrepo in these tests has the Arch package's flags
	// (see archPackageGoFlags), so that a build only links when another
	// compiled the same sources before. -trimpath matters most: without it
	// the cache keys of pacrepo's own packages name the copy's temporary
	// directory, and every run compiled them all again.
	cmd := exec.Command("bash", "scripts/quickstart.sh", filepath.Join(base, "demo"))
	if as != nil {
		if err := chownTree(base, as.uid, as.gid); err != nil {
			t.Fatal(err)
		}
		os.Chmod(base, 0o755)
		env = append(env, "GOCACHE="+userGoCache(t, as, filepath.Join(home, "gocache")), "GOFLAGS=-mod=vendor "+archPackageGoFlags, "GOPROXY=off",
			"GOTOOLCHAIN=local", "USER="+as.name)
		cmd = exec.Command("setpriv", "--reuid="+strconv.Itoa(as.uid), "--regid="+strconv.Itoa(as.gid),
			"--clear-groups", "bash", "scripts/quickstart.sh", filepath.Join(base, "demo"))
	} else {
		if goCache == "" {
			goCache = goEnv(t, goTool, "GOCACHE")
		}
		env = append(env, "GOCACHE="+goCache, "GOMODCACHE="+goEnv(t, goTool, "GOMODCACHE"),
			"GOFLAGS="+archPackageGoFlags)
	}
	cmd.Dir, cmd.Env = src, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart.sh: %v\n%s", err, tail(string(out), 60))
	}
	if !strings.Contains(string(out), "== done: repository in") {
		t.Fatalf("quickstart.sh did not finish:\n%s", tail(string(out), 60))
	}
	// Each step says so as it starts: a long build must never look hung.
	for step := 1; step <= 5; step++ {
		if !strings.Contains(string(out), "\n== "+strconv.Itoa(step)+"/5 ") {
			t.Errorf("quickstart.sh did not announce step %d/5:\n%s", step, tail(string(out), 60))
		}
	}
	left, _ := os.ReadDir(tmp)
	for _, d := range left {
		if !strings.HasPrefix(d.Name(), "go-build") {
			t.Errorf("quickstart.sh left %s in its TMPDIR", d.Name())
		}
	}
}

// vendored is the one vendored copy of the checkout that the tests
// building pacrepo offline as an ordinary user (TestQuickstart's user run,
// TestArchPackage's tarball) copy from: go mod vendor and the copy are made
// once while any of them runs, not once each.
var vendored struct {
	sync.Mutex
	users int
	dir   string // the copy, named as the Arch package's release tarball wants
}

// vendoredCheckout is the vendored copy of the checkout, read-only to its
// callers, named pacrepo-archPackageVersion. It is removed when the last
// test using it ends.
func vendoredCheckout(t *testing.T, goTool string) string {
	t.Helper()
	vendored.Lock()
	defer vendored.Unlock()
	if vendored.users == 0 {
		base, err := os.MkdirTemp("", "pacrepo-vendored-test-")
		if err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(base, "pacrepo-"+archPackageVersion)
		copyCheckout(t, testutil.ModuleRoot(t), src)
		vendor := exec.Command(goTool, "mod", "vendor")
		vendor.Dir = src
		if out, err := vendor.CombinedOutput(); err != nil {
			os.RemoveAll(base)
			t.Fatalf("go mod vendor in %s: %v\n%s", src, err, out)
		}
		vendored.dir = src
	}
	vendored.users++
	t.Cleanup(func() {
		vendored.Lock()
		defer vendored.Unlock()
		if vendored.users--; vendored.users == 0 {
			os.RemoveAll(filepath.Dir(vendored.dir))
			vendored.dir = ""
		}
	})
	return vendored.dir
}

// userGoCache is a Go build cache for as that outlives the test: a
// directory of the system's temporary directory named for the user and
// owned by it. One that exists but is not a directory of as's own (another
// user made it first) is not used: the run then gets an empty cache of its
// own (fresh, in a directory as owns), which costs time only.
func userGoCache(t *testing.T, as *owner, fresh string) string {
	dir := filepath.Join(os.TempDir(), "pacrepo-quickstart-gocache-"+strconv.Itoa(as.uid))
	if err := os.Mkdir(dir, 0o700); err == nil {
		if err := os.Chown(dir, as.uid, as.gid); err != nil {
			t.Fatal(err)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFDIR || int(st.Uid) != as.uid || st.Mode&0o077 != 0 {
		return fresh
	}
	return dir
}

func goEnv(t *testing.T, goTool, name string) string {
	out, err := exec.Command(goTool, "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// copyCheckout copies the source tree without what builds and tests make.
func copyCheckout(t *testing.T, from, to string) {
	skip := map[string]bool{".git": true, "bin": true, "demo-repo": true, "vendor": true,
		filepath.Join("testdata", "cache"): true}
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if skip[rel] {
			// .git is a file in a git worktree, and SkipDir on a file
			// would skip the rest of its directory.
			if !d.IsDir() {
				return nil
			}
			return filepath.SkipDir
		}
		return copyEntry(path, filepath.Join(to, rel), d)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, from, to string) {
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		return copyEntry(path, filepath.Join(to, rel), d)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyEntry(from, to string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	switch {
	case d.IsDir():
		return os.MkdirAll(to, 0o755)
	case d.Type()&fs.ModeSymlink != 0:
		target, err := os.Readlink(from)
		if err != nil {
			return err
		}
		return os.Symlink(target, to)
	case info.Mode().IsRegular():
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, info.Mode().Perm())
	}
	return nil
}

func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
