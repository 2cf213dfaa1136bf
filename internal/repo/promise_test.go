package repo

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// pgpSigs returns name -> %PGPSIG% of the database.
func pgpSigs(t *testing.T, r *Repo) map[string]string {
	t.Helper()
	es, err := r.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range es {
		m[e.Name] = e.PGPSig
	}
	return m
}

// TestEmbeddedSignaturesPersist: --include-sigs lasts beyond one command.
// A later change without it keeps what unchanged entries embed, as
// repo-add does; with it, a .sig that appears, changes or disappears after
// registration is picked up by update as a refresh.
func TestEmbeddedSignaturesPersist(t *testing.T) {
	r := newRepo(t)
	embed := Request{EmbedSignatures: true}
	key, other := testutil.NewPGPKey(t, "packager"), testutil.NewPGPKey(t, "other")
	src := t.TempDir()
	a := mkpkg(t, src, "a", "1-1")
	key.SignFile(t, a)
	if _, err := r.Add(ctx, []string{a}, AddOptions{Mode: Copy, Request: embed}); err != nil {
		t.Fatal(err)
	}
	want := base64.StdEncoding.EncodeToString(must(os.ReadFile(a + ".sig")))
	if got := pgpSigs(t, r)["a"]; got != want {
		t.Fatalf("PGPSIG of a = %q, want %q", got, want)
	}
	// An add without --include-sigs keeps a's signature.
	mustAdd(t, r, mkpkg(t, src, "b", "1-1"))
	if got := pgpSigs(t, r)["a"]; got != want {
		t.Fatalf("after add without include-sigs: PGPSIG of a = %q, want %q", got, want)
	}
	// A .sig appearing later is picked up by update with include-sigs.
	b := filepath.Join(r.dir(), "b-1-1-x86_64.pkg.tar.zst")
	key.SignFile(t, b)
	if p, err := r.Status(ctx, nil, embed); err != nil || len(p.Actions) != 1 || p.Actions[0].Kind != ActRefresh || p.Actions[0].Reason != "signature changed" {
		t.Fatalf("status after .sig appeared: %v %+v", err, p)
	}
	if _, err := r.Update(ctx, nil, embed); err != nil {
		t.Fatal(err)
	}
	if got := pgpSigs(t, r)["b"]; got != base64.StdEncoding.EncodeToString(must(os.ReadFile(b+".sig"))) {
		t.Fatalf("PGPSIG of b after update = %q", got)
	}
	// Changed and removed signatures are refreshed too.
	other.SignFile(t, b)
	os.Remove(filepath.Join(r.dir(), "a-1-1-x86_64.pkg.tar.zst.sig"))
	if _, err := r.Update(ctx, nil, embed); err != nil {
		t.Fatal(err)
	}
	got := pgpSigs(t, r)
	if got["a"] != "" || got["b"] != base64.StdEncoding.EncodeToString(must(os.ReadFile(b+".sig"))) {
		t.Fatalf("after change and removal: %q", got)
	}
	// Without include-sigs, update leaves embedded signatures alone.
	key.SignFile(t, b)
	if p, err := r.Status(ctx, nil, Request{}); err != nil || len(p.Actions) != 0 {
		t.Fatalf("status without include-sigs: %v %+v", err, p)
	}
	assertInvariant1(t, r)
}

// TestCrashBetweenSignatureAndPackage kills add after it renamed a .sig
// into place and before its package: recovery must remove the .sig on its
// own (it used to remove it only with its package, leaving an orphan that
// check reported forever). When another file has taken the package's name
// meanwhile, the failed add's .sig must not stay beside that other build.
func TestCrashBetweenSignatureAndPackage(t *testing.T) {
	for _, otherTakesName := range []bool{false, true} {
		r := newRepo(t)
		src := t.TempDir()
		mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
		b := mkpkg(t, src, "b", "1-1")
		testutil.NewPGPKey(t, "packager").SignFile(t, b)
		out, err := helper(r, "add", []string{b}, CrashEnv+"=mid-place-sig").CombinedOutput()
		if err == nil {
			t.Fatalf("crash point not reached:\n%s", out)
		}
		final := filepath.Join(r.dir(), filepath.Base(b))
		if _, err := os.Stat(final + ".sig"); err != nil {
			t.Fatalf("the crash should leave the .sig in place: %v", err)
		}
		if otherTakesName {
			// Another build of the same name and version.
			other, err := pkggen.MakePackage(t.TempDir(), pkggen.Spec{Name: "b", Version: "1-1", NumFiles: 3, FileSize: 99})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, final); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.Check(ctx, true); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(final + ".sig"); !os.IsNotExist(err) {
			t.Errorf("other build %v: the interrupted add's .sig is still there (%v)", otherTakesName, err)
		}
		if otherTakesName {
			if _, err := os.Stat(final); err != nil {
				t.Errorf("the other build was removed: %v", err)
			}
			continue
		}
		assertClean(t, r)
	}
}

