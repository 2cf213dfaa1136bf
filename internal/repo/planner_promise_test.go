package repo

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// mkbuild writes the package name ver for arch into dir and returns its path.
func mkbuild(t testing.TB, dir, name, ver, arch string) string {
	t.Helper()
	p, err := pkggen.MakePackage(dir, pkggen.Spec{Name: name, Version: ver, Arch: arch, NumFiles: 2, FileSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSecondDatabaseInDirectory: a repository named by its database path
// in a directory that holds another repository's database changes
// nothing. Updating other.db used to retire (delete) foo 1.0-1, which
// test.db registers, as obsolete beside other.db's foo 2.0-1.
func TestSecondDatabaseInDirectory(t *testing.T) {
	r := newRepo(t)
	mustAdd(t, r, mkpkg(t, t.TempDir(), "foo", "1.0-1"))
	// other.db registers foo 2.0-1 and bar; its files are moved into the
	// directory of test.db.
	otherDir := t.TempDir()
	other := New(Options{DB: repodb.Location{Dir: otherDir, Name: "other", Ext: ".tar.zst"}, LockTimeout: 20 * time.Second})
	mustAdd(t, other, mkpkg(t, t.TempDir(), "foo", "2.0-1"), mkpkg(t, t.TempDir(), "bar", "1.0-1"))
	for _, name := range []string{"other.db.tar.zst", "other.files.tar.zst", "foo-2.0-1-x86_64.pkg.tar.zst", "bar-1.0-1-x86_64.pkg.tar.zst"} {
		if err := os.Rename(filepath.Join(otherDir, name), filepath.Join(r.dir(), name)); err != nil {
			t.Fatal(err)
		}
	}
	other = withOpts(other, func(o *Options) { o.DB.Dir = r.dir() })
	before := listing(t, r.dir())

	changes := map[string]func(*Repo) error{
		"update": func(x *Repo) error { _, err := x.Update(ctx, nil, Request{}); return err },
		"update foo": func(x *Repo) error {
			_, err := x.Update(ctx, []string{"foo"}, Request{})
			return err
		},
		"status": func(x *Repo) error { _, err := x.Status(ctx, nil, Request{}); return err },
		"dry run": func(x *Repo) error {
			_, err := x.Update(ctx, nil, Request{DryRun: true})
			return err
		},
		"remove": func(x *Repo) error { _, err := x.Remove(ctx, []string{"foo"}, Request{}); return err },
		"reset":  func(x *Repo) error { _, err := x.Reset(ctx, Request{Force: true}); return err },
		"add": func(x *Repo) error {
			_, err := x.Add(ctx, []string{mkpkg(t, t.TempDir(), "foo", "3.0-1")}, AddOptions{Mode: Copy})
			return err
		},
	}
	for _, x := range []*Repo{other, r} {
		for what, change := range changes {
			err := change(x)
			var shared *SharedDirectoryError
			if !errors.As(err, &shared) || !strings.Contains(err.Error(), "other.db.tar.zst") || !strings.Contains(err.Error(), "test.db.tar.zst") {
				t.Errorf("%s %s: %v, want both databases named", x.opts.DB.Name, what, err)
			}
		}
	}
	if after := listing(t, r.dir()); !reflect.DeepEqual(after, before) {
		t.Errorf("the directory changed:\nbefore %v\nafter  %v", before, after)
	}
	if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"foo": "1.0-1"}) {
		t.Errorf("test.db registers %v", got)
	}
	assertInvariant1(t, r)
	assertInvariant1(t, other)
	rep, err := r.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) == 0 || rep.Findings[0].Kind != FindSharedDirectory {
		t.Errorf("check: %+v", rep.Findings)
	}
}

