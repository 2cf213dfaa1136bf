package srcinfo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestParseMakepkgOutput parses what the real makepkg --printsrcinfo
// writes for a split PKGBUILD with overrides and arch-specific arrays.
func TestParseMakepkgOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("makepkg takes seconds to start; skipped with -short")
	}
	makepkg := testutil.RequireTool(t, "makepkg")
	// makepkg refuses root, so it may run as nobody: the directory must
	// be reachable by everyone, which t.TempDir's parent is not.
	dir, err := os.MkdirTemp("", "pacrepo-srcinfo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	pkgbuild := `pkgbase=demo
pkgname=(demo-a demo-b)
pkgver=1.0
pkgrel=2
epoch=1
pkgdesc="the demo"
arch=(x86_64 aarch64)
depends=(zlib 'glibc>=2.30')
depends_x86_64=(lib32-foo)
makedepends=(cmake)
checkdepends=(check)
license=(MIT)
package_demo-a() { provides=('demo=1.0'); :; }
package_demo-b() { depends=(); pkgdesc="b"; arch=(any); :; }
`
	if err := os.WriteFile(filepath.Join(dir, "PKGBUILD"), []byte(pkgbuild), 0o644); err != nil {
		t.Fatal(err)
	}
	// makepkg --printsrcinfo of this PKGBUILD is a function of it, of
	// makepkg and its libraries and configuration, and of the packages of
	// what it runs: kept in the tools cache under their hash, for one run
	// forks ~1000 processes (13 s of CPU on the suite's machines).
	key := testutil.NewOracleKey("makepkg-printsrcinfo")
	key.String("PKGBUILD", pkgbuild)
	key.Tool(t, "makepkg")
	key.Tree(t, "/usr/share/makepkg")
	key.File(t, "/etc/makepkg.conf")
	key.Tree(t, "/etc/makepkg.conf.d")
	if home, err := os.UserHomeDir(); err == nil && os.Geteuid() != 0 {
		key.File(t, filepath.Join(home, ".makepkg.conf"))
		key.File(t, filepath.Join(home, ".config", "pacman", "makepkg.conf"))
	}
	key.Packages(t, "makepkg", "pacman-package-manager", "bash", "coreutils", "grep", "sed", "gettext-base", "libarchive*")
	out := testutil.CachedOutput(t, key, func() ([]byte, error) {
		var cmd *exec.Cmd
		if os.Geteuid() == 0 {
			runuser := testutil.RequireTool(t, "runuser")
			cmd = testutil.Exec(runuser, "-u", "nobody", "--", "env", "BUILDDIR="+dir, makepkg, "--printsrcinfo")
		} else {
			cmd = testutil.Exec(makepkg, "--printsrcinfo")
			cmd.Env = append(cmd.Env, "BUILDDIR="+dir)
		}
		cmd.Dir = dir
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("makepkg --printsrcinfo: %v\n%s", err, stderr.String())
		}
		return out, nil
	})
	info, err := Parse(strings.NewReader(string(out)))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if info.Version() != "1:1.0-2" || !reflect.DeepEqual(info.Names(), []string{"demo-a", "demo-b"}) {
		t.Fatalf("version %q names %q", info.Version(), info.Names())
	}
	a, _ := info.Package("demo-a", "x86_64")
	if !reflect.DeepEqual(a.Depends, []string{"zlib", "glibc>=2.30", "lib32-foo"}) || !reflect.DeepEqual(a.Provides, []string{"demo=1.0"}) ||
		!reflect.DeepEqual(a.MakeDepends, []string{"cmake"}) || !reflect.DeepEqual(a.CheckDepends, []string{"check"}) || a.Desc != "the demo" {
		t.Errorf("demo-a: %+v", a)
	}
	// depends=() clears depends; makepkg leaves depends_x86_64 inherited.
	b, _ := info.Package("demo-b", "aarch64")
	if len(b.Depends) != 0 || b.Desc != "b" || !reflect.DeepEqual(b.Arch, []string{"any"}) {
		t.Errorf("demo-b: %+v\n%s", b, out)
	}
}
