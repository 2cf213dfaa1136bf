package repo

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestLinksDatabase: add, update and remove keep NAME.links.tar.EXT in the
// layout sogrep reads (one NAME-VERSION/links per package, the libraries
// it needs), as bsdtar lists and extracts it, including after the
// verification cache is lost and for packages whose libraries come from
// the links database already written.
func TestLinksDatabase(t *testing.T) {
	t.Parallel()
	bsdtar := testutil.RequireTool(t, "bsdtar")
	r := newRepo(t)
	src := t.TempDir()
	copyTo := func(base string) string {
		data, err := os.ReadFile(testutil.ELFFixture(t, base))
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(src, strings.TrimSuffix(base, ".pkg.tar.zst"))
		os.MkdirAll(dir, 0o755)
		path := filepath.Join(dir, base)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	links := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		dir := t.TempDir()
		listing := testutil.Run(t, bsdtar, "-tf", r.opts.DB.LinksPath())
		testutil.Run(t, bsdtar, "-xf", r.opts.DB.LinksPath(), "-C", dir)
		for _, name := range strings.Fields(listing) {
			if strings.HasSuffix(name, "/") {
				continue
			}
			if !strings.HasSuffix(name, "/links") || strings.Count(name, "/") != 1 {
				t.Errorf("member %s is not NAME-VERSION/links", name)
			}
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			out[strings.TrimSuffix(name, "/links")] = string(data)
		}
		return out
	}
	if _, err := r.Add(ctx, []string{copyTo("libfoo-1-1-x86_64.pkg.tar.zst"), copyTo("bar-1-1-x86_64.pkg.tar.zst"), copyTo("baz-1-1-any.pkg.tar.zst")}, AddOptions{Mode: Copy}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"libfoo-1-1": "", "bar-1-1": "libc.so.6\nlibfoo.so.1\n", "baz-1-1": ""}
	if got := links(); !reflect.DeepEqual(got, want) {
		t.Fatalf("links database %q, want %q", got, want)
	}
	// The other entries' links come from the links database written, or
	// from the packages when it and the cache are gone.
	os.Remove(r.cachePath())
	if _, err := r.Add(ctx, []string{copyTo("libfoo-2-1-x86_64.pkg.tar.zst")}, AddOptions{Mode: Copy}); err != nil {
		t.Fatal(err)
	}
	delete(want, "libfoo-1-1")
	want["libfoo-2-1"] = ""
	if got := links(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the upgrade: %q, want %q", got, want)
	}
	os.Remove(r.opts.DB.LinksPath())
	os.Remove(r.cachePath())
	if _, err := r.Remove(ctx, []string{"baz"}, Request{}); err != nil {
		t.Fatal(err)
	}
	delete(want, "baz-1-1")
	if got := links(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after remove: %q, want %q", got, want)
	}
	// check holds the links database to the packages: one a change ahead
	// (a crash between it and the databases) is reported, and repaired.
	if rep, err := r.Check(ctx, false); err != nil || len(rep.Findings) != 0 {
		t.Fatalf("check: %v %+v", err, rep)
	}
	if err := repodb.WriteLinks(r.opts.DB, []repodb.Links{{Name: "bar", Version: "1-1"}, {Name: "libfoo", Version: "3-1"}}); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Check(ctx, true)
	if err != nil || len(rep.Findings) != 1 || rep.Findings[0].Kind != FindLinks || !rep.Findings[0].Repaired {
		t.Fatalf("check --repair of a links database a change ahead: %v %+v", err, rep)
	}
	if got := links(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after repair: %q, want %q", got, want)
	}
	// ReadLinks reads what WriteLinks wrote.
	got, err := repodb.ReadLinks(r.opts.DB.LinksPath())
	if err != nil || !slices.Equal(got["bar-1-1"], []string{"libc.so.6", "libfoo.so.1"}) {
		t.Fatalf("ReadLinks: %v %v", got, err)
	}
}

