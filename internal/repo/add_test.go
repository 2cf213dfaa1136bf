package repo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

func TestAddIsAllOrNothing(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	good := mkpkg(t, src, "a", "1-1")
	bad := filepath.Join(src, "b-1-1-x86_64.pkg.tar.zst")
	os.WriteFile(bad, random(500), 0o644)
	short := filepath.Join(src, "c-1-1-x86_64.pkg.tar.zst")
	os.WriteFile(short, must(os.ReadFile(mkpkg(t, t.TempDir(), "c", "1-1")))[:300], 0o644)
	_, err := r.Add(ctx, []string{good, bad, short}, AddOptions{Mode: Copy})
	var ue *UnreadableFilesError
	if !errors.As(err, &ue) || len(ue.Problems) != 2 {
		t.Fatalf("got %v", err)
	}
	if got := listing(t, r.dir()); len(got) != 0 {
		t.Fatalf("something was added: %v", got)
	}
}

func TestAddCollisionAndInPlace(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	a := mkpkg(t, src, "a", "1-1")
	// A different file under the same name is never replaced.
	os.WriteFile(filepath.Join(r.dir(), filepath.Base(a)), []byte("someone else's"), 0o644)
	var ce *CollisionError
	if _, err := r.Add(ctx, []string{a}, AddOptions{Mode: Copy}); !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
	os.Remove(filepath.Join(r.dir(), filepath.Base(a)))
	// A file already in the directory is registered where it is, even with Move.
	in := mkpkg(t, r.dir(), "b", "1-1")
	if _, err := r.Add(ctx, []string{in}, AddOptions{Mode: Move}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(in); err != nil {
		t.Fatal("in-place file deleted")
	}
	// Link mode places a symbolic link to the absolute source.
	if _, err := r.Add(ctx, []string{a}, AddOptions{Mode: Link}); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(r.dir(), filepath.Base(a))); err != nil || target != a {
		t.Fatalf("link: %q %v", target, err)
	}
	// Move removes the source only after the database is written.
	c := mkpkg(t, src, "c", "1-1")
	if _, err := r.Add(ctx, []string{c}, AddOptions{Mode: Move}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c); !os.IsNotExist(err) {
		t.Fatal("moved source still there")
	}
	if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"a": "1-1", "b": "1-1", "c": "1-1"}) {
		t.Fatalf("registered %v", got)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
	// Adding an older version downgrades and retires the newer file.
	if _, err := r.Add(ctx, []string{mkpkg(t, src, "c", "0.5-1")}, AddOptions{Mode: Copy}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, r); got["c"] != "0.5-1" {
		t.Fatalf("downgrade: %v", got)
	}
	assertClean(t, r)
}

