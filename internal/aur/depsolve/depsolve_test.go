package depsolve

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/aur"
	"github.com/pacrepo/pacrepo/internal/aur/aurtest"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

func order(p *Plan) string {
	var s []string
	for _, b := range p.Order {
		s = append(s, b.Name)
	}
	return strings.Join(s, " ")
}

func TestResolveGraph(t *testing.T) {
	s := aurtest.New(t)
	s.Add(
		// app needs lib (AUR), tool>=2 as makedepends, and virt (provided).
		aurtest.Pkg{Name: "app", Version: "1-1", Depends: []string{"lib>=1.5", "glibc", "virt"}, MakeDepends: []string{"tool>=2"}, CheckDepends: []string{"checker"}},
		// Split base: lib and lib-docs; app needs lib, lib-extra needs lib-docs.
		aurtest.Pkg{Name: "lib", Base: "lib-split", Version: "1.6-1", Depends: []string{"zlib"}},
		aurtest.Pkg{Name: "lib-docs", Base: "lib-split", Version: "1.6-1"},
		aurtest.Pkg{Name: "lib-extra", Version: "1-1", Depends: []string{"lib-docs", "lib"}},
		// tool in the repository is too old (1.0); the AUR has 2.1.
		aurtest.Pkg{Name: "tool", Version: "2.1-1"},
		// virt is provided by two AUR packages; the one with most votes wins.
		aurtest.Pkg{Name: "virt-a", Version: "1-1", Provides: []string{"virt"}, NumVotes: 3},
		aurtest.Pkg{Name: "virt-b", Version: "1-1", Provides: []string{"virt=1"}, NumVotes: 10},
		aurtest.Pkg{Name: "checker", Version: "1-1"},
	)
	r := &Resolver{
		Repo:   []Pkg{{Name: "tool", Version: "1.0-1"}},
		System: []Pkg{{Name: "glibc", Version: "2.39-1"}, {Name: "zlib-ng-compat", Version: "2.1-1", Provides: []string{"zlib=1.3.1"}}},
		AUR:    aur.New(s.URL),
	}
	plan, err := r.Resolve(context.Background(), []string{"app", "lib-extra"})
	if err != nil {
		t.Fatal(err)
	}
	// Dependencies first; ties by name.
	if got := order(plan); got != "lib-split tool virt-b app lib-extra" {
		t.Errorf("order %q", got)
	}
	for _, b := range plan.Order {
		if b.Name == "lib-split" && len(b.Packages) != 2 {
			t.Errorf("lib-split packages %v", b.Packages)
		}
	}

	// checkdepends only on request.
	r.CheckDepends = true
	plan, err = r.Resolve(context.Background(), []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	if got := order(plan); got != "checker lib-split tool virt-b app" {
		t.Errorf("with checkdepends: %q", got)
	}
}

func TestRepositoryAndSystemComeFirst(t *testing.T) {
	s := aurtest.New(t)
	s.Add(
		aurtest.Pkg{Name: "app", Version: "1-1", Depends: []string{"lib>=1", "sys"}},
		aurtest.Pkg{Name: "lib", Version: "9-1"},
		aurtest.Pkg{Name: "sys", Version: "9-1"},
	)
	r := &Resolver{
		Repo:   []Pkg{{Name: "lib", Version: "1.2-1"}},
		System: []Pkg{{Name: "other", Version: "1-1", Provides: []string{"sys"}}},
		AUR:    aur.New(s.URL),
	}
	plan, err := r.Resolve(context.Background(), []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	if got := order(plan); got != "app" {
		t.Errorf("order %q, want only app", got)
	}
}

func TestTooOldProvidersDoNotSatisfy(t *testing.T) {
	s := aurtest.New(t)
	s.Add(
		aurtest.Pkg{Name: "app", Version: "1-1", Depends: []string{"lib>=2"}},
		aurtest.Pkg{Name: "lib", Version: "1.9-1"},                                      // too old in the AUR too
		aurtest.Pkg{Name: "lib-ng", Version: "5-1", Provides: []string{"lib=1.8"}},      // provides too old
		aurtest.Pkg{Name: "lib-unversioned", Version: "5-1", Provides: []string{"lib"}}, // cannot satisfy a versioned dep
	)
	r := &Resolver{
		Repo: []Pkg{{Name: "lib", Version: "1.0-1"}, {Name: "x", Version: "1-1", Provides: []string{"lib=1.5"}}},
		AUR:  aur.New(s.URL),
	}
	_, err := r.Resolve(context.Background(), []string{"app"})
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v", err)
	}
	want := "lib>=2 (required by app) not found in the repository, pacman's databases or the AUR"
	if err.Error() != want {
		t.Errorf("message %q\nwant    %q", err, want)
	}

	// A provider with a new enough version does.
	s.Add(aurtest.Pkg{Name: "lib-good", Version: "1-1", Provides: []string{"lib=2.0"}})
	plan, err := r.Resolve(context.Background(), []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	if got := order(plan); got != "lib-good app" {
		t.Errorf("order %q", got)
	}
}

func TestMissingListsEveryRequirer(t *testing.T) {
	s := aurtest.New(t)
	s.Add(
		aurtest.Pkg{Name: "bar", Version: "1-1", Depends: []string{"foo"}},
		aurtest.Pkg{Name: "baz", Version: "1-1", MakeDepends: []string{"foo"}, Depends: []string{"qux>1"}},
	)
	r := &Resolver{AUR: aur.New(s.URL)}
	_, err := r.Resolve(context.Background(), []string{"bar", "baz", "nonexistent"})
	want := "foo (required by bar, baz) not found in the repository, pacman's databases or the AUR; " +
		"nonexistent not found in the AUR; " +
		"qux>1 (required by baz) not found in the repository, pacman's databases or the AUR"
	if err == nil || err.Error() != want {
		t.Errorf("err  %v\nwant %s", err, want)
	}
}

func TestCycleIsReported(t *testing.T) {
	s := aurtest.New(t)
	s.Add(
		aurtest.Pkg{Name: "a", Version: "1-1", Depends: []string{"b"}},
		aurtest.Pkg{Name: "b", Version: "1-1", MakeDepends: []string{"c"}},
		aurtest.Pkg{Name: "c", Version: "1-1", Depends: []string{"a"}},
		// A split base depending on itself is not a cycle.
		aurtest.Pkg{Name: "s-bin", Base: "s", Version: "1-1", Depends: []string{"s-lib"}},
		aurtest.Pkg{Name: "s-lib", Base: "s", Version: "1-1"},
	)
	r := &Resolver{AUR: aur.New(s.URL)}
	_, err := r.Resolve(context.Background(), []string{"a"})
	var ce *CycleError
	if !errors.As(err, &ce) || err.Error() != "dependency cycle: a -> b -> c -> a" {
		t.Fatalf("err = %v", err)
	}
	plan, err := r.Resolve(context.Background(), []string{"s-bin"})
	if err != nil || order(plan) != "s" {
		t.Fatalf("split self-dependency: %v %v", plan, err)
	}
}

func TestAURIsAskedInBatches(t *testing.T) {
	s := aurtest.New(t)
	var deps []string
	var pkgs []aurtest.Pkg
	for i := range 300 {
		n := "dependency-number-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "-" + strconv.Itoa(i)
		deps = append(deps, n)
		pkgs = append(pkgs, aurtest.Pkg{Name: n, Version: "1-1"})
	}
	pkgs = append(pkgs, aurtest.Pkg{Name: "top", Version: "1-1", Depends: deps})
	s.Add(pkgs...)
	r := &Resolver{AUR: aur.New(s.URL)}
	plan, err := r.Resolve(context.Background(), []string{"top"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Order) != 301 || plan.Order[300].Name != "top" {
		t.Fatalf("%d bases, last %s", len(plan.Order), plan.Order[len(plan.Order)-1].Name)
	}
	if n := len(s.Requests()); n > 5 {
		t.Errorf("%d requests for 300 dependencies", n)
	}
}

func TestLoadPacman(t *testing.T) {
	root := t.TempDir()
	sync := filepath.Join(root, "sync")
	local := filepath.Join(root, "local")
	os.MkdirAll(sync, 0o755)
	loc := repodb.Location{Dir: sync, Name: "core", Ext: ".tar.gz"}
	err := repodb.Write(loc, []repodb.Entry{{
		Filename: "zlib-1.3.1-1-x86_64.pkg.tar.zst", Name: "zlib", Base: "zlib", Version: "1:1.3.1-1",
		Arch: "x86_64", CSize: 1, ISize: 1, SHA256Sum: strings.Repeat("0", 64), BuildDate: 1, Packager: "x",
		Provides: []string{"libz.so=1-64"},
	}}, repodb.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(local, "foo-2.0-1"), 0o755)
	os.WriteFile(filepath.Join(local, "ALPM_DB_VERSION"), []byte("9\n"), 0o644)
	os.WriteFile(filepath.Join(local, "foo-2.0-1", "desc"), []byte("%NAME%\nfoo\n\n%VERSION%\n2.0-1\n\n%PROVIDES%\nbar=2\n\n"), 0o644)

	pkgs, err := LoadPacman(sync, local)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 2 || pkgs[0].Name != "zlib" || pkgs[0].Provides[0] != "libz.so=1-64" || pkgs[1].Name != "foo" || pkgs[1].Provides[0] != "bar=2" {
		t.Fatalf("%+v", pkgs)
	}
	// No pacman on the machine: nothing, no error.
	if pkgs, err := LoadPacman(filepath.Join(root, "none"), filepath.Join(root, "none2")); err != nil || len(pkgs) != 0 {
		t.Fatal(pkgs, err)
	}
	// An unreadable sync database is an error, never "no packages".
	os.WriteFile(filepath.Join(sync, "broken.db"), nil, 0o644)
	if _, err := LoadPacman(sync, local); err == nil {
		t.Fatal("empty sync database accepted")
	}
}

// TestDirect: the targets without dependencies, grouped by base (a split
// base once), in name order; an unknown name is an error naming it.
func TestDirect(t *testing.T) {
	s := aurtest.New(t)
	s.Add(aurtest.Pkg{Name: "lib", Base: "lib-split", Version: "1.6-1", Depends: []string{"zlib"}},
		aurtest.Pkg{Name: "lib-docs", Base: "lib-split", Version: "1.6-1"},
		aurtest.Pkg{Name: "app", Version: "1-1", Depends: []string{"lib"}})
	plan, err := Direct(context.Background(), aur.New(s.URL), []string{"lib-docs", "app", "lib", "lib"})
	if err != nil {
		t.Fatal(err)
	}
	if got := order(plan); got != "app lib-split" || len(plan.Order[1].Packages) != 2 {
		t.Fatalf("got %q %+v", got, plan.Order)
	}
	if _, err := Direct(context.Background(), aur.New(s.URL), []string{"app", "nosuch"}); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("unknown name: %v", err)
	}
}
