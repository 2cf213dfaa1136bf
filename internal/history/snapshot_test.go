package history

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCheckSnapshotName(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"rc1": true, "2026-12-05_stable": true, "été": true, strings.Repeat("x", 64): true,
		"": false, strings.Repeat("x", 65): false, "a/b": false, `a\b`: false, ".hidden": false,
		"a b": false, "tab\t": false, "nul\x00": false, "\xff": false,
	} {
		err := CheckSnapshotName(name)
		var ne *SnapshotNameError
		if ok != (err == nil) || !ok && !errors.As(err, &ne) {
			t.Errorf("CheckSnapshotName(%q) = %v", name, err)
		}
	}
}

// TestDirSnapshots: a directory's snapshot records are created once and
// name the generations they pin.
func TestDirSnapshots(t *testing.T) {
	t.Parallel()
	d := Dir{Root: t.TempDir()}
	ctx := context.Background()
	rec := &Record{Version: RecordVersion, Generation: 3, Databases: []Database{{Name: "r.db.tar.zst", Path: "gen/x-r.db.tar.zst"}}}
	for _, n := range []string{"b", "a", "c"} {
		s, err := NewSnapshot(n, rec, "test")
		if err != nil {
			t.Fatal(err)
		}
		if n == "c" {
			s.Generation = 1
		}
		if err := d.WriteSnapshot(s); err != nil {
			t.Fatal(err)
		}
	}
	var exists *SnapshotExistsError
	if s, _ := NewSnapshot("a", rec, "test"); !errors.As(d.WriteSnapshot(s), &exists) {
		t.Error("a snapshot was written over")
	}
	if names, err := d.SnapshotNames(ctx); err != nil || !reflect.DeepEqual(names, []string{"a", "b", "c"}) {
		t.Errorf("names: %v %v", names, err)
	}
	if gens, err := PinnedGenerations(ctx, d); err != nil || !reflect.DeepEqual(gens, []int64{1, 3}) {
		t.Errorf("pinned generations: %v %v", gens, err)
	}
	if err := d.DeleteSnapshot("c", func(*Snapshot) ([]Package, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	var nf *SnapshotNotFoundError
	if _, err := d.Snapshot(ctx, "c"); !errors.As(err, &nf) {
		t.Errorf("deleted snapshot read: %v", err)
	}
	if gens, err := PinnedGenerations(ctx, d); err != nil || !reflect.DeepEqual(gens, []int64{3}) {
		t.Errorf("pinned generations after delete: %v %v", gens, err)
	}
}