// TestLinksAfterCrash: a change that stops between the links database's
// write and the databases' leaves it a change ahead; the recovery the
// next command begins with rolls the change back and writes the links
// database of the database on disk. (In-process, the stop a panic: not
// parallel, since the hook is global.)
func TestLinksAfterCrash(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	a := mkpkg(t, src, "a", "1-1")
	if _, err := r.Add(ctx, []string{a}, AddOptions{Mode: Copy}); err != nil {
		t.Fatal(err)
	}
	b := mkpkg(t, src, "b", "1-1")
	crashHook = func(step string) {
		if step == "after-links" {
			panic(step)
		}
	}
	func() {
		defer func() { recover() }()
		r.Add(ctx, []string{b}, AddOptions{Mode: Copy})
	}()
	crashHook = nil
	ahead, err := repodb.ReadLinks(r.opts.DB.LinksPath())
	if _, ok := ahead["b-1-1"]; err != nil || !ok {
		t.Fatalf("the stop was not between the links database and the databases: %v %v", ahead, err)
	}
	if _, err := r.Remove(ctx, []string{"nothing"}, Request{}); err != nil {
		t.Logf("remove of nothing: %v", err)
	}
	got, err := repodb.ReadLinks(r.opts.DB.LinksPath())
	if _, ok := got["b-1-1"]; err != nil || ok || len(got) != 1 {
		t.Fatalf("after recovery the links database lists %v (%v), want a-1-1 alone", got, err)
	}
}

// TestLinksIncremental: a change writes the links database through its
// index, as WriteLinks would write it whole (byte for byte, bsdtar reading
// it), and one that changes no package it lists (an entry registered anew
// with the same package, only its %PGPSIG% changed) leaves the file as it
// is rather than reading and writing it whole.
func TestLinksIncremental(t *testing.T) {
	t.Parallel()
	bsdtar := testutil.RequireTool(t, "bsdtar")
	packager, other := testutil.NewPGPKey(t, "packager"), testutil.NewPGPKey(t, "other")
	r := withOpts(newRepo(t), func(o *Options) { o.Keyring = keyringOf(t, packager, other) })
	src := t.TempDir()
	a, b := mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1")
	bar := filepath.Join(src, "bar-1-1-x86_64.pkg.tar.zst")
	if data, err := os.ReadFile(testutil.ELFFixture(t, filepath.Base(bar))); err != nil || os.WriteFile(bar, data, 0o644) != nil {
		t.Fatal(err)
	}
	for _, p := range []string{a, b, bar} {
		packager.SignFile(t, p)
	}
	if _, err := r.Add(ctx, []string{a, b, bar}, AddOptions{Mode: Copy, Request: Request{EmbedSignatures: true}}); err != nil {
		t.Fatal(err)
	}
	want := []repodb.Links{{Name: "a", Version: "1-1"}, {Name: "b", Version: "1-1"},
		{Name: "bar", Version: "1-1", Libraries: []string{"libc.so.6", "libfoo.so.1"}}}
	same := func(when string) {
		t.Helper()
		if repodb.ReadLinksIndex(r.opts.DB) == nil {
			t.Fatalf("%s: no links index describes the links database", when)
		}
		ref := repodb.Location{Dir: t.TempDir(), Name: "test", Ext: ".tar.zst"}
		if err := repodb.WriteLinks(ref, want); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(r.opts.DB.LinksPath())
		whole, _ := os.ReadFile(ref.LinksPath())
		if !bytes.Equal(got, whole) {
			t.Fatalf("%s: the links database differs from a whole write of its links", when)
		}
		listing := testutil.Run(t, bsdtar, "-tf", r.opts.DB.LinksPath())
		if n := strings.Count(listing, "/links\n"); n != len(want) {
			t.Fatalf("%s: bsdtar lists %d links files, want %d:\n%s", when, n, len(want), listing)
		}
	}
	same("after the first add")
	before, err := fsutil.StatID(r.opts.DB.LinksPath())
	if err != nil {
		t.Fatal(err)
	}
	// a signed by another trusted key: update registers it anew with its
	// new %PGPSIG%; the databases change, the links do not.
	sigBefore := pgpSigs(t, r)["a"]
	other.SignFile(t, filepath.Join(r.dir(), filepath.Base(a)))
	if _, err := r.Update(ctx, []string{"a"}, Request{EmbedSignatures: true}); err != nil {
		t.Fatal(err)
	}
	if sig := pgpSigs(t, r)["a"]; sig == sigBefore || sig == "" {
		t.Fatal("update did not register a anew with its new signature")
	}
	if after, _ := fsutil.StatID(r.opts.DB.LinksPath()); after != before {
		t.Fatal("a change of no package's links wrote the links database")
	}
	same("after a change of no package's links")
	c := mkpkg(t, src, "c", "1-1")
	if _, err := r.Add(ctx, []string{c}, AddOptions{Mode: Copy}); err != nil {
		t.Fatal(err)
	}
	want = append(want, repodb.Links{Name: "c", Version: "1-1"})
	same("after an add")
	if _, err := r.Remove(ctx, []string{"b"}, Request{}); err != nil {
		t.Fatal(err)
	}
	want = slices.DeleteFunc(want, func(l repodb.Links) bool { return l.Name == "b" })
	same("after a remove")
}
