package s3repo

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/repo"
)

// TestHistoryInCommitRecords: each commit record is a generation saying
// who made it and what it changed; its databases are the generation's
// objects; a record of an older pacrepo (no change fields) still reads.
func TestHistoryInCommitRecords(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/x86_64/farm.db.tar.zst", Options{Command: "pacrepo add a b"})
	src := t.TempDir()
	a, b := mkpkg(t, src, "a", "1.0-1"), mkpkg(t, src, "b", "2.0-1")
	if _, err := tr.Add(ctx, []string{a, b}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1.1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Remove(ctx, []string{"b"}, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	h := tr.History()
	gens, err := h.Generations(ctx)
	if err != nil || len(gens) != 3 || gens[0] != 1 || gens[2] != 3 {
		t.Fatalf("generations %v, %v", gens, err)
	}
	first, err := h.Record(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if first.Command != "pacrepo add a b" || first.PID != os.Getpid() || len(first.Registered) != 2 || len(first.Databases) != 2 {
		t.Fatalf("record 1: %+v", first)
	}
	up, _ := h.Record(ctx, 2)
	if len(up.Registered) != 1 || up.Registered[0].From != "1.0-1" || len(up.Retired) != 1 ||
		up.Retired[0].File != filepath.Base(a) || up.Retired[0].Disposal != history.Kept {
		t.Errorf("record 2: %+v", up)
	}
	rm, _ := h.Record(ctx, 3)
	if len(rm.Unregistered) != 1 || rm.Unregistered[0].Name != "b" || rm.Unregistered[0].Version != "2.0-1" {
		t.Errorf("record 3: %+v", rm)
	}
	pkgs, err := h.Packages(ctx, first)
	if err != nil || len(pkgs) != 2 || pkgs[0].Name != "a" || pkgs[0].Version != "1.0-1" {
		t.Fatalf("generation 1 holds %v, %v", pkgs, err)
	}
	if _, err := h.Record(ctx, 9); !errors.As(err, new(*history.NotFoundError)) {
		t.Errorf("record 9: %v", err)
	}
	// A record as an older pacrepo wrote it: no change fields.
	old := []byte(`{"version":1,"generation":4,"db":"` + up.Databases[1].Path + `","files":"` + up.Databases[0].Path +
		`","db_sha256":"` + up.Databases[1].SHA256 + `","files_sha256":"` + up.Databases[0].SHA256 + `","committed":"2026-01-02T03:04:05Z"}`)
	if _, err := tr.bucket.CreateBytes(ctx, tr.addr.commitKey(4), old); err != nil {
		t.Fatal(err)
	}
	rec, err := h.Record(ctx, 4)
	if err != nil || rec.Command != "" || len(rec.Databases) != 2 {
		t.Fatalf("an older record: %+v, %v", rec, err)
	}
	if got := registered(t, tr.Repo); len(got) != 2 || got["b"] != "2.0-1" {
		t.Fatalf("registered after an older record: %v", got)
	}
}

// TestRollback: rollback to a generation brings its packages back from
// the objects kept for gc, as a new generation; a generation whose
// objects gc deleted is refused, naming them.
func TestRollback(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/x86_64/farm.db.tar.zst", Options{})
	src := t.TempDir()
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1.0-1"), mkpkg(t, src, "b", "1.0-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "2.0-1"), mkpkg(t, src, "c", "1.0-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := tr.Rollback(ctx, 1, repo.Request{DryRun: true})
	if err != nil || res.Applied {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if res, err = tr.Rollback(ctx, 1, repo.Request{}); err != nil || !res.Applied {
		t.Fatalf("rollback: %+v, %v", res, err)
	}
	if got := registered(t, tr.Repo); len(got) != 2 || got["a"] != "1.0-1" || got["b"] != "1.0-1" {
		t.Fatalf("registered after rollback: %v", got)
	}
	if rep, err := tr.Check(ctx, false); err != nil || len(rep.Findings) > 0 {
		t.Fatalf("check: %+v %v", rep, err)
	}
	rec, err := tr.History().Record(ctx, 3)
	if err != nil || len(rec.Registered) != 1 || rec.Registered[0].From != "2.0-1" || len(rec.Unregistered) != 1 {
		t.Fatalf("rollback's record: %+v, %v", rec, err)
	}
	// Rolling forward again, then losing an object generation 1 needs.
	if _, err := tr.Rollback(ctx, 2, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	if err := tr.bucket.Delete(ctx, tr.addr.key("a-1.0-1-x86_64.pkg.tar.zst")); err != nil {
		t.Fatal(err)
	}
	_, err = tr.Rollback(ctx, 1, repo.Request{})
	var me *repo.MissingFilesError
	if !errors.As(err, &me) || len(me.Files) != 1 || me.Files[0] != "a-1.0-1-x86_64.pkg.tar.zst" {
		t.Fatalf("rollback with an object gone: %v", err)
	}
	if got := registered(t, tr.Repo); got["a"] != "2.0-1" {
		t.Fatalf("a refused rollback changed the repository: %v", got)
	}
}

// TestGCKeepsRetainedGenerations: gc keeps, past the grace period, the
// package objects, databases and records of the newest KeepGenerations
// generations (the rule a directory follows too); it deletes the rest.
func TestGCKeepsRetainedGenerations(t *testing.T) {
	now := time.Now()
	tr := newTestRepo(t, "s3://farm/x/farm.db.tar.zst", Options{Grace: time.Hour, Now: func() time.Time { return now },
		Retention: history.Retention{KeepGenerations: 3}})
	src := t.TempDir()
	var files []string
	for _, v := range []string{"1-1", "2-1", "3-1", "4-1"} {
		f := mkpkg(t, src, "a", v)
		files = append(files, filepath.Base(f))
		if _, err := tr.Add(ctx, []string{f}, AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(2 * time.Hour)
	res, err := tr.GC(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		_, err := os.Stat(tr.objectFile(tr.addr.key(f)))
		if want := i > 0; (err == nil) != want {
			t.Errorf("after gc, %s exists: %v, want %v (deleted %v)", f, err == nil, want, res.Deleted)
		}
	}
	gens, err := tr.History().Generations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gens[len(gens)-3:] {
		rec, err := tr.History().Record(ctx, g)
		if err != nil {
			t.Fatalf("generation %d, retained, after gc: %v", g, err)
		}
		if _, err := tr.History().Packages(ctx, rec); err != nil {
			t.Errorf("generation %d, retained, after gc: %v", g, err)
		}
	}
	if _, err := tr.History().Record(ctx, gens[len(gens)-4]); !errors.Is(err, history.ErrPruned) {
		t.Errorf("generation %d, not retained, after gc: %v, want pruned", gens[len(gens)-4], err)
	}
	if _, err := tr.Rollback(ctx, gens[len(gens)-3], repo.Request{}); err != nil {
		t.Fatalf("rollback to a retained generation after gc: %v", err)
	}
	assertClean(t, tr.Repo, true)
}
