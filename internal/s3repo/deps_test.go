package s3repo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/deps"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// problemNeeds are the problems of rep, as "PACKAGE KIND NEEDS".
func problemNeeds(rep deps.Report) []string {
	var out []string
	for _, p := range rep.Problems {
		out = append(out, p.Package+" "+p.Kind+" "+p.Needs)
	}
	return out
}

// judgeBucket judges the packages of r as check --deps does.
func judgeBucket(t *testing.T, r *Repo) ([]deps.Package, deps.Report) {
	t.Helper()
	local, err := r.DependencyPackages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return local, deps.Check(local, nil)
}

// TestBucketDependencies: the C packages built by makepkg (libfoo of
// soname 1 then 2, bar linked against libfoo.so.1, baz depending on
// foo-virtual and libfoo>=2) judged in a bucket as in a directory; the
// links database at the name sogrep reads is, byte for byte, the one a
// directory writes for the same packages; a commit of an earlier pacrepo
// (no libraries recorded) has its objects read, and the next commit
// records them.
func TestBucketDependencies(t *testing.T) {
	tr := newTestRepo(t, "s3://deps/x/deps.db.tar.zst", Options{})
	libfoo1, bar, baz := testutil.ELFFixture(t, "libfoo-1-1-x86_64.pkg.tar.zst"), testutil.ELFFixture(t, "bar-1-1-x86_64.pkg.tar.zst"),
		testutil.ELFFixture(t, "baz-1-1-any.pkg.tar.zst")
	libfoo2 := testutil.ELFFixture(t, "libfoo-2-1-x86_64.pkg.tar.zst")
	if _, err := tr.Add(ctx, []string{libfoo1, bar, baz}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	_, rep := judgeBucket(t, tr.Repo)
	if got, want := problemNeeds(rep), []string{"baz depend foo-virtual", "baz depend libfoo>=2"}; !slices.Equal(got, want) {
		t.Fatalf("libfoo 1: problems %q, want %q", got, want)
	}
	if !slices.Contains(rep.External, deps.External{Package: "bar", Library: "libc.so.6"}) {
		t.Errorf("external %v lacks bar's libc.so.6", rep.External)
	}

	// libfoo's soname goes to 2: bar's libfoo.so.1 is gone, baz is met.
	if _, err := tr.Add(ctx, []string{libfoo2}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	local, rep := judgeBucket(t, tr.Repo)
	if got, want := problemNeeds(rep), []string{"bar library libfoo.so.1"}; !slices.Equal(got, want) {
		t.Fatalf("libfoo 2: problems %q, want %q", got, want)
	}
	if got := deps.Rebuilds(local, rep); len(got) != 1 || got[0].Package != "bar" {
		t.Errorf("rebuilds %v, want bar", got)
	}

	// The same packages in a directory: the same links database.
	dir := repo.New(repo.Options{DB: repodb.Location{Dir: t.TempDir(), Name: "deps", Ext: ".tar.zst"}, LockTimeout: time.Minute})
	if _, err := dir.Add(ctx, []string{libfoo1, bar, baz}, repo.AddOptions{Mode: repo.Copy}); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Add(ctx, []string{libfoo2}, repo.AddOptions{Mode: repo.Copy}); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(dir.Options().DB.LinksPath())
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(tr.objectFile(tr.addr.linksName()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		path := filepath.Join(t.TempDir(), "deps.links.tar.zst")
		os.WriteFile(path, got, 0o644)
		g, _ := repodb.ReadLinks(path)
		w, _ := repodb.ReadLinks(dir.Options().DB.LinksPath())
		t.Fatalf("the bucket's links database differs from the directory's:\n%v\n%v", g, w)
	}
	if links, _ := repodb.ReadLinks(dir.Options().DB.LinksPath()); !slices.Contains(links["bar-1-1"], "libfoo.so.1") {
		t.Errorf("links database %v: bar-1-1 does not list libfoo.so.1", links)
	}
	if obj, err := tr.Resolve(ctx, "deps.links.tar.zst"); err != nil || obj.Size != int64(len(want)) {
		t.Errorf("host's object for the links database: %+v %v", obj, err)
	}
	// The directory published to the bucket: the same links database.
	entries, err := dir.EntriesWithFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	paddr := tr.addrAt(t, "s3://deps/published/deps.db.tar.zst")
	published := New(paddr, tr.bucket, Options{})
	if _, err := published.Publish(ctx, dir.Options().DB.Dir, entries, PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(tr.objectFile(paddr.linksName())); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the links database of the published directory differs from the directory's: %v", err)
	}

	// A commit of an earlier pacrepo records no libraries: the objects
	// are read instead, and the next commit records them.
	h, err := tr.readLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.Links, h.LinksSHA, h.Libraries, h.LibrariesSHA = "", "", "", ""
	if err := tr.bucket.Put(ctx, tr.addr.commitKey(h.Generation), encodeRecord(h)); err != nil {
		t.Fatal(err)
	}
	if _, rep := judgeBucket(t, tr.Repo); !slices.Equal(problemNeeds(rep), []string{"bar library libfoo.so.1"}) {
		t.Fatalf("without recorded libraries: problems %q", problemNeeds(rep))
	}
	if _, err := tr.Remove(ctx, []string{"baz"}, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	h, err = tr.readLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	libs, err := tr.generationLibraries(ctx, h, newLibraryReads())
	if err != nil || len(libs) != 2 || len(libs["bar-1-1-x86_64.pkg.tar.zst"].Needed) == 0 {
		t.Fatalf("the libraries the commit after records: %v %v", libs, err)
	}
	assertClean(t, tr.Repo, true)

	// The libraries object gone: check reports it, and the next change,
	// which reads the objects again, writes it.
	if err := tr.bucket.Delete(ctx, h.Libraries); err != nil {
		t.Fatal(err)
	}
	if rep, err := tr.Check(ctx, false); err != nil || len(rep.Findings) != 1 || rep.Findings[0].Kind != "links-database" {
		t.Fatalf("check of a generation whose libraries object is gone: %+v %v", rep, err)
	}
	if _, err := tr.Add(ctx, []string{baz}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	assertClean(t, tr.Repo, true)

	// Rolled back to generation 1: libfoo 1 again, bar met, and the links
	// database lists libfoo-1-1 (from generation 1's libraries).
	if _, err := tr.Rollback(ctx, 1, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	if _, rep := judgeBucket(t, tr.Repo); !slices.Equal(problemNeeds(rep), []string{"baz depend foo-virtual", "baz depend libfoo>=2"}) {
		t.Fatalf("after the rollback: problems %q", problemNeeds(rep))
	}
	linksPath := filepath.Join(t.TempDir(), "deps.links.tar.zst")
	data, _ := os.ReadFile(tr.objectFile(tr.addr.linksName()))
	os.WriteFile(linksPath, data, 0o644)
	if links, err := repodb.ReadLinks(linksPath); err != nil || len(links) != 3 || links["libfoo-1-1"] == nil {
		t.Fatalf("the links database after the rollback: %v %v", links, err)
	}
	assertClean(t, tr.Repo, true)

	// An object that cannot be read (gone) is recorded unread: no commit
	// downloads it again.
	gone := []repodb.Entry{{Filename: "gone-1-1-any.pkg.tar.zst", Name: "gone", Version: "1-1", SHA256Sum: strings.Repeat("00", 32)}}
	lr := newLibraryReads()
	read, err := tr.librariesOf(ctx, gone, nil, nil, nil, lr)
	if l, ok := read[gone[0].Filename]; err != nil || !ok || l != nil {
		t.Fatalf("libraries of an object that is gone: %v %v", read, err)
	}
	path := filepath.Join(t.TempDir(), "libraries")
	if err := tr.writeLibrariesFile(path, gone, read); err != nil {
		t.Fatal(err)
	}
	if recs, err := readLibrariesFile(path); err != nil || !recs[gone[0].Filename].Unread || recs[gone[0].Filename].libraries() != nil {
		t.Fatalf("an unread object's record: %v %v", recs, err)
	}
}

// TestBucketInstallable: installable = "refuse" refuses, before anything
// is uploaded, a change that leaves a package of the bucket unsatisfiable,
// naming the package and the library; "warn" commits it and reports it.
func TestBucketInstallable(t *testing.T) {
	tr := newTestRepo(t, "s3://deps/refuse/deps.db.tar.zst", Options{Installable: "refuse"})
	libfoo1, bar := testutil.ELFFixture(t, "libfoo-1-1-x86_64.pkg.tar.zst"), testutil.ELFFixture(t, "bar-1-1-x86_64.pkg.tar.zst")
	libfoo2 := testutil.ELFFixture(t, "libfoo-2-1-x86_64.pkg.tar.zst")
	if _, err := tr.Add(ctx, []string{libfoo1, bar}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if res, err := tr.Add(ctx, []string{libfoo2}, AddOptions{DryRun: true}); err != nil || len(res.Unsatisfiable) != 1 {
		t.Fatalf("dry run of the soname bump: %+v %v", res, err)
	}
	var unmet *repo.UnsatisfiableError
	_, err := tr.Add(ctx, []string{libfoo2}, AddOptions{})
	if !errors.As(err, &unmet) || len(unmet.Problems) != 1 || unmet.Problems[0].Package != "bar" || unmet.Problems[0].Needs != "libfoo.so.1" ||
		!strings.Contains(err.Error(), "bar 1-1 needs libfoo.so.1") {
		t.Fatalf("the soname bump under bar: %v", err)
	}
	if got := registered(t, tr.Repo); got["libfoo"] != "1-1" {
		t.Fatalf("refused, yet registered %v", got)
	}
	if _, err := tr.bucket.Head(ctx, tr.addr.key(filepath.Base(libfoo2))); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("a refused change uploaded its package: %v", err)
	}
	if _, err := tr.Remove(ctx, []string{"libfoo"}, repo.Request{}); !errors.As(err, &unmet) ||
		!strings.Contains(err.Error(), "libfoo 1-1 provided it") {
		t.Fatalf("removing the library bar needs: %v", err)
	}

	warn := New(tr.addr, tr.bucket, Options{Installable: "warn"})
	res, err := warn.Add(ctx, []string{libfoo2}, AddOptions{})
	if err != nil || !res.Applied || len(res.Unsatisfiable) != 1 || res.Unsatisfiable[0].Package != "bar" {
		t.Fatalf("warn: %v %+v", err, res)
	}
}