// TestDatabaseTemporariesAreLeftovers: the database writer's temporaries
// left by a killed write are reported by check, removed by check --repair,
// and removed by the next change (which holds the lock, so they are dead).
func TestDatabaseTemporariesAreLeftovers(t *testing.T) {
	r := newRepo(t)
	mustAdd(t, r, mkpkg(t, t.TempDir(), "a", "1-1"))
	leftovers := func() []string {
		return []string{
			filepath.Join(r.dir(), ".test.db.tar.zst.tmp-0123456789ab"),
			filepath.Join(r.dir(), ".test.files.tar.zst.tmp-ba9876543210"),
			filepath.Join(r.dir(), ".pacrepo-tmp-0123456789ab-test.db.tar.zst.lck"),
		}
	}
	for _, p := range leftovers() {
		os.WriteFile(p, []byte("half a database"), 0o644)
	}
	rep, err := r.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := countFindings(rep, FindTemporary); n != 3 {
		t.Fatalf("check found %d temporaries, want 3: %+v", n, rep.Findings)
	}
	if _, err := r.Check(ctx, true); err != nil {
		t.Fatal(err)
	}
	for _, p := range leftovers() {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("check --repair left %s", p)
		}
		os.WriteFile(p, []byte("half a database"), 0o644)
	}
	if _, err := r.Update(ctx, nil, Request{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range leftovers() {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("update left %s", p)
		}
	}
	assertClean(t, r)
}

// TestKilledWhileTakingRepoAddLock: a writer killed while making repo-add's
// .lck never leaves it empty (an empty .lck wedged every later command,
// check --repair included, with exit 4).
func TestKilledWhileTakingRepoAddLock(t *testing.T) {
	r := newRepo(t)
	r = withOpts(r, func(o *Options) { o.LockTimeout = 0 })
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
	out, err := helper(r, "add", []string{mkpkg(t, src, "b", "1-1")}, CrashEnv+"=mid-lock").CombinedOutput()
	if err == nil {
		t.Fatalf("crash point not reached:\n%s", out)
	}
	if b, err := os.ReadFile(r.opts.DB.Lockfile()); err == nil && len(b) == 0 {
		t.Fatal("an empty .lck is visible")
	}
	if _, err := r.Check(ctx, true); err != nil {
		t.Fatalf("check --repair after the kill: %v", err)
	}
	if _, err := r.Update(ctx, nil, Request{}); err != nil {
		t.Fatalf("update after the kill: %v", err)
	}
	assertClean(t, r)
}

func countFindings(rep *Report, kind string) int {
	n := 0
	for _, f := range rep.Findings {
		if f.Kind == kind {
			n++
		}
	}
	return n
}

// TestEmptyRepoAddLockIsExplained: an empty .lck is waited for like any
// repo-add lock, and the timeout says what it is and how to clear it.
func TestEmptyRepoAddLockIsExplained(t *testing.T) {
	r := withOpts(newRepo(t), func(o *Options) { o.LockTimeout = 0 })
	os.WriteFile(r.opts.DB.Lockfile(), nil, 0o644)
	_, err := r.Update(ctx, nil, Request{})
	var lt *LockTimeoutError
	if !errors.As(err, &lt) || !strings.Contains(lt.Holder, "empty lock file") || !strings.Contains(lt.Holder, "remove "+r.opts.DB.Lockfile()) {
		t.Fatalf("got %v", err)
	}
}

