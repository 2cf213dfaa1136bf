package s3repo

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// TestSnapshotRenewsWhatGCPlannedToDelete: a gc that planned before a
// snapshot of an old generation existed deletes none of its objects: the
// snapshot renewed their time, and gc reads it again before deleting.
func TestSnapshotRenewsWhatGCPlannedToDelete(t *testing.T) {
	const grace = time.Hour
	now := time.Now()
	clock := func() time.Time { return now }
	tr := newTestRepo(t, "s3://farm/x/farm.db.tar.zst", Options{Grace: grace, Now: clock})
	src := t.TempDir()
	a1 := mkpkg(t, src, "a", "1-1")
	if _, err := tr.Add(ctx, []string{a1, mkpkg(t, src, "b", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "2-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	// Past the grace period of everything so far, counting gc's second
	// of doubt about a server's times (serverTimeResolution); the server
	// keeps times to the second, so a time renewed from now on is after
	// the cutoff.
	committed := time.Now()
	time.Sleep(1100 * time.Millisecond)
	now = committed.Add(grace + serverTimeResolution + 10*time.Millisecond)
	plan, _, err := tr.planGC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := tr.addr.key(filepath.Base(a1))
	if !slices.Contains(plan.Deleted, key) {
		t.Fatalf("gc does not plan to delete a 1-1: %v", plan.Deleted)
	}
	if _, err := tr.CreateSnapshot(ctx, "old", 1, "test"); err != nil {
		t.Fatal(err)
	}
	res, err := tr.deleteUnreferenced(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range res.Deleted {
		if !strings.HasPrefix(k, tr.addr.commitPrefix()) {
			t.Errorf("gc deleted %s, which the snapshot made meanwhile references", k)
		}
	}
	snap, err := tr.Snapshots().Snapshot(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := history.SnapshotPackages(ctx, tr.History(), snap); err != nil {
		t.Errorf("the snapshot's database after gc: %v", err)
	}
}
