// Package testutil holds helpers for tests only: finding (and building on
// demand) the real makepkg fixtures, requiring reference tools, and making
// synthetic packages.
//
// Reference tools (makepkg, repo-add, pacman, bsdtar, ...) are oracles. When
// one is missing, tests skip on a developer's machine but FAIL when strict:
// CI set to anything but "", "0" or "false", or PACREPO_STRICT=1 (set by
// scripts/test.sh, which installs the tools first).
package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/gofrs/flock"

	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
	"github.com/pacrepo/pacrepo/internal/testutil/reftool"
)

// Strict reports whether a missing reference tool or fixture must fail a
// test rather than skip it (see reftool).
func Strict() bool { return reftool.Strict() }

// Unavailable fails the test when Strict, and skips it otherwise.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	reftool.Unavailable(t, format, args...)
}

// RequireTool returns the path of the reference tool name, or ends the
// test (Fatal when Strict, Skip otherwise).
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	return reftool.Require(t, name)
}

// OptionalTool returns the path of the reference tool name, or "" when it
// is missing, for a test that checks what it can without it; the test
// fails when Strict.
func OptionalTool(t testing.TB, name string) string {
	t.Helper()
	return reftool.Optional(t, name)
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// ModuleRoot returns the directory of go.mod, the project's checkout.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var fixtures struct {
	once sync.Once
	dir  string
	err  error
}

// FixturesDir returns the directory of the makepkg-built fixture packages:
// $PACREPO_FIXTURES when set, else testdata/cache/pkgs under the module
// root, which it builds (or refreshes) with scripts/build-fixtures.sh, under
// a file lock so that test binaries running in parallel build it once. The
// script is a no-op when the fixtures are up to date. When the fixtures
// cannot be had, the test fails if Strict and is skipped otherwise.
// Treat the directory as read-only: copy what you change.
func FixturesDir(t testing.TB) string {
	t.Helper()
	fixtures.once.Do(func() { fixtures.dir, fixtures.err = findFixtures() })
	if fixtures.err != nil {
		Unavailable(t, "fixture packages: %v", fixtures.err)
	}
	return fixtures.dir
}

func findFixtures() (string, error) {
	if dir := os.Getenv("PACREPO_FIXTURES"); dir != "" {
		if err := hasPackages(dir); err != nil {
			return "", fmt.Errorf("PACREPO_FIXTURES=%s: %w", dir, err)
		}
		return dir, nil
	}
	return buildFixtures("pkgbuilds", "pkgs")
}

// buildFixtures builds the PKGBUILDs of testdata/SRC into
// testdata/cache/OUT with scripts/build-fixtures.sh (a no-op when they are
// up to date), under a file lock so that test binaries running in
// parallel build them once.
func buildFixtures(src, out string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "testdata", "cache", out)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	lock := flock.New(filepath.Join(root, "testdata", "cache", ".build-fixtures.lock"))
	if err := lock.Lock(); err != nil {
		return "", fmt.Errorf("lock fixtures: %w", err)
	}
	defer lock.Unlock()
	cmd := exec.Command(filepath.Join(root, "scripts", "build-fixtures.sh"), dir, filepath.Join(root, "testdata", src))
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("scripts/build-fixtures.sh: %v\n%s", err, out)
	}
	if err := hasPackages(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// ELFFixturesDir is the directory of the ELF fixtures (see ELFFixture),
// built on first use; for callers without a testing.TB.
func ELFFixturesDir() (string, error) {
	elfFixtures.once.Do(func() { elfFixtures.dir, elfFixtures.err = buildFixtures("elfpkgs", "elfpkgs") })
	return elfFixtures.dir, elfFixtures.err
}

var elfFixtures struct {
	once sync.Once
	dir  string
	err  error
}

// ELFFixture returns the path of the package file named base among the
// C packages of testdata/elfpkgs (a library libfoo of soname 1 and 2, a
// program bar linked against it, baz depending on a virtual provision and
// a version range, dbg and its debug package dbg-debug), built by real makepkg and gcc on first use and cached
// in testdata/cache/elfpkgs. When they cannot be had, the test fails if
// Strict and is skipped otherwise. Treat the files as read-only.
func ELFFixture(t testing.TB, base string) string {
	t.Helper()
	dir, err := ELFFixturesDir()
	if err != nil {
		Unavailable(t, "ELF fixture packages: %v", err)
	}
	path := filepath.Join(dir, base)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("ELF fixture: %v", err)
	}
	return path
}

func hasPackages(dir string) error {
	m, err := filepath.Glob(filepath.Join(dir, "*.pkg.tar*"))
	if err != nil {
		return err
	}
	if len(m) == 0 {
		return fmt.Errorf("no packages in %s", dir)
	}
	return nil
}

// Fixture returns the paths of the fixture packages whose base names match
// the shell pattern glob (e.g. "fixture-split-*.pkg.tar*"), sorted. No match
// is a test bug and fails the test.
func Fixture(t testing.TB, glob string) []string {
	t.Helper()
	dir := FixturesDir(t)
	m, err := filepath.Glob(filepath.Join(dir, glob))
	if err != nil {
		t.Fatalf("fixture %q: %v", glob, err)
	}
	if len(m) == 0 {
		t.Fatalf("fixture %q: no package in %s matches", glob, dir)
	}
	sort.Strings(m)
	return m
}

// AllFixtures returns the paths of every fixture package, sorted.
func AllFixtures(t testing.TB) []string {
	t.Helper()
	return Fixture(t, "*.pkg.tar*")
}

// CopyFixtures copies the fixture packages matching glob into dir (created
// if needed) and returns the paths of the copies.
func CopyFixtures(t testing.TB, dir, glob string) []string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, src := range Fixture(t, glob) {
		dst := filepath.Join(dir, filepath.Base(src))
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, dst)
	}
	return out
}

// PackageSpec describes a synthetic package; see pkggen.Spec.
type PackageSpec = pkggen.Spec

// PackageFile is one file of a synthetic package; see pkggen.File.
type PackageFile = pkggen.File

// MakePackage writes a valid synthetic package in makepkg's layout into dir
// and returns its path; see pkggen.MakePackage.
func MakePackage(dir string, p PackageSpec) (string, error) {
	return pkggen.MakePackage(dir, p)
}

// MustMakePackage is MakePackage that fails the test on error.
func MustMakePackage(t testing.TB, dir string, p PackageSpec) string {
	t.Helper()
	path, err := pkggen.MakePackage(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Run runs a reference tool and returns its standard output; a failure
// fails the test with the tool's output.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := RunErr(t, name, args...)
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return out
}

// RunErr runs a reference tool (which must exist, see RequireTool) and
// returns its combined output and error.
func RunErr(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	path := RequireTool(t, name)
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