// TestResetKeepsEntriesOfUnreadableFiles: a registered file that is present
// but cannot be read (here a FIFO put in its place; chmod 000 too when not
// root) keeps its entry through reset, update and add.
func TestResetKeepsEntriesOfUnreadableFiles(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
	a := filepath.Join(r.dir(), "a-1-1-x86_64.pkg.tar.zst")
	saved := filepath.Join(t.TempDir(), "a")
	if os.Getuid() == 0 {
		os.Rename(a, saved)
		if err := syscall.Mkfifo(a, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		os.Chmod(a, 0)
	}
	// An add of another package does not look at a's file at all.
	for _, op := range []struct {
		run      func() (*Result, error)
		problems int
	}{
		{func() (*Result, error) { return r.Reset(ctx, Request{}) }, 1},
		{func() (*Result, error) { return r.Update(ctx, nil, Request{}) }, 1},
		{func() (*Result, error) {
			return r.Add(ctx, []string{mkpkg(t, src, "c", "1-1")}, AddOptions{Mode: Copy})
		}, 0},
	} {
		res, err := op.run()
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Plan.Problems) != op.problems {
			t.Errorf("problems: %+v", res.Plan.Problems)
		}
		if registered(t, r)["a"] != "1-1" {
			t.Fatalf("the entry of the unreadable file was dropped: %v", registered(t, r))
		}
	}
	if os.Getuid() == 0 {
		os.Remove(a)
		os.Rename(saved, a)
	} else {
		os.Chmod(a, 0o644)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
}

// TestBackupDirThroughLinkToRepository: a backup directory that is the
// repository directory under another name never receives retired files and
// never has anything pruned: the retired file stays, the registered file
// stays, and the error says why.
func TestBackupDirThroughLinkToRepository(t *testing.T) {
	r := newRepo(t)
	alias := filepath.Join(t.TempDir(), "alias")
	if err := os.Symlink(r.dir(), alias); err != nil {
		t.Fatal(err)
	}
	r = withOpts(r, func(o *Options) { o.BackupDir, o.KeepBackups = alias, 1 })
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
	have := contents(t, r.dir(), src)
	_, err := r.Add(ctx, []string{mkpkg(t, src, "a", "2-1")}, AddOptions{Mode: Copy})
	if err == nil || !strings.Contains(err.Error(), "is the repository directory") {
		t.Fatalf("got %v", err)
	}
	if registered(t, r)["a"] != "2-1" {
		t.Fatalf("registered %v", registered(t, r))
	}
	assertInvariant1(t, r)
	assertNothingLost(t, have, contents(t, r.dir(), src))
	if _, err := os.Stat(filepath.Join(r.dir(), "a-1-1-x86_64.pkg.tar.zst")); err != nil {
		t.Fatalf("the retired file was lost: %v", err)
	}
}

// TestAddThroughSymlinks: add reads through symbolic links. add -m of a
// link used to move the link itself (a relative one then dangled in the
// repository), and a link to the repository's own registered file got that
// file retired and deleted.
func TestAddThroughSymlinks(t *testing.T) {
	for _, mode := range []AddMode{Copy, Move, Link} {
		r := newRepo(t)
		src := t.TempDir()
		build := filepath.Join(src, "build")
		inbox := filepath.Join(src, "inbox")
		os.Mkdir(inbox, 0o755)
		os.Mkdir(build, 0o755)
		mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
		registeredA := filepath.Join(r.dir(), "a-1-1-x86_64.pkg.tar.zst")
		have := contents(t, r.dir(), src)

		// A link to the registered file itself: nothing changes.
		os.Symlink(registeredA, filepath.Join(inbox, "a.pkg.tar.zst"))
		if _, err := r.Add(ctx, []string{filepath.Join(inbox, "a.pkg.tar.zst")}, AddOptions{Mode: mode}); err != nil {
			t.Fatalf("mode %d: add of a link to the registered file: %v", mode, err)
		}
		if _, err := os.Stat(registeredA); err != nil {
			t.Fatalf("mode %d: the registered file was lost: %v", mode, err)
		}
		if _, err := os.Lstat(filepath.Join(r.dir(), "a.pkg.tar.zst")); !os.IsNotExist(err) {
			t.Fatalf("mode %d: a second name was placed for the registered file: %v", mode, err)
		}
		assertInvariant1(t, r)
		assertClean(t, r)

		// A relative link to a newer build outside.
		b := mkpkg(t, build, "a", "2-1")
		rel, _ := filepath.Rel(inbox, b)
		link := filepath.Join(inbox, "a-2-1-x86_64.pkg.tar.zst")
		os.Symlink(rel, link)
		if _, err := r.Add(ctx, []string{link}, AddOptions{Mode: mode}); err != nil {
			t.Fatalf("mode %d: add of a relative link: %v", mode, err)
		}
		placed := filepath.Join(r.dir(), "a-2-1-x86_64.pkg.tar.zst")
		if mode == Link {
			if target, err := os.Readlink(placed); err != nil || target != link {
				t.Fatalf("link mode: %s -> %q, %v", placed, target, err)
			}
		} else if fi, err := os.Lstat(placed); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("mode %d: placed %v, %v: want a regular file", mode, fi, err)
		}
		if _, err := os.Stat(b); err != nil {
			t.Fatalf("mode %d: the link's target was removed: %v", mode, err)
		}
		if _, err := os.Lstat(link); (mode == Move) != os.IsNotExist(err) {
			t.Fatalf("mode %d: link after add: %v", mode, err)
		}
		if registered(t, r)["a"] != "2-1" {
			t.Fatalf("mode %d: registered %v", mode, registered(t, r))
		}
		assertInvariant1(t, r)
		assertClean(t, r)
		assertNothingLost(t, have, contents(t, r.dir(), src))
	}
}

