package history

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestDirRecords: records are created once, listed in order, and read
// back; a record of another generation under a number is refused.
func TestDirRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := DirOf(t.TempDir(), "core")
	if g, err := d.Latest(ctx); err != nil || g != -1 {
		t.Fatalf("latest of no history: %d, %v", g, err)
	}
	for _, g := range []int64{2, 0, 1} {
		if err := d.Write(&Record{Version: RecordVersion, Generation: g, Time: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Write(&Record{Version: RecordVersion, Generation: 1, Change: Change{Command: "again"}}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("a record written over another: %v", err)
	}
	if gens, err := d.Generations(ctx); err != nil || !slices.Equal(gens, []int64{0, 1, 2}) {
		t.Fatalf("generations %v, %v", gens, err)
	}
	if _, err := d.Record(ctx, 7); !errors.As(err, new(*NotFoundError)) {
		t.Fatalf("record 7: %v", err)
	}
	os.Rename(d.RecordPath(2), d.RecordPath(3))
	if _, err := d.Record(ctx, 3); err == nil {
		t.Fatal("the record of generation 2 read as generation 3")
	}
}

// TestDirKeep: a database kept is a hard link named by its content, its
// signature beside it; the same content kept again is that file.
func TestDirKeep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := DirOf(dir, "core")
	src := filepath.Join(dir, ".tmp-db")
	os.WriteFile(src, []byte("database"), 0o644)
	os.WriteFile(src+".sig", []byte("signature"), 0o644)
	db, err := d.Keep(src, src+".sig", "core.db.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	if !db.Signed || db.SigSHA256 == "" || db.Files() || filepath.Base(db.Path) != db.SHA256[:32]+"-core.db.tar.zst" {
		t.Fatalf("kept %+v", db)
	}
	a, _ := os.Stat(src)
	b, _ := os.Stat(d.Path(db))
	if !os.SameFile(a, b) {
		t.Error("not a hard link")
	}
	if sig, _ := os.ReadFile(d.Path(db) + ".sig"); string(sig) != "signature" {
		t.Errorf("signature %q", sig)
	}
	other := filepath.Join(dir, ".tmp-db2")
	os.WriteFile(other, []byte("database"), 0o644)
	again, err := d.Keep(other, "", "core.db.tar.zst")
	if err != nil || again.Path != db.Path {
		t.Fatalf("kept again: %+v, %v", again, err)
	}
	if c, _ := os.Stat(d.Path(again)); !os.SameFile(a, c) {
		t.Error("the same content kept twice")
	}
}
