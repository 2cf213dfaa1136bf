package s3repo

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/signature"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// actionsOf is res's plan as "kind name, ...".
func actionsOf(res *repo.Result) string {
	if res == nil || res.Plan == nil {
		return ""
	}
	var out []string
	for _, a := range res.Plan.Actions {
		out = append(out, string(a.Kind)+" "+a.Name)
	}
	return strings.Join(out, ", ")
}

// putObjects uploads files as their objects, as another tool (or a
// publisher killed before its commit) leaves them.
func (tr *testRepo) putObjects(t *testing.T, files ...string) {
	t.Helper()
	for _, f := range files {
		if _, err := tr.putFile(ctx, f, tr.addr.key(filepath.Base(f)), ""); err != nil {
			t.Fatal(err)
		}
	}
}

// replaceRaw replaces the object key by data as a tool that records no
// SHA-256 does: in the server's own files.
func (tr *testRepo) replaceRaw(t *testing.T, key string, data []byte) {
	t.Helper()
	if err := tr.bucket.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tr.objectFile(key), data, 0o644); err != nil {
		t.Fatal(err)
	}
	obj, err := tr.bucket.Head(ctx, key)
	if err != nil || obj.SHA256 != "" || obj.Size != int64(len(data)) {
		t.Fatalf("object written without its SHA-256: %+v %v", obj, err)
	}
}