// TestIgnorePatternsNeverHideRegistered: ignore_patterns that match
// package files hide uploads, never what the database registers. update
// used to unregister every matching package (exit 0) and check found
// nothing wrong.
func TestIgnorePatternsNeverHideRegistered(t *testing.T) {
	key := testutil.NewPGPKey(t, "packager")
	for _, pat := range []string{"*", "*.zst", "*-debug-*", "*.sig"} {
		t.Run(pat, func(t *testing.T) {
			r := newRepo(t)
			src := t.TempDir()
			a, dbg := mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "a-debug", "1-1")
			key.SignFile(t, a)
			embed := Request{EmbedSignatures: true}
			if _, err := r.Add(ctx, []string{a, dbg}, AddOptions{Mode: Copy, Request: embed}); err != nil {
				t.Fatal(err)
			}
			sigs := pgpSigs(t, r)
			r = withOpts(r, func(o *Options) { o.IgnorePatterns = []string{pat} })
			for _, req := range []Request{{}, embed} {
				p, err := r.Status(ctx, nil, req)
				if err != nil || len(p.Actions) != 0 {
					t.Fatalf("status: %v %q", err, short(p))
				}
				if _, err := r.Update(ctx, nil, req); err != nil {
					t.Fatal(err)
				}
			}
			if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"a": "1-1", "a-debug": "1-1"}) {
				t.Fatalf("registered %v", got)
			}
			if got := pgpSigs(t, r); !reflect.DeepEqual(got, sigs) {
				t.Errorf("embedded signatures %v, were %v", got, sigs)
			}
			assertInvariant1(t, r)
			assertClean(t, r)
			// What is not registered stays ignored.
			mkpkg(t, r.dir(), "b-debug", "1-1")
			if _, err := r.Update(ctx, nil, Request{}); err != nil {
				t.Fatal(err)
			}
			if _, ok := registered(t, r)["b-debug"]; ok && pat != "*.sig" {
				t.Errorf("an ignored file was registered")
			}
		})
	}
}

