package repo

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAddUpdateRemove(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	a1 := mkpkg(t, src, "a", "1.0-1")
	b1 := mkpkg(t, src, "b", "1.0-1")
	res, err := r.Add(ctx, []string{a1, b1}, AddOptions{Mode: Copy})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Applied {
		t.Fatal("not applied")
	}
	if got := registered(t, r); got["a"] != "1.0-1" || got["b"] != "1.0-1" {
		t.Fatalf("registered %v", got)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
	// A newer file dropped into the directory: update registers it and
	// retires the old one.
	mkpkg(t, r.dir(), "a", "1.0-2")
	p, err := r.Status(ctx, nil, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Actions) != 2 || p.Actions[0].Kind != ActUpgrade || p.Actions[1].Kind != ActRetire {
		t.Fatalf("status %+v", p.Actions)
	}
	if _, err := r.Update(ctx, nil, Request{}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, r); got["a"] != "1.0-2" {
		t.Fatalf("registered %v", got)
	}
	if _, err := os.Stat(filepath.Join(r.dir(), filepath.Base(a1))); !os.IsNotExist(err) {
		t.Fatalf("old file not retired: %v", err)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
	if _, err := r.Remove(ctx, []string{"b"}, Request{}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, r); len(got) != 1 {
		t.Fatalf("registered %v", got)
	}
	if _, err := os.Stat(filepath.Join(r.dir(), filepath.Base(b1))); !os.IsNotExist(err) {
		t.Fatalf("removed file still there: %v", err)
	}
	if _, err := os.Stat(b1); err != nil {
		t.Fatalf("copy mode touched the source: %v", err)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
	// The second update has nothing to do and the cache spares reading.
	p, err = r.Status(ctx, nil, Request{})
	if err != nil || len(p.Actions) != 0 {
		t.Fatalf("status after: %v %+v", err, p)
	}
}
