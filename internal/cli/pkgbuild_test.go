package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestArchPackage builds contrib/archlinux/PKGBUILD with the real makepkg
// from a release tarball of this checkout (vendored, so offline), as an
// unprivileged user as makepkg requires, installs the package with the
// real pacman into a temporary root, and runs the installed pacrepo: the
// version is the tarball's, and the install script put the manual pages,
// completions, units and sysusers.d entry where Arch expects them.
// makepkg runs with --nocheck to keep the suite fast: check()'s tests run
// in the suite anyway.
func TestArchPackage(t *testing.T) {
	t.Parallel() // drives processes: overlaps with the other end-to-end tests
	if testing.Short() {
		t.Skip("builds pacrepo with makepkg: not with -short")
	}
	for _, tool := range []string{"makepkg", "pacman", "fakeroot", "curl", "bsdtar", "tar"} {
		testutil.RequireTool(t, tool)
	}
	goTool := testutil.RequireTool(t, "go")
	var as *owner
	if os.Geteuid() == 0 {
		testutil.RequireTool(t, "setpriv")
		var err error
		if as, err = nobodyUser(); err != nil {
			testutil.Unavailable(t, "%v", err)
		}
	}

	base, err := os.MkdirTemp("", "pacrepo-pkgbuild-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	const version = archPackageVersion
	src := vendoredCheckout(t, goTool)
	run := func(dir string, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(string(out), 40))
		}
	}
	// Not compressed: gzip of the vendored tree cost seconds of CPU and
	// tests nothing makepkg does not do for a .tar.gz as well.
	tarball := filepath.Join(base, "pacrepo-"+version+".tar")
	run(filepath.Dir(src), "tar", "-cf", tarball, filepath.Base(src))

	build, out, home := filepath.Join(base, "build"), filepath.Join(base, "out"), filepath.Join(base, "home")
	for _, d := range []string{build, out, home} {
		os.MkdirAll(d, 0o755)
	}
	pkgbuild, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "contrib", "archlinux", "PKGBUILD"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(build, "PKGBUILD"), pkgbuild, 0o644)
	conf := filepath.Join(base, "makepkg.conf")
	os.WriteFile(conf, []byte(`CARCH="x86_64"
CHOST="x86_64-pc-linux-gnu"
BUILDENV=(!distcc !color !ccache check !sign)
OPTIONS=(strip docs !libtool !staticlibs emptydirs zipman purge !debug !lto)
INTEGRITY_CHECK=(sha256)
STRIP_BINARIES="--strip-all"
MAN_DIRS=({usr{,/local}{,/share},opt/*}/{man,info})
DOC_DIRS=({usr,usr/local}{,/share}/{doc,gtk-doc})
PURGE_TARGETS=(usr/{,share}/info/dir .packlist *.pod)
DLAGENTS=('file::/usr/bin/curl -qgC - -o %o %u')
COMPRESSZST=(zstd -c -T0 -1 -)
PKGEXT='.pkg.tar.zst'
SRCEXT='.src.tar.gz'
`), 0o644)

	env := []string{"HOME=" + home, "TMPDIR=" + base, "LANG=C.UTF-8", "PACREPO_TARBALL=" + tarball,
		"PKGDEST=" + out, "SRCDEST=" + build, "BUILDDIR=" + build, "SOURCE_DATE_EPOCH=1700000000",
		"PACKAGER=pacrepo tests <tests@pacrepo.invalid>", "GOPROXY=off", "GOTOOLCHAIN=local",
		"PATH=" + filepath.Dir(goTool) + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	makepkg := []string{"makepkg", "--config", conf, "--nodeps", "--nocheck", "--nosign", "--noconfirm", "--noprogressbar", "--nocolor"}
	cmd := exec.Command(makepkg[0], makepkg[1:]...)
	if as != nil {
		// The Go build cache TestQuickstart keeps for this user: warm, the
		// build only links.
		env = append(env, "GOCACHE="+userGoCache(t, as, filepath.Join(home, "gocache")), "USER="+as.name)
		if err := chownTree(base, as.uid, as.gid); err != nil {
			t.Fatal(err)
		}
		os.Chmod(base, 0o755)
		cmd = exec.Command("setpriv", append([]string{"--reuid=" + strconv.Itoa(as.uid), "--regid=" + strconv.Itoa(as.gid), "--clear-groups"}, makepkg...)...)
	} else {
		env = append(env, "GOCACHE="+goEnv(t, goTool, "GOCACHE"))
	}
	cmd.Dir, cmd.Env = build, env
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("makepkg: %v\n%s", err, tail(string(output), 60))
	}
	pkgs, _ := filepath.Glob(filepath.Join(out, "pacrepo-"+version+"-1-*.pkg.tar.zst"))
	if len(pkgs) != 1 {
		entries, _ := os.ReadDir(out)
		t.Fatalf("makepkg made %v, want one pacrepo-%s-1 package", entries, version)
	}

	sysroot := filepath.Join(base, "root")
	os.MkdirAll(filepath.Join(sysroot, "var", "lib", "pacman"), 0o755)
	pacmanConf := filepath.Join(base, "pacman.conf")
	os.WriteFile(pacmanConf, []byte("[options]\nArchitecture = auto\nSigLevel = Never\nLocalFileSigLevel = Never\n"), 0o644)
	pacman := []string{"pacman", "--config", pacmanConf, "--root", sysroot, "--dbpath", filepath.Join(sysroot, "var", "lib", "pacman"),
		"--cachedir", filepath.Join(base, "cache"), "--hookdir", filepath.Join(base, "hooks"), "--gpgdir", filepath.Join(base, "gpg"),
		"--logfile", filepath.Join(base, "pacman.log"), "--noconfirm", "--noprogressbar", "-U", "-dd", pkgs[0]}
	if os.Geteuid() != 0 {
		pacman = append([]string{"fakeroot", "--"}, pacman...)
	}
	run(base, pacman[0], pacman[1:]...)

	installed := filepath.Join(sysroot, "usr", "bin", "pacrepo")
	got, err := exec.Command(installed, "--version").Output()
	if err != nil {
		t.Fatalf("installed pacrepo --version: %v", err)
	}
	if want := "pacrepo " + version + "\n"; string(got) != want {
		t.Errorf("installed pacrepo --version = %q, want %q", got, want)
	}
	for _, f := range []string{"usr/share/man/man1/pacrepo.1.gz", "usr/share/man/man1/pacrepo-watch.1.gz",
		"usr/share/bash-completion/completions/pacrepo", "usr/share/zsh/site-functions/_pacrepo",
		"usr/share/fish/vendor_completions.d/pacrepo.fish", "usr/lib/sysusers.d/pacrepo.conf",
		"usr/share/licenses/pacrepo/LICENSE"} {
		if _, err := os.Stat(filepath.Join(sysroot, f)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	unit, err := os.ReadFile(filepath.Join(sysroot, "usr", "lib", "systemd", "system", "pacrepo-watch@.service"))
	if err != nil || !strings.Contains(string(unit), "ExecStart=/usr/bin/pacrepo ") {
		t.Errorf("the watch unit must run the installed /usr/bin/pacrepo: %v\n%s", err, unit)
	}
}