// TestSameVersionOtherBuildsStay: files of the registered version for
// other architectures (or compressions) are not obsolete. reset used to
// register the aarch64 build and update then delete the x86_64 and any
// builds; add of the any build deleted the registered x86_64 one.
func TestSameVersionOtherBuildsStay(t *testing.T) {
	r := newRepo(t)
	var builds []string
	for _, arch := range []string{"x86_64", "any", "aarch64"} {
		builds = append(builds, filepath.Base(mkbuild(t, r.dir(), "sp", "1.0-1", arch)))
	}
	older := filepath.Base(mkpkg(t, r.dir(), "sp", "0.9-1"))
	if _, err := r.Reset(ctx, Request{}); err != nil {
		t.Fatal(err)
	}
	p, err := r.Update(ctx, nil, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if got := short(p.Plan); !reflect.DeepEqual(got, []string{"retire sp " + older}) {
		t.Errorf("update: %q, want only the older version retired", got)
	}
	if got := duplicates(p.Plan); len(got) != 2 {
		t.Errorf("update reports %q as second files of the version", got)
	}
	for _, b := range builds {
		if _, err := os.Stat(filepath.Join(r.dir(), b)); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	assertInvariant1(t, r)
	rep, err := r.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rep.Findings); n != 2 || rep.Findings[0].Kind != FindDuplicate {
		t.Errorf("check: %+v, want two duplicates", rep.Findings)
	}

	// add of another build of the registered version registers it, as the
	// user asked, and keeps the file registered before.
	r = newRepo(t)
	mustAdd(t, r, mkbuild(t, t.TempDir(), "sp", "1.0-1", "x86_64"))
	res, err := r.Add(ctx, []string{mkbuild(t, t.TempDir(), "sp", "1.0-1", "any")}, AddOptions{Mode: Copy})
	if err != nil {
		t.Fatal(err)
	}
	if got := duplicates(res.Plan); !reflect.DeepEqual(got, []string{filepath.Join(r.dir(), "sp-1.0-1-x86_64.pkg.tar.zst")}) {
		t.Errorf("add reports %q", got)
	}
	es, err := r.Entries(ctx)
	if err != nil || len(es) != 1 || es[0].Filename != "sp-1.0-1-any.pkg.tar.zst" {
		t.Fatalf("entries %+v %v", es, err)
	}
	if _, err := os.Stat(filepath.Join(r.dir(), "sp-1.0-1-x86_64.pkg.tar.zst")); err != nil {
		t.Errorf("the build registered before: %v", err)
	}
	// A newer version retires both.
	mustAdd(t, r, mkpkg(t, t.TempDir(), "sp", "1.1-1"))
	if got := pkgNames(listing(t, r.dir())); !reflect.DeepEqual(got, []string{"sp-1.1-1-x86_64.pkg.tar.zst"}) {
		t.Errorf("after the upgrade: %q", got)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
}

// TestAddPlacesUnderCanonicalName: a file whose name says another package
// or version is placed under its canonical name. It used to be placed as
// named, and then the real file of that name was refused as a collision
// that remove could not mend.
func TestAddPlacesUnderCanonicalName(t *testing.T) {
	for _, holds := range []struct{ name, ver string }{{"other", "1.0-1"}, {"sp", "1.0-1"}} {
		r := newRepo(t)
		misnamed := filepath.Join(t.TempDir(), "sp-2.0-1-x86_64.pkg.tar.zst")
		if err := os.Rename(mkpkg(t, t.TempDir(), holds.name, holds.ver), misnamed); err != nil {
			t.Fatal(err)
		}
		mustAdd(t, r, misnamed)
		canonical := holds.name + "-" + holds.ver + "-x86_64.pkg.tar.zst"
		if got := pkgNames(listing(t, r.dir())); !reflect.DeepEqual(got, []string{canonical}) {
			t.Fatalf("%s %s: placed as %q, want %s", holds.name, holds.ver, got, canonical)
		}
		mustAdd(t, r, mkpkg(t, t.TempDir(), "sp", "2.0-1"))
		if got := registered(t, r); got["sp"] != "2.0-1" {
			t.Errorf("%s %s: registered %v", holds.name, holds.ver, got)
		}
		assertInvariant1(t, r)
		assertClean(t, r)
	}
}

// TestRecoveryKeepsSameVersionBuild: recovery retires only what invariant
// 2 allows. A journal that claims the retirement of another build of the
// registered version (as earlier planners wrote them) leaves that build
// in place, and still retires the older version. It used to delete both.
func TestRecoveryKeepsSameVersionBuild(t *testing.T) {
	r := newRepo(t)
	mustAdd(t, r, mkbuild(t, t.TempDir(), "sp", "1.0-1", "x86_64"))
	anyBuild, older := mkbuild(t, r.dir(), "sp", "1.0-1", "any"), mkpkg(t, r.dir(), "sp", "0.9-1")
	es, err := r.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var retire []journalRetire
	for _, p := range []string{anyBuild, older} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		retire = append(retire, journalRetire{File: filepath.Base(p), Size: fi.Size(), MTimeNS: fi.ModTime().UnixNano()})
	}
	if err := r.writeJournal(&journal{Version: 1, Command: "update", PID: 1, Started: time.Now(),
		After: []journalEntry{{Name: "sp", Filename: es[0].Filename, SHA256: es[0].SHA256Sum}}, Retire: retire}); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Check(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) == 0 || !strings.Contains(rep.Findings[0].Detail, "not obsolete") {
		t.Errorf("check --repair: %+v", rep.Findings)
	}
	if _, err := os.Stat(anyBuild); err != nil {
		t.Errorf("the other build of the registered version: %v", err)
	}
	if _, err := os.Stat(older); !os.IsNotExist(err) {
		t.Errorf("the older version was not retired: %v", err)
	}
	assertInvariant1(t, r)
}

// TestCollisionNamesWhatAMisnamedFileHolds: a misnamed file already in the
// directory (put there by hand) stands in the way of the real file of its
// name; the refusal says what it holds, since removing the package its name
// says would not take it away.
func TestCollisionNamesWhatAMisnamedFileHolds(t *testing.T) {
	r := newRepo(t)
	if err := os.Rename(mkpkg(t, t.TempDir(), "other", "1.0-1"), filepath.Join(r.dir(), "sp-2.0-1-x86_64.pkg.tar.zst")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update(ctx, nil, Request{}); err != nil {
		t.Fatal(err)
	}
	_, err := r.Add(ctx, []string{mkpkg(t, t.TempDir(), "sp", "2.0-1")}, AddOptions{Mode: Copy})
	var collision *CollisionError
	if !errors.As(err, &collision) || collision.Holds != "other 1.0-1" || !strings.Contains(err.Error(), "holds other 1.0-1") {
		t.Fatalf("add: %v", err)
	}
}
