package s3repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

var ctx = context.Background()

// testRepo is a repository in a bucket of a real server.
type testRepo struct {
	*Repo
	server *testutil.S3Server
	bucket *objstore.Bucket
}

// TestMain stops the server the tests share (newTestRepo).
func TestMain(m *testing.M) {
	code := m.Run()
	testutil.StopSharedS3()
	os.Exit(code)
}

// newTestRepo is the repository at url in a bucket of its own on the
// server the package's tests share: the bucket url names, with a suffix
// (tr.addr has it).
func newTestRepo(t *testing.T, url string, opts Options) *testRepo {
	t.Helper()
	addr, err := ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	srv, bucket := testutil.SharedS3(t, addr.Bucket)
	addr.Bucket = bucket
	srv.SetEnv(t)
	b, err := objstore.Open(ctx, objstore.Config{Bucket: addr.Bucket, Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	return &testRepo{Repo: New(addr, b, opts), server: srv, bucket: b}
}

// addrAt is the address url names, in tr's bucket (url's bucket is the
// one newTestRepo was given, without the suffix).
func (tr *testRepo) addrAt(t *testing.T, url string) Address {
	t.Helper()
	addr, err := ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	addr.Bucket = tr.addr.Bucket
	return addr
}

// reopen is the same repository with other options.
func (tr *testRepo) reopen(opts Options) *Repo { return New(tr.addr, tr.bucket, opts) }

func mkpkg(t testing.TB, dir, name, ver string) string {
	t.Helper()
	p, err := pkggen.MakePackage(dir, pkggen.Spec{Name: name, Version: ver, NumFiles: 3, FileSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func registered(t testing.TB, r *Repo) map[string]string {
	t.Helper()
	es, err := r.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range es {
		m[e.Name] = e.Version
	}
	return m
}

// objectFile is the file versitygw keeps the object key of bucket in.
func (tr *testRepo) objectFile(key string) string {
	return filepath.Join(tr.server.Root, tr.addr.Bucket, key)
}

func TestParseURL(t *testing.T) {
	for in, want := range map[string]Address{
		"s3://b/x.db.tar.zst":              {Bucket: "b", Name: "x", Ext: ".tar.zst"},
		"s3://b/a/b/farm.db.tar.gz":        {Bucket: "b", Prefix: "a/b", Name: "farm", Ext: ".tar.gz"},
		"s3://b/repo/core.files.tar.zst":   {Bucket: "b", Prefix: "repo", Name: "core", Ext: ".tar.zst"},
		"s3://my.bucket/p/extra.db.tar.xz": {Bucket: "my.bucket", Prefix: "p", Name: "extra", Ext: ".tar.xz"},
	} {
		got, err := ParseURL(in)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"s3://", "s3://b", "s3://b/", "s3:///x.db.tar.zst", "s3://b/x.db", "s3://b/a//x.db.tar.zst",
		"s3://b/../x.db.tar.zst", "s3://b/./x.db.tar.zst", "/srv/x.db.tar.zst", "s3://b/x.tar.zst"} {
		if _, err := ParseURL(bad); !errors.Is(err, ErrBadURL) {
			t.Errorf("%s: %v, want ErrBadURL", bad, err)
		}
	}
}

// TestAddRemove: a first add creates the repository; the names pacman reads
// hold the committed generation; an unchanged add commits nothing; remove
// unregisters; a dry run changes nothing.
func TestAddRemove(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/x86_64/farm.db.tar.zst", Options{})
	src := t.TempDir()
	a, b := mkpkg(t, src, "a", "1.0-1"), mkpkg(t, src, "b", "2.0-1")
	if _, err := tr.Entries(ctx); !errors.As(err, new(*NoRepositoryError)) {
		t.Fatalf("entries of no repository: %v", err)
	}
	res, err := tr.Add(ctx, []string{a, b}, AddOptions{DryRun: true})
	if err != nil || !res.Created || len(res.Plan.Actions) != 2 || res.Applied {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if _, err := tr.Entries(ctx); err == nil {
		t.Fatal("a dry run created the repository")
	}
	res, err = tr.Add(ctx, []string{a, b}, AddOptions{})
	if err != nil || !res.Applied || !res.Created {
		t.Fatalf("add: %+v %v", res, err)
	}
	if got := registered(t, tr.Repo); len(got) != 2 || got["a"] != "1.0-1" {
		t.Fatalf("registered %v", got)
	}
	h, err := tr.readLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stale, err := tr.staleFixedNames(ctx, h); err != nil || len(stale) > 0 {
		t.Fatalf("fixed names after a commit: stale %v (%v)", stale, err)
	}
	res, err = tr.Add(ctx, []string{a}, AddOptions{})
	if err != nil || res.Applied {
		t.Fatalf("unchanged add: %+v %v", res, err)
	}
	if h2, _ := tr.readLatest(ctx); h2.Generation != h.Generation {
		t.Fatalf("an unchanged add committed generation %d", h2.Generation)
	}
	a2 := mkpkg(t, src, "a", "1.1-1")
	if _, err := tr.Add(ctx, []string{a2}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Remove(ctx, []string{"b"}, repo.Request{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Remove(ctx, []string{"b", "nope"}, repo.Request{}); !errors.As(err, new(*repo.UnknownPackageError)) {
		t.Fatalf("remove of an unknown name: %v", err)
	}
	if _, err := tr.Remove(ctx, []string{"b"}, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, tr.Repo); len(got) != 1 || got["a"] != "1.1-1" {
		t.Fatalf("registered %v", got)
	}
	// Retired files stay for the grace period, recorded in the commit.
	h, _ = tr.readLatest(ctx)
	var retired []string
	for _, s := range h.Recent {
		retired = append(retired, s.Retired...)
	}
	slices.Sort(retired)
	if want := []string{filepath.Base(a), filepath.Base(b)}; !slices.Equal(retired, want) {
		t.Errorf("retired %v, want %v", retired, want)
	}
	for _, f := range []string{a, b, a2} {
		if _, err := os.Stat(tr.objectFile(tr.addr.key(filepath.Base(f)))); err != nil {
			t.Errorf("%s deleted before gc: %v", filepath.Base(f), err)
		}
	}
	if rep, err := tr.Check(ctx, false); err != nil || len(rep.Findings) > 0 || rep.Checked != 1 {
		t.Fatalf("check: %+v %v", rep, err)
	}
}

// TestCollision: a package object is written once; other content under its
// key is refused and nothing is committed.
func TestCollision(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{})
	one, two := t.TempDir(), t.TempDir()
	a := mkpkg(t, one, "a", "1.0-1")
	if _, err := tr.Add(ctx, []string{a}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	// The same name and version, other content.
	other, err := pkggen.MakePackage(two, pkggen.Spec{Name: "a", Version: "1.0-1", NumFiles: 7, FileSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Add(ctx, []string{other}, AddOptions{})
	var ce *CollisionError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "bump pkgrel") {
		t.Fatalf("collision: %v", err)
	}
	es, _ := tr.Entries(ctx)
	if len(es) != 1 || es[0].SHA256Sum != fileSum(t, a) {
		t.Fatalf("entries after a refused add: %+v", es)
	}
}

func fileSum(t testing.TB, path string) string {
	t.Helper()
	sum, _, err := fsutil.HashFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestConcurrentPublishersInProcess: publishers racing in one process all
// land (the separate-process race is in the cli tests).
//
// Four publishers of four packages each lose some twenty commit races
// (six of five lost about seventy, for twice the CPU): the creation of the
// repository raced by the three others, lost races in a row, and replans
// on top of each other's commits all happen many times over, and the test
// fails if no race was lost at all.
func TestConcurrentPublishersInProcess(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/p/farm.db.tar.zst", Options{})
	const publishers, each = 4, 4
	var tries, commits atomic.Int64
	crashHook = func(step string) {
		switch step {
		case "committing":
			tries.Add(1)
		case "after-commit":
			commits.Add(1)
		}
	}
	defer func() { crashHook = nil }()
	src := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, publishers*each)
	for p := range publishers {
		var files []string
		for i := range each {
			files = append(files, mkpkg(t, src, fmt.Sprintf("p%d-%d", p, i), "1.0-1"))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := tr.reopen(Options{})
			for _, f := range files {
				if _, err := r.Add(ctx, []string{f}, AddOptions{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := registered(t, tr.Repo); len(got) != publishers*each {
		t.Fatalf("%d registered, want %d", len(got), publishers*each)
	}
	if rep, err := tr.Check(ctx, false); err != nil || len(rep.Findings) > 0 {
		t.Fatalf("check: %+v %v", rep, err)
	}
	lost := tries.Load() - commits.Load()
	if lost == 0 {
		t.Error("no publisher lost a commit race: the test did not test it")
	}
	t.Logf("%d commits, %d races lost", commits.Load(), lost)
}

// TestGC: gc deletes what no commit of the grace period references, once
// older than the grace period, and nothing else.
func TestGC(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	tr := newTestRepo(t, "s3://farm/x/farm.db.tar.zst", Options{Grace: time.Hour, Now: clock})
	src := t.TempDir()
	a1, b := mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1")
	if _, err := tr.Add(ctx, []string{a1, b}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	a2 := mkpkg(t, src, "a", "2-1")
	if _, err := tr.Add(ctx, []string{a2}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	// An orphan (a publisher killed before its commit) and an object gc
	// must not know.
	orphan := mkpkg(t, src, "orphan", "1-1")
	if _, err := tr.putFile(ctx, orphan, tr.addr.key(filepath.Base(orphan)), ""); err != nil {
		t.Fatal(err)
	}
	if err := tr.bucket.Put(ctx, tr.addr.key("README.txt"), []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	exists := func(name string) bool {
		_, err := os.Stat(tr.objectFile(tr.addr.key(name)))
		return err == nil
	}
	// Within the grace period: nothing goes.
	res, err := tr.GC(ctx, false)
	if err != nil || len(res.Deleted) > 0 {
		t.Fatalf("gc within the grace period: %+v %v", res, err)
	}
	// Two hours on: the retired a-1 and the orphan go; the database
	// generations a-1 was committed in go; the registered packages, the
	// current generation and README stay.
	now = now.Add(2 * time.Hour)
	res, err = tr.GC(ctx, true)
	if err != nil || len(res.Deleted) == 0 || !exists(filepath.Base(a1)) {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if res, err = tr.GC(ctx, false); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{filepath.Base(a1): false, filepath.Base(orphan): false,
		filepath.Base(a2): true, filepath.Base(b): true, "README.txt": true, "farm.db.tar.zst": true} {
		if exists(name) != want {
			t.Errorf("after gc, %s exists: %v, want %v (deleted %v)", name, !want, want, res.Deleted)
		}
	}
	if rep, err := tr.Check(ctx, false); err != nil || len(rep.Findings) > 0 {
		t.Fatalf("check after gc: %+v %v", rep, err)
	}
	gens, _ := os.ReadDir(tr.objectFile(tr.addr.generationPrefix()))
	if len(gens) != 4 {
		t.Errorf("%d generation objects left, want the current four (the databases, the links database, the libraries)", len(gens))
	}
}

// TestGCReadsNoFileLists: gc reads the database the newest commit names,
// never its files database (a repository's largest object): it needs
// the packages' file names, not their file lists.
func TestGCReadsNoFileLists(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/x/farm.db.tar.zst", Options{})
	if _, err := tr.Add(ctx, []string{mkpkg(t, t.TempDir(), "a", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err := tr.readLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(tr.server.Endpoint)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var got []string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet {
			mu.Lock()
			got = append(got, req.URL.Path)
			mu.Unlock()
		}
		proxy.ServeHTTP(w, req)
	}))
	defer front.Close()
	b, err := objstore.Open(ctx, objstore.Config{Bucket: tr.addr.Bucket, Endpoint: front.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(tr.addr, b, Options{}).GC(ctx, false); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	path := func(key string) string { return "/" + tr.addr.Bucket + "/" + key }
	if !slices.Contains(got, path(h.DB)) {
		t.Errorf("gc did not read the database %s: %v", h.DB, got)
	}
	if slices.Contains(got, path(h.Files)) {
		t.Errorf("gc read the files database %s", h.Files)
	}
}

// TestStaleFixedNamesRepaired: names pacman reads that lag behind the
// commit (a publisher killed between the two) are reported and repaired,
// and a commit's readers meanwhile see the previous, whole database.
func TestStaleFixedNamesRepaired(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{})
	src := t.TempDir()
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	crashHook = func(step string) {
		if step == "after-commit" {
			panic(step)
		}
	}
	func() {
		defer func() { recover() }()
		tr.Add(ctx, []string{mkpkg(t, src, "b", "1-1")}, AddOptions{})
	}()
	crashHook = nil
	rep, err := tr.Check(ctx, false)
	if err != nil || len(rep.Findings) != 5 || rep.Findings[0].Kind != "stale-names" {
		t.Fatalf("check of stale names: %+v %v", rep, err)
	}
	if rep, err = tr.Check(ctx, true); err != nil || !rep.Findings[0].Repaired {
		t.Fatalf("repair: %+v %v", rep, err)
	}
	if rep, err = tr.Check(ctx, false); err != nil || len(rep.Findings) > 0 {
		t.Fatalf("check after repair: %+v %v", rep, err)
	}
}

func readDBFile(path string) ([]repodb.Entry, error) { return repodb.Read(path, repodb.ReadOptions{}) }

// TestSignedDatabases: with a signer, each generation's databases are
// signed, and the names pacman reads get the signature of the very
// database they hold.
func TestSignedDatabases(t *testing.T) {
	key := testutil.NewPGPKey(t, "repo")
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{Sign: key.SignBytes})
	src := t.TempDir()
	for _, v := range []string{"1-1", "2-1"} {
		if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", v)}, AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	keyring := keyringOf(t, key)
	files, db := tr.addr.fixedNames()
	for _, name := range append(files, db...) {
		verifyObject(t, tr, keyring, name)
	}
	// Unsigned again on purpose: the stale signatures go.
	if _, err := tr.reopen(Options{UnsignDatabase: true}).Add(ctx, []string{mkpkg(t, src, "b", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range append(files, db...) {
		if _, err := os.Stat(tr.objectFile(name + ".sig")); err == nil {
			t.Errorf("%s.sig outlived the signed database", name)
		}
	}
}

// TestPackageSignatures: a package's .sig travels with it (and into its
// entry when asked); a missing one is refused when required, a bad one
// when a verifier says so, and nothing is uploaded then.
func TestPackageSignatures(t *testing.T) {
	key := testutil.NewPGPKey(t, "packager")
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{})
	src := t.TempDir()
	a, b := mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1")
	key.SignFile(t, a)
	_, err := tr.Add(ctx, []string{a, b}, AddOptions{RequireSignature: true})
	var unreadable *repo.UnreadableFilesError
	if !errors.As(err, &unreadable) || len(unreadable.Problems) != 1 || !errors.Is(unreadable.Problems[0].Err, repo.ErrUnsigned) {
		t.Fatalf("unsigned b with signatures required: %v", err)
	}
	stranger := tr.reopen(Options{Signatures: repo.SignaturePolicy{Keyring: keyringOf(t, testutil.NewPGPKey(t, "stranger"))}})
	if _, err := stranger.Add(ctx, []string{a}, AddOptions{}); !errors.As(err, &unreadable) {
		t.Fatalf("a signature by a key not in the keyring: %v", err)
	}
	if _, err := os.Stat(tr.objectFile(filepath.Base(a))); err == nil {
		t.Fatal("a refused package was uploaded")
	}
	if _, err := tr.Add(ctx, []string{a}, AddOptions{EmbedSignatures: true}); err != nil {
		t.Fatal(err)
	}
	es, _ := tr.Entries(ctx)
	if len(es) != 1 || es[0].PGPSig == "" {
		t.Fatalf("entry without its embedded signature: %+v", es)
	}
	if _, err := os.Stat(tr.objectFile(filepath.Base(a) + ".sig")); err != nil {
		t.Fatalf("the .sig did not travel with its package: %v", err)
	}
}

// TestResolve: host serves a database name from the newest commit's
// generation (so a database and its signature belong together), a package
// from its own object, and nothing else.
func TestResolve(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/x/farm.db.tar.zst", Options{})
	src := t.TempDir()
	a := mkpkg(t, src, "a", "1-1")
	if _, err := tr.Resolve(ctx, "farm.db"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("database of no repository: %v", err)
	}
	if _, err := tr.Add(ctx, []string{a}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	h, _ := tr.readLatest(ctx)
	for name, want := range map[string]string{
		"farm.db": h.DB, "farm.db.tar.zst": h.DB, "farm.files": h.Files, "farm.files.tar.zst": h.Files,
		filepath.Base(a): tr.addr.key(filepath.Base(a)),
	} {
		obj, err := tr.Resolve(ctx, name)
		if err != nil || obj.Key != want {
			t.Errorf("%s: %+v %v, want %s", name, obj, err, want)
		}
	}
	for _, name := range []string{"farm.db.sig", "farm.db.tar.gz", "other.db", "lastupdate", ".pacrepo", "b-1-1-x86_64.pkg.tar.zst"} {
		if obj, err := tr.Resolve(ctx, name); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("%s: %+v %v, want not found", name, obj, err)
		}
	}
	// An earlier generation's database, as host serves the signature of
	// the database a client got before a commit; its time is the commit's.
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "b", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	newest, _ := tr.readLatest(ctx)
	for gen, want := range map[int64]*commit{h.Generation: h, -1: newest, newest.Generation + 5: newest} {
		obj, g, err := tr.ResolveGeneration(ctx, "farm.files", gen)
		if err != nil || obj.Key != want.Files || g != want.Generation || !obj.Modified.Equal(want.Committed) {
			t.Errorf("farm.files of generation %d: %+v %d %v, want %s of generation %d at %s", gen, obj, g, err, want.Files, want.Generation, want.Committed)
		}
	}
}

// TestPublish: publishing a repository directory makes the bucket's
// repository hold exactly its entries, byte for byte the same databases'
// content; publishing again changes nothing; a package removed from the
// directory is unregistered, its object kept for gc.
func TestPublish(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/os/farm.db.tar.zst", Options{})
	local := repo.New(repo.Options{DB: repodb.Location{Dir: t.TempDir(), Name: "farm", Ext: ".tar.zst"}, LockTimeout: time.Minute})
	src := t.TempDir()
	var files []string
	for i := range 5 {
		files = append(files, mkpkg(t, src, fmt.Sprintf("p%d", i), "1-1"))
	}
	if _, err := local.Add(ctx, files, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	publish := func() *repo.Result {
		t.Helper()
		entries, err := local.EntriesWithFiles(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res, err := tr.Publish(ctx, local.Options().DB.Dir, entries, PublishOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := publish(); !res.Applied || len(res.Plan.Actions) != 5 {
		t.Fatalf("first publish: %+v", res)
	}
	localEntries, _ := local.EntriesWithFiles(ctx)
	published, err := tr.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(withoutMD5(localEntries), withoutMD5(published)) {
		t.Fatalf("published entries differ:\n%+v\n%+v", localEntries, published)
	}
	if res := publish(); res.Applied {
		t.Fatalf("publishing the same again committed: %+v", res.Plan.Actions)
	}
	if _, err := local.Remove(ctx, []string{"p0"}, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	publish()
	if got := registered(t, tr.Repo); len(got) != 4 || got["p0"] != "" {
		t.Fatalf("after a removal: %v", got)
	}
	if _, err := os.Stat(tr.objectFile(tr.addr.key(filepath.Base(files[0])))); err != nil {
		t.Fatalf("a package unregistered by publish was deleted before gc: %v", err)
	}
	// A package file that is not what its entry says: nothing published.
	entries, _ := local.EntriesWithFiles(ctx)
	entries[0].SHA256Sum = strings.Repeat("00", 32)
	entries[0].Filename = "other-1-1-x86_64.pkg.tar.zst"
	os.WriteFile(filepath.Join(local.Options().DB.Dir, entries[0].Filename), []byte("not it"), 0o644)
	if _, err := tr.Publish(ctx, local.Options().DB.Dir, entries, PublishOptions{}); err == nil || !strings.Contains(err.Error(), "changed since it was read") {
		t.Fatalf("publish of a file that is not its entry: %v", err)
	}
}

func withoutMD5(es []repodb.Entry) []repodb.Entry {
	out := slices.Clone(es)
	for i := range out {
		out[i].MD5Sum = ""
	}
	return out
}

// TestGCSparesWhatACommitRegistersAgain: a package retired longer ago than
// the grace period, registered again while gc runs, survives the gc that
// planned its deletion before that commit.
func TestGCSparesWhatACommitRegistersAgain(t *testing.T) {
	const grace = time.Second
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{Grace: grace})
	src := t.TempDir()
	a1, a2 := mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "a", "2-1")
	for _, f := range []string{a1, a2} {
		if _, err := tr.Add(ctx, []string{f}, AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(grace + serverTimeResolution + 200*time.Millisecond)
	plan, _, err := tr.planGC(ctx)
	if err != nil || !slices.Contains(plan.Deleted, tr.addr.key(filepath.Base(a1))) {
		t.Fatalf("gc's plan does not delete the retired a-1: %+v %v", plan, err)
	}
	// The downgrade commits after gc planned, before it deletes.
	if _, err := tr.Add(ctx, []string{a1}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := tr.deleteUnreferenced(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(res.Deleted, tr.addr.key(filepath.Base(a1))) {
		t.Fatal("gc deleted a package a commit registered again meanwhile")
	}
	assertClean(t, tr.Repo, true)
	assertFixedNamesWhole(t, tr)
}

// TestGCDeletesWhileAPublisherWritesAgain: gc reads the time of an
// object older than the grace period, a publisher publishing that package
// again writes it anew, and gc's delete lands after that write (the gap
// between gc's read and its delete, which took a third of a second on a
// loaded machine in TestPublishersAndGC). The publisher looks, right
// before its commit, for what it did not create itself, finds the package
// gone and writes it once more: the package it commits is there.
func TestGCDeletesWhileAPublisherWritesAgain(t *testing.T) {
	const grace = time.Hour
	var ahead time.Duration
	clock := func() time.Time { return time.Now().Add(ahead) }
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{Grace: grace, Now: clock})
	src := t.TempDir()
	c := mkpkg(t, src, "c", "1-1")
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	// c: the upload of a publisher killed before its commit.
	key := tr.addr.key(filepath.Base(c))
	if _, err := tr.putFile(ctx, c, key, ""); err != nil {
		t.Fatal(err)
	}
	ahead = 2 * grace // c is gc's to delete, and old to a publisher
	publisher := tr.reopen(Options{Grace: grace, Now: clock})
	rewritten, deleted, published := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var gcFound, publisherWrote bool
	crashHook = func(step string) {
		switch {
		case step == "before-delete" && !gcFound: // gc found c old
			gcFound = true
			go func() {
				_, err := publisher.Add(ctx, []string{c}, AddOptions{})
				published <- err
			}()
			<-rewritten
		case step == "after-upload" && !publisherWrote: // the publisher wrote c anew
			publisherWrote = true
			close(rewritten)
			<-deleted
		case step == "mid-gc": // gc's delete of c landed
			close(deleted)
		}
	}
	defer func() { crashHook = nil }()
	res, err := tr.GC(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Deleted, []string{key}) {
		t.Fatalf("gc deleted %v, want %s", res.Deleted, key)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if got := registered(t, tr.Repo); got["c"] != "1-1" {
		t.Fatalf("registered %v", got)
	}
	assertClean(t, tr.Repo, true)
	assertFixedNamesWhole(t, tr)
}

// TestGCRightAfterASlowCommit: a publisher slow between writing its
// databases and creating its commit record (on a loaded machine, seconds)
// dates the commit when it creates it. gc running right after the commit,
// before the names pacman reads show it, keeps what the generation those
// names still show names: a reader finds every package.
func TestGCRightAfterASlowCommit(t *testing.T) {
	const grace = time.Hour
	now := time.Now()
	clock := func() time.Time { return now }
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{Grace: grace, Now: clock})
	src := t.TempDir()
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	gc := tr.reopen(Options{Grace: grace, Now: clock})
	var view error
	ran := false
	crashHook = func(step string) {
		switch step {
		case "before-commit": // the databases are written; the publisher stalls
			now = now.Add(grace + time.Minute)
		case "after-commit": // the names pacman reads still show a-1
			if _, err := gc.GC(ctx, false); err != nil {
				t.Error(err)
			}
			view, ran = readersView(tr), true
		}
	}
	defer func() { crashHook = nil }()
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "2-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if !ran {
		t.Fatal("gc did not run")
	}
	if view != nil {
		t.Fatalf("after gc, before the names pacman reads show the commit: %v", view)
	}
	assertClean(t, tr.Repo, true)
}

// TestGCKeepsWhatTheNamesShow: the names pacman reads lag behind the
// newest commit for longer than the grace period (its publisher stalled,
// or was killed, between its commit and its copies): gc keeps every
// package the database under those names names.
func TestGCKeepsWhatTheNamesShow(t *testing.T) {
	const grace = time.Hour
	now := time.Now()
	clock := func() time.Time { return now }
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{Grace: grace, Now: clock})
	src := t.TempDir()
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	gc := tr.reopen(Options{Grace: grace, Now: clock})
	var view error
	ran := false
	crashHook = func(step string) {
		if step == "after-commit" { // the names pacman reads still show a-1
			now = now.Add(2 * grace)
			if _, err := gc.GC(ctx, false); err != nil {
				t.Error(err)
			}
			view, ran = readersView(tr), true
		}
	}
	defer func() { crashHook = nil }()
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "2-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if !ran {
		t.Fatal("gc did not run")
	}
	if view != nil {
		t.Fatalf("gc while the names pacman reads lag: %v", view)
	}
	assertClean(t, tr.Repo, true)
}

// TestGCSparesWhatIsYoungerThanItsTime: the server states an object's
// time to the second, the fraction cut off; gc spares an object younger
// than the grace period even when the time shown is older (a publisher
// had checked such an upload fresh enough to commit; found with a grace
// of 1.5 s on a loaded machine).
func TestGCSparesWhatIsYoungerThanItsTime(t *testing.T) {
	const grace = time.Hour
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{Grace: grace})
	src := t.TempDir()
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	// An upload late in a second, landing within it: the time the server
	// shows is more than a tenth of a second before it was written.
	var key string
	var written time.Time
	for i := 0; key == ""; i++ {
		if i == 3 {
			t.Fatal("no upload landed within the second it started in")
		}
		f := mkpkg(t, src, fmt.Sprintf("c%d", i), "1-1")
		time.Sleep((3*time.Second/2 - time.Duration(time.Now().Nanosecond())) % time.Second)
		written = time.Now()
		k := tr.addr.key(filepath.Base(f))
		if _, err := tr.putFile(ctx, f, k, ""); err != nil {
			t.Fatal(err)
		}
		if obj, err := tr.bucket.Head(ctx, k); err != nil {
			t.Fatal(err)
		} else if obj.Modified.Before(written.Add(-time.Second / 10)) {
			key = k
		}
	}
	// gc's clock a tenth of a second short of the grace period after the
	// upload: older by the time shown, younger by the time written.
	gc := tr.reopen(Options{Grace: grace, Now: func() time.Time { return written.Add(grace - time.Second/10) }})
	res, err := gc.GC(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.bucket.Head(ctx, key); err != nil || slices.Contains(res.Deleted, key) {
		t.Fatalf("gc deleted an upload younger than the grace period: %v (deleted %v)", err, res.Deleted)
	}
}

// TestStalledPublisher: a publisher that stalled for longer than the grace
// period after uploading (while others committed and gc pruned the
// records after the one it read, and deleted what looked like orphans),
// after writing its databases, or with its commit record on the way,
// neither commits behind the newest commit nor leaves a commit that
// references an object gc deleted: it uploads and writes again (what is
// gone once its late commit landed, too), and commits on top of the
// newest.
func TestStalledPublisher(t *testing.T) {
	for _, c := range []struct {
		at     string
		others bool // others commit during the stall
	}{{"after-upload", true}, {"after-upload", false}, {"before-commit", false}, {"committing", false}} {
		t.Run(fmt.Sprintf("%s,others=%v", c.at, c.others), func(t *testing.T) {
			now := time.Now()
			clock := func() time.Time { return now }
			tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{Grace: time.Hour, Now: clock})
			src := t.TempDir()
			if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1-1")}, AddOptions{}); err != nil {
				t.Fatal(err)
			}
			others := tr.reopen(Options{Grace: time.Hour, Now: clock})
			want := "map[a:1-1 c:1-1]"
			stalled := false
			crashHook = func(step string) {
				if step != c.at || stalled {
					return
				}
				stalled = true
				if c.others {
					for _, v := range []string{"1-1", "2-1"} {
						if _, err := others.Add(ctx, []string{mkpkg(t, src, "b", v)}, AddOptions{}); err != nil {
							t.Fatal(err)
						}
					}
					want = "map[a:1-1 b:2-1 c:1-1]"
				}
				now = now.Add(3 * time.Hour)
				time.Sleep(1100 * time.Millisecond) // the server's times have a second's resolution
				if _, err := others.GC(ctx, false); err != nil {
					t.Fatal(err)
				}
			}
			defer func() { crashHook = nil }()
			if _, err := tr.Add(ctx, []string{mkpkg(t, src, "c", "1-1")}, AddOptions{}); err != nil {
				t.Fatal(err)
			}
			if !stalled {
				t.Fatal("the publisher did not stall")
			}
			if got := registered(t, tr.Repo); fmt.Sprint(got) != want {
				t.Fatalf("registered %v, want %s", got, want)
			}
			assertClean(t, tr.Repo, true)
			assertFixedNamesWhole(t, tr)
		})
	}
}

// TestGCWhileUpdateRegistersAnOrphan: update registers the upload of a
// publisher killed longer than the grace period ago while a gc runs that
// sees no commit registering it yet: update writes it anew before its
// commit (as add does with what it uploads), so gc spares it, and never
// leaves an entry of a deleted object.
func TestGCWhileUpdateRegistersAnOrphan(t *testing.T) {
	const grace = 2 * time.Second
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{Grace: grace})
	src := t.TempDir()
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	c := mkpkg(t, src, "c", "1-1")
	if _, err := tr.putFile(ctx, c, tr.addr.key(filepath.Base(c)), ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(grace + serverTimeResolution + 100*time.Millisecond)
	gc := tr.reopen(Options{Grace: grace})
	ran := false
	crashHook = func(step string) {
		if step == "before-commit" && !ran {
			ran = true
			if _, err := gc.GC(ctx, false); err != nil {
				t.Error(err)
			}
		}
	}
	defer func() { crashHook = nil }()
	if _, err := tr.Update(ctx, nil, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	if !ran {
		t.Fatal("gc did not run")
	}
	// c is registered, unless the machine stalled update for longer than
	// the grace period and gc took it first: then it is gone, and so is
	// its entry.
	t.Logf("registered: %v", registered(t, tr.Repo))
	assertClean(t, tr.Repo, true)
	assertFixedNamesWhole(t, tr)
}

// TestUpdateAndReset: update registers package objects no commit
// registers (a publisher killed before its commit, an upload by other
// means) when newer, and retires the registered ones they replace;
// reset rebuilds from the objects, dropping entries whose object is gone;
// a damaged object is a problem, never an entry.
func TestUpdateAndReset(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/x/farm.db.tar.zst", Options{})
	src := t.TempDir()
	a1, b1 := mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1")
	if _, err := tr.Add(ctx, []string{a1, b1}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	put := func(files ...string) {
		t.Helper()
		for _, f := range files {
			if _, err := tr.putFile(ctx, f, tr.addr.key(filepath.Base(f)), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Objects uploaded without a commit: a newer a, a new c, and garbage
	// under a package name.
	put(mkpkg(t, src, "a", "2-1"), mkpkg(t, src, "c", "1-1"))
	if err := tr.bucket.Put(ctx, tr.addr.key("junk-1-1-any.pkg.tar.zst"), []byte("not a package")); err != nil {
		t.Fatal(err)
	}
	res, err := tr.Update(ctx, nil, repo.Request{DryRun: true})
	if got := actionsOf(res); err != nil || got != "upgrade a, retire a, new c" || len(res.Plan.Problems) != 1 || res.Applied {
		t.Fatalf("update -n: %s %+v %v", got, res, err)
	}
	if _, err := tr.Update(ctx, []string{"nope"}, repo.Request{}); !errors.As(err, new(*repo.UnknownPackageError)) {
		t.Fatalf("update of an unknown name: %v", err)
	}
	if _, err := tr.Update(ctx, []string{"a"}, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(registered(t, tr.Repo)); got != "map[a:2-1 b:1-1]" {
		t.Fatalf("after update a: %s", got)
	}
	if _, err := tr.Update(ctx, nil, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(registered(t, tr.Repo)); got != "map[a:2-1 b:1-1 c:1-1]" {
		t.Fatalf("after update: %s", got)
	}
	// b-1's object disappears: reset registers the newest b there is.
	if err := tr.bucket.Delete(ctx, tr.addr.key(filepath.Base(b1))); err != nil {
		t.Fatal(err)
	}
	put(mkpkg(t, src, "b", "0.5-1"))
	res, err = tr.Reset(ctx, repo.Request{})
	if err != nil || len(res.Plan.Problems) != 1 {
		t.Fatalf("reset: %+v %v", res, err)
	}
	if got := fmt.Sprint(registered(t, tr.Repo)); got != "map[a:2-1 b:0.5-1 c:1-1]" {
		t.Fatalf("after reset: %s", got)
	}
	assertClean(t, tr.Repo, true)
}

// TestResetRefusesMassRemoval: a reset that would drop most of a
// repository (objects gone: a wrong prefix, a bucket emptied by mistake)
// needs force.
func TestResetRefusesMassRemoval(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{})
	src := t.TempDir()
	var files []string
	for i := range 12 {
		files = append(files, mkpkg(t, src, fmt.Sprintf("p%02d", i), "1-1"))
	}
	if _, err := tr.Add(ctx, files, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range files[:7] {
		tr.bucket.Delete(ctx, tr.addr.key(filepath.Base(f)))
	}
	if _, err := tr.Reset(ctx, repo.Request{}); !errors.As(err, new(*repo.RefusedError)) {
		t.Fatalf("reset dropping 7 of 12: %v", err)
	}
	if got := registered(t, tr.Repo); len(got) != 12 {
		t.Fatalf("a refused reset changed the repository: %v", got)
	}
	if _, err := tr.Reset(ctx, repo.Request{Force: true}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, tr.Repo); len(got) != 5 {
		t.Fatalf("after reset --force: %v", got)
	}
}

// TestPublishersAndGC: publishers race each other, upgrading their
// packages, and a gc that runs all the time with a short grace period, so
// that it deletes what they retire while they publish; a reader checks all
// along that the database pacman reads never names a missing package.
// Every package is registered at the end, check is clean, and gc did
// delete.
func TestPublishersAndGC(t *testing.T) {
	const grace = 1500 * time.Millisecond
	tr := newTestRepo(t, "s3://farm/os/farm.db.tar.zst", Options{Grace: grace})
	const publishers, each = 4, 6
	src := t.TempDir()
	files := make([][]string, publishers)
	for p := range publishers {
		for i := range each {
			name := fmt.Sprintf("p%d-%d", p, i%3)
			files[p] = append(files[p], mkpkg(t, src, name, fmt.Sprintf("%d-1", 1+i/3)))
		}
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	var bgErr sync.Map
	var deleted atomic.Int64
	loop := func(name string, f func() error) {
		bg.Add(1)
		go func() {
			defer bg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if err := f(); err != nil {
					bgErr.LoadOrStore(name, err)
				}
			}
		}()
	}
	gcRepo := tr.reopen(Options{Grace: grace})
	loop("gc", func() error {
		res, err := gcRepo.GC(ctx, false)
		if noRepositoryYet(err) || errors.As(err, new(*GCOvertakenError)) {
			return nil // nothing to collect yet; overtaken by commits: the next round collects
		}
		if res != nil {
			deleted.Add(int64(len(res.Deleted)))
		}
		return err
	})
	loop("reader", func() error { return readersView(tr) })
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := tr.reopen(Options{Grace: grace})
			for _, f := range files[p] {
				if _, err := r.Add(ctx, []string{f}, AddOptions{}); err != nil {
					t.Error(err)
				}
				time.Sleep(300 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	time.Sleep(grace + time.Second) // gc's turn on what the last commits retired
	close(stop)
	bg.Wait()
	bgErr.Range(func(k, v any) bool {
		t.Errorf("%s: %v", k, v)
		return true
	})
	if got := registered(t, tr.Repo); len(got) != publishers*3 {
		t.Fatalf("%d registered, want %d: %v", len(got), publishers*3, got)
	}
	for name, v := range registered(t, tr.Repo) {
		if v != "2-1" {
			t.Errorf("%s %s registered, want 2-1", name, v)
		}
	}
	assertClean(t, tr.Repo, true)
	if deleted.Load() == 0 {
		t.Error("gc deleted nothing: the test did not test it")
	}
	t.Logf("gc deleted %d objects while publishers published", deleted.Load())
}

// readersView checks the database the names pacman reads hold, through
// the bucket: every package it names exists with its size, by one listing
// after the read, which sees what a HEAD of each package would (the
// publishers-and-gc reader runs all along: one request a read, not one
// per package).
func readersView(tr *testRepo) error {
	_, db := tr.addr.fixedNames()
	body, _, err := tr.bucket.Get(ctx, db[0])
	if errors.Is(err, objstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer body.Close()
	f, err := os.CreateTemp("", "pacrepo-view-*.db.tar.zst")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, body); err != nil {
		return err
	}
	f.Close()
	entries, err := readDBFile(f.Name())
	if err != nil {
		return err
	}
	listed, _, err := tr.bucket.ListLevel(ctx, tr.addr.key(""))
	if err != nil {
		return err
	}
	sizes := map[string]int64{}
	for _, o := range listed {
		sizes[o.Key] = o.Size
	}
	for _, e := range entries {
		size, ok := sizes[tr.addr.key(e.Filename)]
		if !ok {
			return fmt.Errorf("the database pacman reads names %s: %w", e.Filename, objstore.ErrNotFound)
		}
		if size != e.CSize {
			return fmt.Errorf("the database pacman reads names %s of %d bytes, the object has %d", e.Filename, e.CSize, size)
		}
	}
	return nil
}

// TestCreateWhileAnotherIsInFlight: a create refused because another
// publisher's write of the same key is in flight (not visible yet) is
// tried again instead of failing (found by the 16-publisher test, where
// all of them record the probe at once).
func TestCreateWhileAnotherIsInFlight(t *testing.T) {
	var mu sync.Mutex
	refusals := 2 // the first creates find the key held, the object not there
	objects := map[string][]byte{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.Method {
		case http.MethodPut:
			if refusals > 0 && r.Header.Get("If-None-Match") == "*" {
				refusals--
				w.WriteHeader(http.StatusPreconditionFailed)
				return
			}
			body, _ := io.ReadAll(r.Body)
			objects[r.URL.Path] = body
			w.Header().Set("ETag", `"x"`)
		case http.MethodHead:
			if _, ok := objects[r.URL.Path]; !ok {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(objects[r.URL.Path])))
		default:
			w.WriteHeader(http.StatusNotImplemented)
		}
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	b, err := objstore.Open(ctx, objstore.Config{Bucket: "farm", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := ParseURL("s3://farm/farm.db.tar.zst")
	r := New(addr, b, Options{})
	if _, err := r.putBytes(ctx, []byte("marker\n"), "k"); err != nil {
		t.Fatalf("a create while another was in flight: %v", err)
	}
	if string(objects["/farm/k"]) != "marker\n" {
		t.Fatalf("objects: %q", objects)
	}
}

// keyringOf is a keyring of keys.
func keyringOf(t *testing.T, keys ...*testutil.PGPKey) *signature.Keyring {
	t.Helper()
	var files []string
	for _, k := range keys {
		files = append(files, k.Keyring)
	}
	k, err := signature.LoadKeyring(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSignedDatabaseComesBack: a change that brings the database back to
// an earlier content (add b, remove b) reuses that generation's objects,
// the database and the signature made of it then, instead of colliding
// with a signature made again (a signature carries its time); the names
// pacman reads hold a pair that verifies.
func TestSignedDatabaseComesBack(t *testing.T) {
	key := testutil.NewPGPKey(t, "repo")
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{Sign: key.SignBytes})
	src := t.TempDir()
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	first, err := tr.readLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the next signatures carry another second
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "b", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Remove(ctx, []string{"b"}, repo.Request{}); err != nil {
		t.Fatalf("remove bringing the database back to generation %d: %v", first.Generation, err)
	}
	last, err := tr.readLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last.DB != first.DB || !last.Signed {
		t.Fatalf("generation %d: db %s (signed %v), want the objects of generation %d, %s", last.Generation, last.DB, last.Signed, first.Generation, first.DB)
	}
	keyring, err := signature.LoadKeyring([]string{key.Keyring}, nil)
	if err != nil {
		t.Fatal(err)
	}
	files, db := tr.addr.fixedNames()
	for _, name := range append(append(files, db...), last.DB, last.Files) {
		verifyObject(t, tr, keyring, name)
	}
	if rep, err := tr.Check(ctx, false); err != nil || len(rep.Findings) > 0 {
		t.Fatalf("check: %+v %v", rep, err)
	}
}

// verifyObject checks that the object key and key.sig verify against
// keyring.
func verifyObject(t *testing.T, tr *testRepo, keyring *signature.Keyring, key string) {
	t.Helper()
	data, err := os.Open(tr.objectFile(key))
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	sig, err := os.ReadFile(tr.objectFile(key + ".sig"))
	if err != nil {
		t.Fatalf("%s has no signature: %v", key, err)
	}
	if _, err := keyring.Verify(data, sig, key+".sig"); err != nil {
		t.Errorf("%s: %v", key, err)
	}
}

// TestPublishRefusesMassRemoval: publishing an empty or wrong directory
// would unregister every package of the bucket: refused without force
// (invariant 7), the plan still shown by a dry run; with force it goes.
func TestPublishRefusesMassRemoval(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/os/farm.db.tar.zst", Options{})
	src := t.TempDir()
	var files []string
	for i := range 12 {
		files = append(files, mkpkg(t, src, fmt.Sprintf("p%02d", i), "1-1"))
	}
	if _, err := tr.Add(ctx, files, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	res, err := tr.Publish(ctx, empty, nil, PublishOptions{DryRun: true})
	if !errors.As(err, new(*repo.RefusedError)) || res == nil || len(res.Plan.Actions) != 12 {
		t.Fatalf("dry run of publishing an empty directory: %+v %v", res, err)
	}
	if _, err := tr.Publish(ctx, empty, nil, PublishOptions{}); !errors.As(err, new(*repo.RefusedError)) {
		t.Fatalf("publishing an empty directory over 12 packages: %v", err)
	}
	if got := registered(t, tr.Repo); len(got) != 12 {
		t.Fatalf("a refused publish changed the repository: %v", got)
	}
	if _, err := tr.Publish(ctx, empty, nil, PublishOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, tr.Repo); len(got) != 0 {
		t.Fatalf("after publish --force: %v", got)
	}
}

// TestFixedNamesSignaturePair: copies of two publishers that interleaved
// left the db of the newest generation beside the signature of an older
// one, which real pacman requiring a signed database refuses. check
// reports it, check --repair mends it, and so does the next publisher's
// copy, which compares the signature too, not only the database.
func TestFixedNamesSignaturePair(t *testing.T) {
	key := testutil.NewPGPKey(t, "repo")
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{Sign: key.SignBytes})
	src := t.TempDir()
	a := mkpkg(t, src, "a", "1-1")
	if _, err := tr.Add(ctx, []string{a}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	older, _ := tr.readLatest(ctx)
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "b", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	keyring, err := signature.LoadKeyring([]string{key.Keyring}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Real pacman requiring a signed database reads the bucket's files.
	pm := testutil.NewPacman(t, map[string]string{"farm": tr.objectFile(tr.addr.key(""))})
	pm.RequireSignatures(map[string]string{key.Fingerprint: key.Keyring})
	pm.MustRun("-Syy")
	_, db := tr.addr.fixedNames()
	interleave := func() {
		t.Helper()
		for _, name := range db {
			if err := tr.bucket.Copy(ctx, older.DB+".sig", name+".sig"); err != nil {
				t.Fatal(err)
			}
		}
	}
	interleave()
	if out, err := pm.Run("-Syy"); err == nil {
		t.Fatalf("pacman accepted a db beside another generation's signature:\n%s", out)
	}
	rep, err := tr.Check(ctx, false)
	if err != nil || len(rep.Findings) != 2 || rep.Findings[0].Kind != "signature-pair" {
		t.Fatalf("check of a db beside another generation's signature: %+v %v", rep, err)
	}
	if rep, err = tr.Check(ctx, true); err != nil || !rep.Findings[0].Repaired {
		t.Fatalf("repair: %+v %v", rep, err)
	}
	for _, name := range db {
		verifyObject(t, tr, keyring, name)
	}
	pm.MustRun("-Syy")
	if rep, err = tr.Check(ctx, false); err != nil || len(rep.Findings) > 0 {
		t.Fatalf("check after repair: %+v %v", rep, err)
	}
	// The next change copies the pair again, though the db is current.
	interleave()
	if _, err := tr.Add(ctx, []string{a}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range db {
		verifyObject(t, tr, keyring, name)
	}
	pm.MustRun("-Syy")
}

// TestSignatureNotDroppedSilently: a publisher without a signer refuses to
// commit an unsigned generation over a signed one, which would take the
// signatures off the names pacman reads; nothing is committed. Dropping
// the signature on purpose (UnsignDatabase) works.
func TestSignatureNotDroppedSilently(t *testing.T) {
	key := testutil.NewPGPKey(t, "repo")
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{Sign: key.SignBytes})
	src := t.TempDir()
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	_, db := tr.addr.fixedNames()
	unsigned := tr.reopen(Options{})
	_, err := unsigned.Add(ctx, []string{mkpkg(t, src, "b", "1-1")}, AddOptions{})
	var ue *repo.UnsignedDatabaseError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--unsign-db") || !strings.Contains(err.Error(), "sign_db") {
		t.Fatalf("unsigned write of a signed database: %v", err)
	}
	if got := registered(t, tr.Repo); len(got) != 1 {
		t.Fatalf("the refused change changed the database: %v", got)
	}
	if h, _ := tr.readLatest(ctx); !h.Signed {
		t.Fatal("the refused change committed an unsigned generation")
	}
	for _, name := range db {
		if _, err := os.Stat(tr.objectFile(name + ".sig")); err != nil {
			t.Fatalf("the refused change dropped the signature: %v", err)
		}
	}
	if _, err := tr.reopen(Options{UnsignDatabase: true}).Remove(ctx, []string{"a"}, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range db {
		if _, err := os.Stat(tr.objectFile(name + ".sig")); !os.IsNotExist(err) {
			t.Errorf("%s.sig after dropping the signature on purpose: %v", name, err)
		}
	}
}

// TestLastUpdateNeverGoesBackwards: lastupdate, which mirrors poll, keeps
// the newest commit's time when a publisher whose clock is an hour behind
// commits next, and when a slow publisher's copy of an older generation
// lands after the newest one's.
func TestLastUpdateNeverGoesBackwards(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{})
	src := t.TempDir()
	lastUpdate := func() int64 {
		t.Helper()
		n, ok := tr.readLastUpdate(ctx)
		if !ok {
			t.Fatal("no lastupdate")
		}
		return n
	}
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	older, _ := tr.readLatest(ctx)
	first := lastUpdate()
	behind := tr.reopen(Options{Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	if _, err := behind.Add(ctx, []string{mkpkg(t, src, "b", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := lastUpdate(); got < first {
		t.Fatalf("lastupdate went back from %d to %d after a commit by a clock an hour behind", first, got)
	}
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "c", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	newest := lastUpdate()
	older.Committed = older.Committed.Add(-time.Hour) // long before, as seconds go
	if err := tr.copyGeneration(ctx, older); err != nil {
		t.Fatal(err)
	}
	if got := lastUpdate(); got < newest {
		t.Fatalf("lastupdate went back from %d to %d with a late copy of an older generation", newest, got)
	}
}

// TestSharedPrefixRefused: two repositories in one prefix would each
// take the other's packages for orphans in gc. Creating a repository
// beside another one's own objects or databases is refused naming both,
// and so are a change and a gc of a repository that finds another one in
// its prefix; the other's packages stay.
func TestSharedPrefixRefused(t *testing.T) {
	const grace = time.Hour
	now := time.Now()
	clock := func() time.Time { return now }
	alpha := newTestRepo(t, "s3://farm/x86_64/alpha.db.tar.zst", Options{Grace: grace, Now: clock})
	betaAddr := alpha.addrAt(t, "s3://farm/x86_64/beta.db.tar.zst")
	beta := New(betaAddr, alpha.bucket, Options{Grace: grace, Now: clock})
	src := t.TempDir()
	a := mkpkg(t, src, "a", "1-1")
	if _, err := alpha.Add(ctx, []string{a}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := beta.Add(ctx, []string{mkpkg(t, src, "b", "1-1")}, AddOptions{})
	var se *SharedPrefixError
	if !errors.As(err, &se) || se.Other != "alpha" || !strings.Contains(err.Error(), "beta.db.tar.zst") || !strings.Contains(err.Error(), "alpha") {
		t.Fatalf("a second repository in the prefix: %v", err)
	}
	if _, err := beta.Add(ctx, []string{mkpkg(t, src, "b", "1-1")}, AddOptions{DryRun: true}); !errors.As(err, &se) {
		t.Fatalf("dry run of a second repository in the prefix: %v", err)
	}
	if _, err := beta.Entries(ctx); !errors.As(err, new(*NoRepositoryError)) {
		t.Fatalf("the refused repository was created: %v", err)
	}
	if _, err := alpha.Add(ctx, []string{mkpkg(t, src, "c", "1-1")}, AddOptions{}); err != nil {
		t.Fatalf("alpha after beta was refused (nothing of beta is left): %v", err)
	}
	// beta's objects there anyway (made before this rule): alpha's
	// changes and gc refuse too, and a's object survives.
	if err := alpha.bucket.Put(ctx, betaAddr.commitKey(1), []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := alpha.Add(ctx, []string{mkpkg(t, src, "d", "1-1")}, AddOptions{}); !errors.As(err, &se) || se.Other != "beta" {
		t.Fatalf("a change with another repository in the prefix: %v", err)
	}
	now = now.Add(2 * grace)
	if _, err := alpha.GC(ctx, false); !errors.As(err, &se) {
		t.Fatalf("gc with another repository in the prefix: %v", err)
	}
	if _, err := os.Stat(alpha.objectFile(alpha.addr.key(filepath.Base(a)))); err != nil {
		t.Fatal(err)
	}
	// Another repository's database under the names pacman reads (a
	// directory synced there): no repository is created beside it.
	gammaAddr := alpha.addrAt(t, "s3://farm/i686/gamma.db.tar.zst")
	gamma := New(gammaAddr, alpha.bucket, Options{Grace: grace, Now: clock})
	if err := alpha.bucket.Put(ctx, gammaAddr.key("other.db.tar.zst"), []byte("a database")); err != nil {
		t.Fatal(err)
	}
	if _, err := gamma.Add(ctx, []string{a}, AddOptions{}); !errors.As(err, &se) || se.Other != "other" {
		t.Fatalf("a repository beside another one's database: %v", err)
	}
}

// TestSignedPublishersComeBack: signed publishers racing, each adding and
// removing a package of its own again and again, so that the database
// keeps coming back to contents it had (the empty one above all), with
// signatures made in other seconds: every change lands, and the names
// pacman reads end with a pair that verifies and check finds nothing.
func TestSignedPublishersComeBack(t *testing.T) {
	key := testutil.NewPGPKey(t, "repo")
	tr := newTestRepo(t, "s3://farm/p/farm.db.tar.zst", Options{Sign: key.SignBytes})
	// Two rounds: each publisher's second add and remove bring the
	// database back to contents it had, signed in another second. Without
	// the reuse of a generation's signature, two rounds failed every run
	// (four of four), as three did; the third round repeated the same
	// comebacks.
	const publishers, rounds = 4, 2
	src := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, publishers*rounds*2)
	for p := range publishers {
		name := fmt.Sprintf("p%d", p)
		file := mkpkg(t, src, name, "1.0-1")
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := tr.reopen(Options{Sign: key.SignBytes})
			for range rounds {
				if _, err := r.Add(ctx, []string{file}, AddOptions{}); err != nil {
					errs <- fmt.Errorf("add %s: %w", name, err)
				}
				time.Sleep(300 * time.Millisecond)
				if _, err := r.Remove(ctx, []string{name}, repo.Request{}); err != nil {
					errs <- fmt.Errorf("remove %s: %w", name, err)
				}
				time.Sleep(300 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := registered(t, tr.Repo); len(got) != 0 {
		t.Fatalf("registered %v, want nothing", got)
	}
	keyring, err := signature.LoadKeyring([]string{key.Keyring}, nil)
	if err != nil {
		t.Fatal(err)
	}
	files, db := tr.addr.fixedNames()
	for _, name := range append(files, db...) {
		verifyObject(t, tr, keyring, name)
	}
	if rep, err := tr.Check(ctx, false); err != nil || len(rep.Findings) > 0 {
		t.Fatalf("check: %+v %v", rep, err)
	}
}