// TestBucketSignaturePolicy: update, status and reset of a bucket judge
// every package object's signature by the repository's policy (keyring,
// require_signature) as they do in a directory: an object without its
// .sig, or with one by a key not in the keyring, is a problem and never
// registered; check verifies the signatures of the registered packages.
func TestBucketSignaturePolicy(t *testing.T) {
	packager, stranger := testutil.NewPGPKey(t, "packager"), testutil.NewPGPKey(t, "stranger")
	policy := repo.SignaturePolicy{Require: true, Keyring: keyringOf(t, packager)}
	tr := newTestRepo(t, "s3://farm/x/farm.db.tar.zst", Options{Signatures: policy})
	src := t.TempDir()
	a := mkpkg(t, src, "a", "1-1")
	packager.SignFile(t, a)
	if _, err := tr.Add(ctx, []string{a}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	b, c, d := mkpkg(t, src, "b", "1-1"), mkpkg(t, src, "c", "1-1"), mkpkg(t, src, "d", "1-1")
	tr.putObjects(t, b, c, stranger.SignFile(t, c), d, packager.SignFile(t, d))
	res, err := tr.Update(ctx, nil, repo.Request{DryRun: true})
	if err != nil || actionsOf(res) != "new d" {
		t.Fatalf("status: %q %v", actionsOf(res), err)
	}
	kinds := map[string]signature.Kind{}
	for _, p := range res.Plan.Problems {
		kinds[filepath.Base(p.Path)] = p.Signature
	}
	if kinds[filepath.Base(b)] != signature.Missing || kinds[filepath.Base(c)+".sig"] != signature.UnknownKey || len(kinds) != 2 {
		t.Fatalf("status problems: %+v", res.Plan.Problems)
	}
	if _, err := tr.Update(ctx, nil, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, tr.Repo); len(got) != 2 || got["a"] == "" || got["d"] == "" {
		t.Fatalf("after update: %v", got)
	}
	if _, err := tr.Reset(ctx, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, tr.Repo); len(got) != 2 || got["a"] == "" || got["d"] == "" {
		t.Fatalf("after reset: %v", got)
	}
	assertClean(t, tr.Repo, true)
	// a's signature replaced by one of another key: check says so.
	if err := tr.bucket.Put(ctx, tr.addr.key(filepath.Base(a))+".sig", stranger.Sign(t, a)); err != nil {
		t.Fatal(err)
	}
	rep, err := tr.Check(ctx, false)
	if err != nil || len(rep.Findings) != 1 || rep.Findings[0].Kind != "signature" {
		t.Fatalf("check of a package signed by a stranger: %+v %v", rep, err)
	}
}

// TestRemovedStaysRemoved: an object a commit unregistered or retired
// (remove retires every object of the name; an upgrade the one it
// replaces) is a candidate for nothing until gc deletes it,
// as a file retired in place is in a directory: status and update plan
// nothing for it and reset leaves it out; an add of it registers it
// again.
func TestRemovedStaysRemoved(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{})
	src := t.TempDir()
	p01, p02 := mkpkg(t, src, "p01", "1-1"), mkpkg(t, src, "p02", "1-1")
	for _, files := range [][]string{{p01, p02}, {mkpkg(t, src, "p01", "2-1")}} {
		if _, err := tr.Add(ctx, files, AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// An older p02 uploaded by other means: remove retires it too.
	tr.putObjects(t, mkpkg(t, src, "p02", "0.9-1"))
	if _, err := tr.Remove(ctx, []string{"p02"}, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	for what, plan := range map[string]func() (*repo.Result, error){
		"status":   func() (*repo.Result, error) { return tr.Update(ctx, nil, repo.Request{DryRun: true}) },
		"update":   func() (*repo.Result, error) { return tr.Update(ctx, nil, repo.Request{}) },
		"reset -n": func() (*repo.Result, error) { return tr.Reset(ctx, repo.Request{DryRun: true}) },
		"reset":    func() (*repo.Result, error) { return tr.Reset(ctx, repo.Request{}) },
	} {
		res, err := plan()
		if err != nil || actionsOf(res) != "" || len(res.Plan.Problems) > 0 {
			t.Errorf("%s after remove p02 and upgrade p01: %q %+v %v", what, actionsOf(res), res, err)
		}
	}
	if got := registered(t, tr.Repo); len(got) != 1 || got["p01"] != "2-1" {
		t.Fatalf("registered %v", got)
	}
	if _, err := tr.Update(ctx, []string{"p02"}, repo.Request{}); !errors.As(err, new(*repo.UnknownPackageError)) {
		t.Fatalf("update p02 after its removal: %v", err)
	}
	if _, err := tr.Add(ctx, []string{p02}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, tr.Repo); len(got) != 2 || got["p02"] != "1-1" {
		t.Fatalf("after add p02 again: %v", got)
	}
	if res, err := tr.Update(ctx, nil, repo.Request{DryRun: true}); err != nil || actionsOf(res) != "" {
		t.Fatalf("status after add p02 again: %q %v", actionsOf(res), err)
	}
}

// TestUnhashedObjectsAreRead: check and reset trust a registered object
// only with the SHA-256 it was written with; one replaced by a tool that
// records none (random bytes of its size, another package's .sig) is read
// and hashed, and its signature verified, before it counts.
func TestUnhashedObjectsAreRead(t *testing.T) {
	packager := testutil.NewPGPKey(t, "packager")
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{Signatures: repo.SignaturePolicy{Keyring: keyringOf(t, packager)}})
	src := t.TempDir()
	a, b, c := mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"), mkpkg(t, src, "c", "1-1")
	for _, f := range []string{b, c} {
		packager.SignFile(t, f)
	}
	if _, err := tr.Add(ctx, []string{a, b, c}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	assertClean(t, tr.Repo, true)
	fi, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, fi.Size())
	rand.Read(junk)
	tr.replaceRaw(t, tr.addr.key(filepath.Base(a)), junk)
	sigC, err := os.ReadFile(c + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	tr.replaceRaw(t, tr.addr.key(filepath.Base(b))+".sig", sigC)
	rep, err := tr.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, f := range rep.Findings {
		found[filepath.Base(f.URL)] = f.Kind
	}
	if found[filepath.Base(a)] != "damaged" || found[filepath.Base(b)+".sig"] != "signature" || len(found) != 2 {
		t.Fatalf("check: %+v", rep.Findings)
	}
	res, err := tr.Reset(ctx, repo.Request{DryRun: true})
	if err != nil || len(res.Plan.Problems) != 2 || actionsOf(res) != "" {
		t.Fatalf("reset -n: %q %+v %v", actionsOf(res), res.Plan.Problems, err)
	}
}

// TestRemovedStaysRemovedAfterAnUpgrade: a package an earlier pacrepo's
// commit unregistered (its record names it only among what the
// generation retired) stays removed too, and the next commit records it
// as kept.
func TestRemovedStaysRemovedAfterAnUpgrade(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{})
	src := t.TempDir()
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "p01", "1-1"), mkpkg(t, src, "p02", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Remove(ctx, []string{"p02"}, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	// The record as an earlier pacrepo wrote it: no kept objects.
	h, err := tr.readLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.Kept = nil
	if err := tr.bucket.Put(ctx, tr.addr.commitKey(h.Generation), encodeRecord(h)); err != nil {
		t.Fatal(err)
	}
	res, err := tr.Update(ctx, nil, repo.Request{DryRun: true})
	if err != nil || actionsOf(res) != "" {
		t.Fatalf("status after an earlier pacrepo removed p02: %q %v", actionsOf(res), err)
	}
	// An update that commits records p02 as kept from then on.
	tr.putObjects(t, mkpkg(t, src, "p03", "1-1"))
	if res, err := tr.Update(ctx, nil, repo.Request{}); err != nil || actionsOf(res) != "new p03" {
		t.Fatalf("update: %q %v", actionsOf(res), err)
	}
	if h, err = tr.readLatest(ctx); err != nil || len(h.Kept) != 1 || h.Kept[0].Name != "p02" {
		t.Fatalf("kept after the update: %+v %v", h, err)
	}
}

// TestCheckEmbeddedSignature: without a keyring, check still holds an
// entry's embedded signature against its package's .sig.
func TestCheckEmbeddedSignature(t *testing.T) {
	packager := testutil.NewPGPKey(t, "packager")
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{})
	src := t.TempDir()
	a, b := mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1")
	packager.SignFile(t, a)
	packager.SignFile(t, b)
	if _, err := tr.Add(ctx, []string{a, b}, AddOptions{EmbedSignatures: true}); err != nil {
		t.Fatal(err)
	}
	assertClean(t, tr.Repo, true)
	if err := tr.bucket.Put(ctx, tr.addr.key(filepath.Base(a))+".sig", packager.Sign(t, b)); err != nil {
		t.Fatal(err)
	}
	rep, err := tr.Check(ctx, false)
	if err != nil || len(rep.Findings) != 1 || rep.Findings[0].Kind != "embedded-signature" {
		t.Fatalf("check of a .sig that is not the embedded one: %+v %v", rep, err)
	}
}

// TestKeptForgottenAfterGC: the kept record does not grow for ever in a
// farm that only adds: a commit forgets the objects kept longer than the
// grace period that gc deleted.
func TestKeptForgottenAfterGC(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	const grace = time.Hour
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{Grace: grace, Now: clock})
	src := t.TempDir()
	for _, f := range []string{mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "a", "2-1")} {
		if _, err := tr.Add(ctx, []string{f}, AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	keptNames := func() []string {
		t.Helper()
		h, err := tr.readLatest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range h.Kept {
			out = append(out, k.Filename)
		}
		return out
	}
	if got := keptNames(); len(got) != 1 || got[0] != "a-1-1-x86_64.pkg.tar.zst" {
		t.Fatalf("kept after the upgrade: %v", got)
	}
	// Within the grace period a commit keeps it; after gc deleted it, the
	// next commit forgets it.
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "b", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := keptNames(); len(got) != 1 {
		t.Fatalf("kept within the grace period: %v", got)
	}
	now = now.Add(grace + time.Minute)
	time.Sleep(1100 * time.Millisecond) // the server's times have a second's resolution
	if _, err := tr.GC(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "c", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := keptNames(); len(got) != 0 {
		t.Fatalf("kept after gc deleted it: %v", got)
	}
}

// TestSameVersionOtherBuildsStayInABucket: the directory's rule, held in a
// bucket too: a second object of the registered version (another
// architecture's build) is reported, never retired, so that no commit
// records it as kept and gc never takes it; an older version is retired.
func TestSameVersionOtherBuildsStayInABucket(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{})
	src := t.TempDir()
	build := func(ver, arch string) string {
		p, err := pkggen.MakePackage(src, pkggen.Spec{Name: "sp", Version: ver, Arch: arch, NumFiles: 3, FileSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := tr.Add(ctx, []string{build("1.0-1", "x86_64")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	older, other := build("0.9-1", "x86_64"), build("1.0-1", "any")
	tr.putObjects(t, older, other)
	res, err := tr.Update(ctx, nil, repo.Request{})
	if err != nil {
		t.Fatal(err)
	}
	dups := 0
	for _, p := range res.Plan.Problems {
		var dup *repo.DuplicateVersionError
		if errors.As(p.Err, &dup) && filepath.Base(p.Path) == filepath.Base(other) {
			dups++
		}
	}
	if dups != 1 {
		t.Errorf("problems %+v: want %s reported as a second build of 1.0-1", res.Plan.Problems, filepath.Base(other))
	}
	h, err := tr.readLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, k := range h.Kept {
		kept[k.Filename] = true
	}
	if kept[filepath.Base(other)] || !kept[filepath.Base(older)] {
		t.Errorf("kept %v: want the older version and not the other build of 1.0-1", h.Kept)
	}
	if got := registered(t, tr.Repo); got["sp"] != "1.0-1" {
		t.Errorf("registered %v", got)
	}
}

// TestAddUnderCanonicalNameInABucket: add uploads a package under its
// canonical name whatever its file is called, as in a directory: a file
// named after another version of sp must not take the key the real sp
// 2.0-1 needs.
func TestAddUnderCanonicalNameInABucket(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{})
	src, odd := t.TempDir(), t.TempDir()
	misnamed := filepath.Join(odd, "sp-2.0-1-x86_64.pkg.tar.zst")
	if err := os.Rename(mkpkg(t, src, "sp", "1.0-1"), misnamed); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Add(ctx, []string{misnamed}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "sp", "2.0-1")}, AddOptions{}); err != nil {
		t.Fatalf("the real sp 2.0-1 after a misnamed 1.0-1: %v", err)
	}
	es, err := tr.Entries(ctx)
	if err != nil || len(es) != 1 || es[0].Version != "2.0-1" || es[0].Filename != "sp-2.0-1-x86_64.pkg.tar.zst" {
		t.Fatalf("entries %+v (%v)", es, err)
	}
	if _, err := os.Stat(tr.objectFile("sp-1.0-1-x86_64.pkg.tar.zst")); err != nil {
		t.Errorf("the misnamed 1.0-1 was not uploaded under its canonical name: %v", err)
	}
}
