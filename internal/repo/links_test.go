package repo

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

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
