package repo

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/deps"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestDependenciesAgreeWithPacman judges the C packages built by makepkg
// (libfoo of soname 1 then 2, bar linked against libfoo.so.1, baz
// depending on the virtual foo-virtual and on libfoo>=2, libfoo<3), and
// lets real pacman, with its own root and dbpath, confirm each verdict:
// what check calls unsatisfiable cannot be installed (or, for a library,
// installs a program the dynamic linker cannot start), what it accepts
// installs and runs.
func TestDependenciesAgreeWithPacman(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	src := t.TempDir()
	fixture := func(base string) string {
		data, err := os.ReadFile(testutil.ELFFixture(t, base))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(src, base)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	pm := testutil.NewPacman(t, map[string]string{"test": r.dir()})
	root := filepath.Join(pm.Dir, "root")
	runBar := func() error {
		cmd := exec.Command(filepath.Join(root, "usr/bin/bar"))
		cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Join(root, "usr/lib"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("bar: %v: %s", err, out)
		}
		return err
	}
	judge := func() ([]deps.Package, deps.Report) {
		t.Helper()
		local, err := r.DependencyPackages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return local, deps.Check(local, nil)
	}
	needs := func(rep deps.Report) []string {
		var out []string
		for _, p := range rep.Problems {
			out = append(out, p.Package+" "+p.Kind+" "+p.Needs)
		}
		return out
	}

	if _, err := r.Add(ctx, []string{fixture("libfoo-1-1-x86_64.pkg.tar.zst"), fixture("bar-1-1-x86_64.pkg.tar.zst"),
		fixture("baz-1-1-any.pkg.tar.zst")}, AddOptions{Mode: Copy}); err != nil {
		t.Fatal(err)
	}
	local, rep := judge()
	if got, want := needs(rep), []string{"baz depend foo-virtual", "baz depend libfoo>=2"}; !slices.Equal(got, want) {
		t.Fatalf("libfoo 1: problems %q, want %q", got, want)
	}
	if !slices.Contains(rep.External, deps.External{Package: "bar", Library: "libc.so.6"}) {
		t.Errorf("external %v lacks bar's libc.so.6", rep.External)
	}
	if got := deps.Rebuilds(local, rep); len(got) != 1 || got[0].Package != "baz" {
		t.Errorf("rebuilds %v, want baz (libfoo>=2 no longer holds)", got)
	}
	if got := deps.Dependents(local, []string{"libfoo"}); len(got) != 2 || got[0].Package != "bar" || got[1].Package != "baz" {
		t.Errorf("dependents of libfoo %v, want bar (links libfoo.so.1) and baz (libfoo>=2)", got)
	}
	pm.MustRun("-Syy")
	if out, err := pm.Run("-Sp", "test/baz"); err == nil {
		t.Errorf("pacman installs baz, which check calls unsatisfiable:\n%s", out)
	}
	pm.MustRun("-S", "test/bar")
	if err := runBar(); err != nil {
		t.Errorf("bar, which check accepts, does not start: %v", err)
	}

	// libfoo's soname goes to 2: bar's libfoo.so.1 is gone, baz is met.
	if _, err := r.Add(ctx, []string{fixture("libfoo-2-1-x86_64.pkg.tar.zst")}, AddOptions{Mode: Copy}); err != nil {
		t.Fatal(err)
	}
	local, rep = judge()
	if got, want := needs(rep), []string{"bar library libfoo.so.1"}; !slices.Equal(got, want) {
		t.Fatalf("libfoo 2: problems %q, want %q", got, want)
	}
	if !strings.Contains(rep.Problems[0].Reason, "libfoo.so=2-64 by libfoo 2-1") {
		t.Errorf("reason %q does not say what is provided instead", rep.Problems[0].Reason)
	}
	if got := deps.Rebuilds(local, rep); len(got) != 1 || got[0].Package != "bar" {
		t.Errorf("rebuilds %v, want bar", got)
	}
	pm.MustRun("-Syy")
	pm.MustRun("-Sp", "test/baz")
	pm.MustRun("-Su")
	if err := runBar(); err == nil {
		t.Errorf("bar still starts with libfoo 2, which check calls a problem")
	}
}

// TestInstallable: with installable = "refuse" a change that leaves a
// package unsatisfiable is refused, naming the package and what it
// needs, and changes nothing; with "warn" it is made and reported; a
// change that mends or keeps what was broken before passes.
func TestInstallable(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	fixture := func(base string) string {
		data, err := os.ReadFile(testutil.ELFFixture(t, base))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(src, base)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	refuse := withOpts(newRepo(t), func(o *Options) { o.Installable = "refuse" })
	if _, err := refuse.Add(ctx, []string{fixture("libfoo-1-1-x86_64.pkg.tar.zst"), fixture("bar-1-1-x86_64.pkg.tar.zst")}, AddOptions{Mode: Copy}); err != nil {
		t.Fatal(err)
	}
	var unmet *UnsatisfiableError
	_, err := refuse.Add(ctx, []string{fixture("libfoo-2-1-x86_64.pkg.tar.zst")}, AddOptions{Mode: Copy})
	if !errors.As(err, &unmet) || len(unmet.Problems) != 1 || unmet.Problems[0].Package != "bar" || unmet.Problems[0].Needs != "libfoo.so.1" ||
		!strings.Contains(err.Error(), "bar 1-1 needs libfoo.so.1") {
		t.Fatalf("the soname bump under bar: %v", err)
	}
	if got := registered(t, refuse); got["libfoo"] != "1-1" {
		t.Fatalf("refused, yet registered %v", got)
	}
	if _, err := refuse.Remove(ctx, []string{"libfoo"}, Request{}); !errors.As(err, &unmet) ||
		!strings.Contains(err.Error(), "libfoo 1-1 provided it") {
		t.Fatalf("removing the library bar needs: %v", err)
	}
	if _, err := refuse.Add(ctx, []string{fixture("baz-1-1-any.pkg.tar.zst")}, AddOptions{Mode: Copy}); !errors.As(err, &unmet) ||
		len(unmet.Problems) != 2 {
		t.Fatalf("baz, whose dependencies nothing meets: %v", err)
	}
	// Removing bar mends nothing and breaks nothing: it passes.
	if _, err := refuse.Remove(ctx, []string{"bar"}, Request{}); err != nil {
		t.Fatal(err)
	}

	warn := withOpts(newRepo(t), func(o *Options) { o.Installable = "warn" })
	if _, err := warn.Add(ctx, []string{fixture("libfoo-1-1-x86_64.pkg.tar.zst"), fixture("bar-1-1-x86_64.pkg.tar.zst")}, AddOptions{Mode: Copy}); err != nil {
		t.Fatal(err)
	}
	res, err := warn.Add(ctx, []string{fixture("libfoo-2-1-x86_64.pkg.tar.zst")}, AddOptions{Mode: Copy})
	if err != nil || !res.Applied || len(res.Unsatisfiable) != 1 || res.Unsatisfiable[0].Package != "bar" {
		t.Fatalf("warn: %v %+v", err, res)
	}
	// What was broken before (bar) is no news: baz, met by libfoo 2,
	// passes without a word.
	if res, err := warn.Add(ctx, []string{fixture("baz-1-1-any.pkg.tar.zst")}, AddOptions{Mode: Copy}); err != nil || len(res.Unsatisfiable) != 0 {
		t.Fatalf("warn, baz: %v %+v", err, res.Unsatisfiable)
	}
}
