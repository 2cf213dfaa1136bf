package server

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// requireTool ends the test when a reference tool is missing: skip on a
// developer's machine, fail under CI (testutil.Strict).
func requireTool(t testing.TB, name string) string {
	t.Helper()
	return testutil.RequireTool(t, name)
}

// testPackage describes a small package made by makeTestPackage.
type testPackage struct {
	Name, Version string // Version is pkgver-pkgrel
}

// makeTestPackage writes a valid pacman package into dir with the shared
// synthetic generator and returns its path.
func makeTestPackage(t testing.TB, dir string, p testPackage) string {
	t.Helper()
	return testutil.MustMakePackage(t, dir, testutil.PackageSpec{
		Name: p.Name, Version: p.Version, Arch: "any", NumFiles: 3,
	})
}

// repoAdd builds dir/name.db.tar.zst from the given package paths with the
// real repo-add (a test oracle; the product never forks it), replayed from
// the tools cache when the same packages were added before (see
// testutil.RepoAdd). A package with a signature runs it for real every
// time: its key is made anew by each test, so its run would never replay.
func repoAdd(t testing.TB, dir, name string, pkgs ...string) string {
	t.Helper()
	requireTool(t, "repo-add")
	db := filepath.Join(dir, name+".db.tar.zst")
	for _, p := range pkgs {
		if _, err := os.Stat(p + ".sig"); err == nil {
			args := append([]string{"-q", db}, pkgs...)
			cmd := exec.Command("repo-add", args...)
			cmd.Env = append(os.Environ(), "LC_ALL=C")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("repo-add %v: %v\n%s", args, err, out)
			}
			return db
		}
	}
	testutil.RepoAdd(t, []string{"-q"}, db, pkgs...)
	return db
}

// pacmanEnv is a throwaway pacman installation talking to one server.
type pacmanEnv struct {
	root, config, dbpath, cache string
}

// newPacman writes a pacman.conf with one repository per name=server URL.
func newPacman(t testing.TB, servers map[string]string) *pacmanEnv {
	t.Helper()
	requireTool(t, "pacman")
	root := t.TempDir()
	e := &pacmanEnv{
		root:   root,
		config: filepath.Join(root, "pacman.conf"),
		dbpath: filepath.Join(root, "db"),
		cache:  filepath.Join(root, "cache"),
	}
	for _, d := range []string{e.dbpath, e.cache, filepath.Join(root, "gnupg"), filepath.Join(root, "hooks")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var conf strings.Builder
	conf.WriteString("[options]\nArchitecture = auto\nSigLevel = Never\nLocalFileSigLevel = Never\n")
	for name, url := range servers {
		fmt.Fprintf(&conf, "\n[%s]\nServer = %s\n", name, url)
	}
	if err := os.WriteFile(e.config, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs pacman with the environment's paths and returns its output.
func (e *pacmanEnv) run(args ...string) (string, error) {
	full := append([]string{
		"--config", e.config,
		"--dbpath", e.dbpath,
		"--cachedir", e.cache,
		"--logfile", filepath.Join(e.root, "pacman.log"),
		"--gpgdir", filepath.Join(e.root, "gnupg"),
		"--hookdir", filepath.Join(e.root, "hooks"),
		"--noconfirm", "--noprogressbar",
	}, args...)
	cmd := exec.Command("pacman", full...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