// TestAddPlacesOnlyPackageNames: a valid package given under a name that is
// not a package file name of the repository (no .pkg.tar, a temporary
// name, a dot-file, the database's or pacrepo's own names) is placed under
// its canonical name; it used to be placed as given, retire the other
// versions, and be unregistered by the next update.
func TestAddPlacesOnlyPackageNames(t *testing.T) {
	names := []string{"foo-2.tar.zst", "foo", "foo-2-1-any.pkg.tar.zst.part", "foo.pkg.tar.zst~",
		"foo.tmp", ".foo-2-1-x86_64.pkg.tar.zst", ".test.pacrepo.cache", ".test.pacrepo.journal",
		"test.db.tar.zst", "test.files", "foo-2-1-x86_64.pkg.tar.zst.sig"}
	for _, name := range names {
		for _, mode := range []AddMode{Copy, Move} {
			r := newRepo(t)
			src := t.TempDir()
			mustAdd(t, r, mkpkg(t, src, "foo", "1-1"))
			given := filepath.Join(t.TempDir(), name)
			os.Rename(mkpkg(t, src, "foo", "2-1"), given)
			pkgSHA := fileSHA(t, given)
			res, err := r.Add(ctx, []string{given}, AddOptions{Mode: mode})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			canonical := "foo-2-1-x86_64.pkg.tar.zst"
			if res.Plan.Actions[0].Reason != map[AddMode]string{Copy: "copy", Move: "move"}[mode]+" into the repository as "+canonical {
				t.Errorf("%s: plan says %q", name, res.Plan.Actions[0].Reason)
			}
			if _, err := os.Stat(filepath.Join(r.dir(), canonical)); err != nil {
				t.Fatalf("%s: not placed under its canonical name: %v", name, err)
			}
			if _, err := os.Stat(filepath.Join(r.dir(), name)); err == nil && fileSHA(t, filepath.Join(r.dir(), name)) == pkgSHA {
				t.Fatalf("%s: placed under the given name", name)
			}
			if _, err := r.Update(ctx, nil, Request{}); err != nil {
				t.Fatal(err)
			}
			if registered(t, r)["foo"] != "2-1" {
				t.Fatalf("%s: registered %v", name, registered(t, r))
			}
			assertInvariant1(t, r)
			assertClean(t, r)
		}
	}
	// A file of the repository directory under a bad name is placed under
	// its canonical name; moving removes the bad name.
	r := newRepo(t)
	mustAdd(t, r, mkpkg(t, t.TempDir(), "foo", "1-1"))
	upload := filepath.Join(r.dir(), "upload-123.tmp")
	os.Rename(mkpkg(t, t.TempDir(), "foo", "2-1"), upload)
	if _, err := r.Add(ctx, []string{upload}, AddOptions{Mode: Move}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(upload); !os.IsNotExist(err) || registered(t, r)["foo"] != "2-1" {
		t.Fatalf("upload left: %v; registered %v", err, registered(t, r))
	}
	assertClean(t, r)
}

// TestRetirementModes: every retirement mode (backup directory, keep in
// place, delete) for add, update and remove, with and without keep_backups.
// Keep-in-place (backup_dir "" or ".") used to delete retired files.
func TestRetirementModes(t *testing.T) {
	type mode struct {
		name string
		set  func(o *Options, backup string)
	}
	modes := []mode{
		{"backup", func(o *Options, backup string) { o.BackupDir = backup }},
		{"keep", func(o *Options, _ string) { o.RetireInPlace = true }},
		{"delete", func(*Options, string) {}},
	}
	// retireVia makes version ver of foo replace (or, for remove, drop)
	// the registered one.
	ops := map[string]func(t *testing.T, r *Repo, src, ver string){
		"add": func(t *testing.T, r *Repo, src, ver string) {
			mustAdd(t, r, mkpkg(t, src, "foo", ver))
		},
		"update": func(t *testing.T, r *Repo, src, ver string) {
			mkpkg(t, r.dir(), "foo", ver)
			if _, err := r.Update(ctx, nil, Request{}); err != nil {
				t.Fatal(err)
			}
		},
		"remove": func(t *testing.T, r *Repo, src, ver string) {
			if _, err := r.Remove(ctx, []string{"foo"}, Request{}); err != nil {
				t.Fatal(err)
			}
			mustAdd(t, r, mkpkg(t, src, "foo", ver))
		},
	}
	for _, m := range modes {
		for opName, op := range ops {
			for _, keep := range []int{0, 1} {
				t.Run(fmt.Sprintf("%s/%s/keep%d", m.name, opName, keep), func(t *testing.T) {
					backup := filepath.Join(t.TempDir(), "backup")
					r := withOpts(newRepo(t), func(o *Options) { m.set(o, backup); o.KeepBackups = keep })
					src := t.TempDir()
					mustAdd(t, r, mkpkg(t, src, "bar", "1-1"), mkpkg(t, src, "foo", "1-1"))
					op(t, r, src, "2-1")
					op(t, r, src, "3-1")
					retired := map[string]bool{"foo-1-1-x86_64.pkg.tar.zst": true, "foo-2-1-x86_64.pkg.tar.zst": true}
					if keep == 1 {
						retired["foo-1-1-x86_64.pkg.tar.zst"] = false // pruned: only the newest is kept
					}
					where := map[string]string{"backup": backup, "keep": r.dir()}[m.name]
					for f, want := range retired {
						_, err := os.Stat(filepath.Join(where, f))
						if got := err == nil; where != "" && got != want {
							t.Errorf("%s in %s: present %v, want %v", f, where, got, want)
						}
						if m.name != "keep" {
							if _, err := os.Stat(filepath.Join(r.dir(), f)); err == nil {
								t.Errorf("%s is still in the repository", f)
							}
						}
					}
					if got := registered(t, r); got["foo"] != "3-1" || got["bar"] != "1-1" {
						t.Fatalf("registered %v", got)
					}
					// Nothing pending, nothing to report, for every mode.
					if p, err := r.Status(ctx, nil, Request{}); err != nil || len(p.Actions) != 0 {
						t.Fatalf("status after retirement: %v %q", err, short(p))
					}
					assertInvariant1(t, r)
					assertClean(t, r)
					if m.name == "keep" && opName == "remove" {
						// Removed in keep-in-place mode: the file stays and
						// update does not bring it back.
						if _, err := r.Remove(ctx, []string{"foo"}, Request{}); err != nil {
							t.Fatal(err)
						}
						if _, err := r.Update(ctx, nil, Request{}); err != nil {
							t.Fatal(err)
						}
						if got := registered(t, r); got["foo"] != "" {
							t.Fatalf("update registered the removed foo again: %v", got)
						}
						if _, err := os.Stat(filepath.Join(r.dir(), "foo-3-1-x86_64.pkg.tar.zst")); err != nil {
							t.Fatalf("removed file not kept: %v", err)
						}
						assertClean(t, r)
						// An explicit add registers a kept file again.
						mustAdd(t, r, filepath.Join(r.dir(), "foo-3-1-x86_64.pkg.tar.zst"))
						if got := registered(t, r); got["foo"] != "3-1" {
							t.Fatalf("add of a kept file: %v", got)
						}
						assertClean(t, r)
					}
				})
			}
		}
	}
}

// TestVersionsPacmanCannotSplit: a .PKGINFO version without -pkgrel, or
// with another '-', used to be registered, and real pacman then refused the
// whole database: clients saw an empty repository. Such packages are
// corrupt now, in add, update and reset, and never hide the others.
func TestVersionsPacmanCannotSplit(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "good", "1-1"), mkpkg(t, src, "my-pkg", "2.0-1"))
	bad := map[string]string{"norel": "1.0", "my-norel": "1.0", "dashes": "1.0-1-2", "emptyrel": "1.0-", "epoch": "x:1-1"}
	for name, ver := range bad {
		p, err := pkggen.MakePackage(src, pkggen.Spec{Name: name, Version: ver, NumFiles: 1, FileSize: 8})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Add(ctx, []string{p}, AddOptions{Mode: Copy}); err == nil {
			t.Errorf("add of version %q succeeded", ver)
		}
		dst := filepath.Join(r.dir(), name+"-dropped.pkg.tar.zst")
		os.Link(p, dst)
	}
	for _, op := range []func() (*Result, error){
		func() (*Result, error) { return r.Update(ctx, nil, Request{}) },
		func() (*Result, error) { return r.Reset(ctx, Request{}) },
	} {
		res, err := op()
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Plan.Problems) != len(bad) {
			t.Errorf("problems: %+v", res.Plan.Problems)
		}
		for _, p := range res.Plan.Problems {
			if p.Kind != pkgfile.Corrupt {
				t.Errorf("%s: kind %s, want corrupt", p.Path, p.Kind)
			}
		}
	}
	want := map[string]string{"good": "1-1", "my-pkg": "2.0-1"}
	if got := registered(t, r); !reflect.DeepEqual(got, want) {
		t.Fatalf("registered %v, want %v", got, want)
	}
	pm := testutil.NewPacman(t, map[string]string{"test": r.dir()})
	pm.MustRun("-Syy")
	if got := pm.Sync("test"); len(got) != len(want) {
		t.Errorf("pacman -Sl lists %q, want %v", got, want)
	}
}

