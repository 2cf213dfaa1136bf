package repo

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// mkdebug writes the debug package of pkgbase base, as makepkg names and
// describes it.
func mkdebug(t testing.TB, dir, base, ver string) string {
	t.Helper()
	p, err := pkggen.MakePackage(dir, pkggen.Spec{Name: base + "-debug", Base: base, Version: ver,
		Desc: "Detached debugging symbols for " + base, NumFiles: 1, FileSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIsDebugPackage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, base, desc string
		want             bool
	}{
		{"foo-debug", "foo", "Detached debugging symbols for foo", true},
		{"pair-debug", "pair", "Detached debugging symbols for pair-a pair-b", true},
		{"foo-debug", "foo-debug", "Detached debugging symbols for foo", false}, // its own pkgbase
		{"foo-debug", "foo", "A debugging front end for foo", false},            // a package of foo's, not its symbols
		{"foo-debug", "", "Detached debugging symbols for foo", false},
		{"foo", "foo", "Detached debugging symbols for foo", false},
		{"bar-debug", "foo", "Detached debugging symbols for foo", false},
	} {
		if got := IsDebugPackage(c.name, c.base, c.desc); got != c.want {
			t.Errorf("IsDebugPackage(%q, %q, %q) = %v", c.name, c.base, c.desc, got)
		}
	}
}

// TestRouteDebugPackages sorts what real makepkg made with its debug
// option, and packages that only look like debug packages; a file whose
// .PKGINFO cannot be read (never blocking on a FIFO), or an upload that is
// a link, is unreadable.
func TestRouteDebugPackages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dbg, dbgDebug := testutil.ELFFixture(t, "dbg-1-1-x86_64.pkg.tar.zst"), testutil.ELFFixture(t, "dbg-debug-1-1-x86_64.pkg.tar.zst")
	crafted := mkdebug(t, dir, "foo", "1-1")
	ordinary, err := pkggen.MakePackage(dir, pkggen.Spec{Name: "tool-debug", Version: "1-1"})
	if err != nil {
		t.Fatal(err)
	}
	broken := mkdebug(t, t.TempDir(), "bar", "1-1")
	if err := os.Truncate(broken, 20); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), filepath.Base(crafted))
	if err := os.Symlink(crafted, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo-debug-1-1-x86_64.pkg.tar.zst")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	got := RouteDebugPackages([]string{dbg, dbgDebug, crafted, ordinary, broken, link, fifo}, false)
	want := DebugRoute{Debug: []string{dbgDebug, crafted, link}, Rest: []string{dbg, ordinary}, Unreadable: []string{broken, fifo}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got := RouteDebugPackages([]string{link}, true); !reflect.DeepEqual(got, DebugRoute{Unreadable: []string{link}}) {
		t.Errorf("an uploaded link: %+v", got)
	}
}

// TestPromoteWithDebug: the debug package of each promoted pkgbase, at the
// version promoted, moves from the source's debug repository to the
// target's; without a target's debug repository it stays; a dry run
// changes nothing.
func TestPromoteWithDebug(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	source, target, sourceDebug, targetDebug := newRepo(t), newRepo(t), newRepo(t), newRepo(t)
	mustAdd(t, source, mkpkg(t, src, "a", "2-1"), mkpkg(t, src, "b", "1-1"), mkpkg(t, src, "c", "1-1"))
	// b's symbols are of another build than the b promoted: they stay.
	mustAdd(t, sourceDebug, mkdebug(t, src, "a", "2-1"), mkdebug(t, src, "b", "0.9-1"), mkdebug(t, src, "c", "1-1"))

	files, debug, err := source.PromoteWithDebug(ctx, target, sourceDebug, targetDebug, PromoteRequest{Request: Request{DryRun: true}, Names: []string{"a", "b"}})
	if err != nil || len(files) != 2 || len(debug.Files) != 1 || debug.Files[0].Name != "a-debug" {
		t.Fatalf("dry run: %+v %+v %v", files, debug, err)
	}
	if got := registered(t, targetDebug); len(got) != 0 {
		t.Fatalf("a dry run changed the target's debug repository: %v", got)
	}

	if _, debug, err = source.PromoteWithDebug(ctx, target, sourceDebug, targetDebug, PromoteRequest{Names: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	if len(debug.Files) != 1 || len(debug.Left) != 0 {
		t.Errorf("debug promotion: %+v", debug)
	}
	if got, want := registered(t, target), map[string]string{"a": "2-1", "b": "1-1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("target: %v", got)
	}
	if got, want := registered(t, targetDebug), map[string]string{"a-debug": "2-1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("target's debug repository: %v", got)
	}
	if got, want := registered(t, sourceDebug), map[string]string{"b-debug": "0.9-1", "c-debug": "1-1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("source's debug repository: %v", got)
	}

	// A target that shares the source's debug repository: nothing of it
	// moves.
	shared := newRepo(t)
	if _, debug, err = source.PromoteWithDebug(ctx, shared, sourceDebug, sourceDebug, PromoteRequest{Names: []string{"c"}, Copy: true}); err != nil || debug != nil {
		t.Errorf("to a target sharing the debug repository: %+v %v", debug, err)
	}
	if registered(t, shared)["c"] != "1-1" || registered(t, sourceDebug)["c-debug"] != "1-1" {
		t.Errorf("c: %v, c-debug: %v", registered(t, shared), registered(t, sourceDebug))
	}

	// A target without a debug repository: c's symbols stay, said so.
	other := newRepo(t)
	_, debug, err = source.PromoteWithDebug(ctx, other, sourceDebug, nil, PromoteRequest{Names: []string{"c"}})
	if err != nil || len(debug.Files) != 0 || len(debug.Left) != 1 || debug.Left[0].Name != "c-debug" {
		t.Errorf("to a target without a debug repository: %+v %v", debug, err)
	}
	if registered(t, other)["c"] != "1-1" || registered(t, sourceDebug)["c-debug"] != "1-1" {
		t.Errorf("c: %v, c-debug: %v", registered(t, other), registered(t, sourceDebug))
	}
	for _, r := range []*Repo{source, target, sourceDebug, targetDebug, other} {
		if p, err := r.PendingPromotion(); p != nil || err != nil {
			t.Errorf("%s: promotion pending: %+v %v", r.dir(), p, err)
		}
		assertInvariant1(t, r)
	}
}

// TestPromoteWithDebugCrash kills a promotion that moves debug packages
// along at its steps: each package is in one repository or both, never in
// neither; once both intents are written, finishing each source's pending
// promotion (what the next change of the source does) moves both.
func TestPromoteWithDebugCrash(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"promote-intent", "promote-debug-intent", "promote-registered", "promote-unregistered"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			src := t.TempDir()
			source, target, sourceDebug, targetDebug := newRepo(t), newRepo(t), newRepo(t), newRepo(t)
			mustAdd(t, source, mkpkg(t, src, "a", "1-1"))
			mustAdd(t, sourceDebug, mkdebug(t, src, "a", "1-1"))
			have := contents(t, source.dir(), sourceDebug.dir())
			out, err := helper(source, "promote-debug", []string{target.dir(), sourceDebug.dir(), targetDebug.dir(), "a"}, CrashEnv+"="+point).CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
				t.Fatalf("promotion not killed at %s: %v\n%s", point, err, out)
			}
			never := func(when string) {
				t.Helper()
				if registered(t, source)["a"] == "" && registered(t, target)["a"] == "" {
					t.Errorf("%s: a is in neither repository", when)
				}
				if registered(t, sourceDebug)["a-debug"] == "" && registered(t, targetDebug)["a-debug"] == "" {
					t.Errorf("%s: a-debug is in neither debug repository", when)
				}
				assertNothingLost(t, have, contents(t, source.dir(), target.dir(), sourceDebug.dir(), targetDebug.dir()))
			}
			never("after the crash")
			if err := finishPendingTo(ctx, source.PromotionStore(), target.PromotionStore()); err != nil {
				t.Fatal(err)
			}
			if err := finishPendingTo(ctx, sourceDebug.PromotionStore(), targetDebug.PromotionStore()); err != nil {
				t.Fatal(err)
			}
			never("after recovery")
			if got := registered(t, target); got["a"] != "1-1" {
				t.Errorf("after recovery, the target registers %v", got)
			}
			// A crash before the debug intent was written leaves the
			// debug package in the source's debug repository.
			if got := registered(t, targetDebug); point != "promote-intent" && got["a-debug"] != "1-1" {
				t.Errorf("after recovery, the target's debug repository registers %v", got)
			}
			for _, r := range []*Repo{source, target, sourceDebug, targetDebug} {
				if _, err := os.Stat(r.opts.DB.DBPath()); err == nil {
					assertInvariant1(t, r)
				}
			}
		})
	}
}
