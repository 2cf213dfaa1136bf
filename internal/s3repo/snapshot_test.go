package s3repo

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/history"
)

// TestSnapshotPinsAgainstGC: gc spares the databases and package objects
// of a snapshot's generation however old, and deletes them once the
// snapshot is deleted; a snapshot is created only once, and not of a
// generation gc pruned.
func TestSnapshotPinsAgainstGC(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	tr := newTestRepo(t, "s3://farm/x/farm.db.tar.zst", Options{Grace: time.Hour, Now: clock})
	src := t.TempDir()
	a1, b := mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1")
	if _, err := tr.Add(ctx, []string{a1, b}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := tr.CreateSnapshot(ctx, "tested", -1, "test")
	if err != nil || s.Generation != 1 {
		t.Fatalf("create: %+v %v", s, err)
	}
	var exists *history.SnapshotExistsError
	if _, err := tr.CreateSnapshot(ctx, "tested", -1, "test"); !errors.As(err, &exists) {
		t.Fatalf("second create: %v, want SnapshotExistsError", err)
	}
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "2-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.CreateSnapshot(ctx, "older", 1, "test"); err != nil {
		t.Fatal(err)
	}
	if pinned, err := history.PinnedGenerations(ctx, tr.Snapshots()); err != nil || len(pinned) != 1 || pinned[0] != 1 {
		t.Fatalf("pinned generations: %v %v", pinned, err)
	}
	if rep, err := tr.Check(ctx, false); err != nil || len(rep.Findings) > 0 {
		t.Fatalf("check with snapshots: %+v %v", rep, err)
	}
	present := func(name string) bool {
		_, err := os.Stat(tr.objectFile(tr.addr.key(name)))
		return err == nil
	}
	gc := func() {
		t.Helper()
		if _, err := tr.GC(ctx, false); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(2 * time.Hour)
	gc()
	if !present(filepath.Base(a1)) {
		t.Fatal("gc deleted a package a snapshot references")
	}
	snap, err := tr.Snapshots().Snapshot(ctx, "tested")
	if err != nil {
		t.Fatal(err)
	}
	if pkgs, err := history.SnapshotPackages(ctx, tr.History(), snap); err != nil || len(pkgs) != 2 || pkgs[0].Version != "1-1" {
		t.Fatalf("the snapshot's packages after gc: %+v %v", pkgs, err)
	}
	for _, n := range []string{"tested", "older"} {
		if err := tr.DeleteSnapshot(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	var notFound *history.SnapshotNotFoundError
	if err := tr.DeleteSnapshot(ctx, "tested"); !errors.As(err, &notFound) {
		t.Fatalf("second delete: %v, want SnapshotNotFoundError", err)
	}
	gc()
	if present(filepath.Base(a1)) {
		t.Fatal("gc kept a package no snapshot references any more")
	}
	// gc pruned generation 1's record with its files.
	if _, err := tr.CreateSnapshot(ctx, "late", 1, "test"); !errors.Is(err, history.ErrPruned) {
		t.Fatalf("snapshot of a generation gc pruned: %v", err)
	}
}