// TestAddOnlyNewAndPreventDowngrade: repo-add's --new and
// --prevent-downgrade leave files out, as skip actions, and add the rest.
func TestAddOnlyNewAndPreventDowngrade(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "2-1"))
	older, newer, fresh := mkpkg(t, t.TempDir(), "a", "1-1"), mkpkg(t, t.TempDir(), "a", "3-1"), mkpkg(t, src, "b", "1-1")
	res, err := r.Add(ctx, []string{older, fresh}, AddOptions{PreventDowngrade: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan.Actions[0].Kind != ActSkip || registered(t, r)["a"] != "2-1" || registered(t, r)["b"] != "1-1" {
		t.Fatalf("prevent-downgrade: %q %v", short(res.Plan), registered(t, r))
	}
	if _, err := r.Add(ctx, []string{newer}, AddOptions{OnlyNew: true}); err != nil || registered(t, r)["a"] != "2-1" {
		t.Fatalf("--new: %v %v", err, registered(t, r))
	}
	if _, err := r.Add(ctx, []string{newer}, AddOptions{PreventDowngrade: true}); err != nil || registered(t, r)["a"] != "3-1" {
		t.Fatalf("an upgrade with --prevent-downgrade: %v %v", err, registered(t, r))
	}
	assertClean(t, r)
}

// TestRemoveUnknownInNewRepository: found by TestStateful. A remove of an
// unknown name in a repository without a database panicked after
// Result.Created was added (it read the nil plan of the refused remove).
func TestRemoveUnknownInNewRepository(t *testing.T) {
	r := newRepo(t)
	var unknown *UnknownPackageError
	if _, err := r.Remove(ctx, []string{"nosuch"}, Request{}); !errors.As(err, &unknown) {
		t.Fatalf("got %v", err)
	}
}