func TestRequireSignature(t *testing.T) {
	r := withOpts(newRepo(t), func(o *Options) { o.RequireSignature = true })
	src := t.TempDir()
	a := mkpkg(t, src, "a", "1-1")
	if _, err := r.Add(ctx, []string{a}, AddOptions{Mode: Copy}); !errors.Is(err, ErrUnsigned) && !isUnsigned(err) {
		t.Fatalf("got %v", err)
	}
	key := testutil.NewPGPKey(t, "packager")
	sig := key.Sign(t, a)
	os.WriteFile(a+".sig", sig, 0o644)
	if _, err := r.Add(ctx, []string{a}, AddOptions{Mode: Copy, Request: Request{EmbedSignatures: true}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(must(os.ReadFile(filepath.Join(r.dir(), filepath.Base(a)+".sig"))), sig) {
		t.Fatal("signature not placed")
	}
	es, _ := r.Entries(ctx)
	if es[0].PGPSig == "" {
		t.Fatal("no PGPSIG in the entry")
	}
	// An unsigned file dropped in is a problem, not registered.
	mkpkg(t, r.dir(), "b", "1-1")
	res, err := r.Update(ctx, nil, Request{})
	if err != nil || len(res.Plan.Problems) != 1 || registered(t, r)["b"] != "" {
		t.Fatalf("unsigned drop-in: %v %+v", err, res)
	}
}

func isUnsigned(err error) bool {
	var ue *UnreadableFilesError
	return errors.As(err, &ue) && errors.Is(ue.Problems[0].Err, ErrUnsigned)
}

// TestFilesDBDisagreement simulates a crash between the two database
// renames: check reports it, repair rewrites the files database.
func TestFilesDBDisagreement(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
	old := must(os.ReadFile(r.opts.DB.FilesPath()))
	mustAdd(t, r, mkpkg(t, src, "b", "1-1"))
	os.WriteFile(r.opts.DB.FilesPath(), old, 0o644)
	rep, err := r.Check(ctx, true)
	if err != nil || len(rep.Findings) != 1 || rep.Findings[0].Kind != FindFilesDB || !rep.Findings[0].Repaired {
		t.Fatalf("%v %+v", err, rep)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
}

// TestCheckRehashes: a registered file changed in place with its size and
// mtime kept fools the status cache, never check; update then refreshes
// only a file that reads correctly.
func TestCheckRehashes(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
	path := filepath.Join(r.dir(), fn("a", "1-1"))
	fi, _ := os.Stat(path)
	b := must(os.ReadFile(path))
	b[len(b)/2] ^= 0xff
	os.WriteFile(path, b, 0o644)
	os.Chtimes(path, time.Now(), fi.ModTime())
	rep, err := r.Check(ctx, false)
	if err != nil || len(rep.Findings) == 0 {
		t.Fatalf("check missed a damaged file: %v %+v", err, rep)
	}
	res, err := r.Update(ctx, nil, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if registered(t, r)["a"] != "1-1" {
		t.Fatal("damaged file made update drop the entry")
	}
	_ = res
}

// TestAddPartial: with Partial, what can be added is added and every other
// source is accounted for, by name, as a problem or a skip; nothing of the
// repository is touched for them.
func TestAddPartial(t *testing.T) {
	r := newRepo(t)
	taken := mkpkg(t, t.TempDir(), "taken", "1-1")
	mustAdd(t, r, taken)
	src := t.TempDir()
	good := mkpkg(t, src, "a", "1-1")
	older := mkpkg(t, src, "b", "1-1")
	newer := mkpkg(t, src, "b", "2-1")
	garbage := filepath.Join(src, "c-1-1-x86_64.pkg.tar.zst")
	os.WriteFile(garbage, random(500), 0o644)
	short := filepath.Join(src, "d-1-1-x86_64.pkg.tar.zst")
	os.WriteFile(short, must(os.ReadFile(mkpkg(t, t.TempDir(), "d", "1-1")))[:300], 0o644)
	// A different file under a name the repository holds already.
	collide := testutil.MustMakePackage(t, src, testutil.PackageSpec{Name: "taken", Version: "1-1", NumFiles: 5})
	if filepath.Base(collide) != filepath.Base(taken) {
		t.Fatalf("%s and %s should have one name", collide, taken)
	}
	res, err := r.Add(ctx, []string{good, older, newer, garbage, short, collide}, AddOptions{Mode: Move, Partial: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := registered(t, r); got["a"] != "1-1" || got["b"] != "2-1" || got["taken"] != "1-1" || len(got) != 3 {
		t.Fatalf("registered %v", got)
	}
	problems := map[string]bool{}
	for _, p := range res.Plan.Problems {
		problems[p.Path] = true
	}
	for _, f := range []string{garbage, short, collide} {
		if !problems[f] {
			t.Errorf("no problem names %s: %+v", f, res.Plan.Problems)
		}
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s was touched: %v", f, err)
		}
	}
	skipped := false
	for _, a := range res.Plan.Actions {
		skipped = skipped || a.Kind == ActSkip && a.File == older
	}
	if !skipped {
		t.Errorf("the older b is not a skip: %+v", res.Plan.Actions)
	}
	if _, err := os.Stat(older); err != nil {
		t.Errorf("the skipped file was moved: %v", err)
	}
	for _, f := range []string{good, newer} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was not moved: %v", f, err)
		}
	}
	assertClean(t, r)
}

// TestAddAgainWhatIsKeptInPlace: in keep-in-place mode, adding a package
// whose identical file was retired in place registers that file again; it
// used to be refused as "a different file" under its name.
func TestAddAgainWhatIsKeptInPlace(t *testing.T) {
	r := withOpts(newRepo(t), func(o *Options) { o.RetireInPlace = true })
	src := t.TempDir()
	a1 := mkpkg(t, src, "a", "1-1")
	mustAdd(t, r, a1)
	mustAdd(t, r, mkpkg(t, src, "a", "2-1")) // a-1-1 is kept in place
	if _, err := r.Add(ctx, []string{a1}, AddOptions{Mode: Copy}); err != nil {
		t.Fatalf("adding the kept a-1-1 again: %v", err)
	}
	if got := registered(t, r); got["a"] != "1-1" {
		t.Fatalf("registered %v, want a 1-1", got)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
}
