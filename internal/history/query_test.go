package history

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/repodb"
)

// writeHistory writes n generations: generation g upgrades package
// "p(g mod packages)" to version g; the first and the last have real
// databases of the packages they hold.
func writeHistory(tb testing.TB, n, packages int) Dir {
	tb.Helper()
	dir := tb.TempDir()
	d := DirOf(dir, "core")
	versions := make([]int, packages)
	keep := func(g int) []Database {
		var entries []repodb.Entry
		for i, v := range versions {
			name := fmt.Sprintf("p%04d", i)
			entries = append(entries, repodb.Entry{Name: name, Version: fmt.Sprintf("%d-1", v), Arch: "x86_64",
				Filename: fmt.Sprintf("%s-%d-1-x86_64.pkg.tar.zst", name, v), CSize: 100, ISize: 100, SHA256Sum: fmt.Sprintf("%064d", v)})
		}
		loc := repodb.Location{Dir: filepath.Join(dir, fmt.Sprint("w", g)), Name: "core", Ext: ".tar.zst"}
		os.MkdirAll(loc.Dir, 0o755)
		if err := repodb.Write(loc, entries, repodb.WriteOptions{}); err != nil {
			tb.Fatal(err)
		}
		var dbs []Database
		for _, p := range []string{loc.FilesPath(), loc.DBPath()} {
			db, err := d.Keep(p, "", filepath.Base(p))
			if err != nil {
				tb.Fatal(err)
			}
			dbs = append(dbs, db)
		}
		return dbs
	}
	for g := 1; g <= n; g++ {
		i := g % packages
		from := versions[i]
		versions[i] = g
		name := fmt.Sprintf("p%04d", i)
		rec := &Record{Version: RecordVersion, Generation: int64(g), Time: time.Now().UTC(), Change: Change{Command: "pacrepo add",
			Registered: []Package{{Name: name, Version: fmt.Sprintf("%d-1", g), From: fmt.Sprintf("%d-1", from),
				File: fmt.Sprintf("%s-%d-1-x86_64.pkg.tar.zst", name, g)}}}}
		if g == 1 || g == n {
			rec.Databases = keep(g)
		}
		if err := d.Write(rec); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}

func TestLogAndDiff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := writeHistory(t, 6, 4)
	all, err := Log(ctx, d, nil)
	if err != nil || len(all) != 6 || all[0].Generation != 6 || all[5].Generation != 1 {
		t.Fatalf("log: %d records, %v", len(all), err)
	}
	some, err := Log(ctx, d, []string{"p0001"})
	if err != nil || len(some) != 2 || some[0].Generation != 5 || some[1].Generation != 1 {
		t.Fatalf("log p0001: %v, %v", some, err)
	}
	diff, err := Diff(ctx, d, 1, 6)
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, p := range diff.Changed {
		changed = append(changed, p.Name+" "+p.From+" -> "+p.Version)
	}
	// Generation 1 holds p0001 at 1; generation 6 holds p0000 4, p0001 5, p0002 6, p0003 3.
	want := []string{"p0000 0-1 -> 4-1", "p0001 1-1 -> 5-1", "p0002 0-1 -> 6-1", "p0003 0-1 -> 3-1"}
	if !reflect.DeepEqual(changed, want) || len(diff.Added) != 0 || len(diff.Removed) != 0 {
		t.Fatalf("diff 1 6: %+v", diff)
	}
	if back, _ := Diff(ctx, d, 6, 6); !back.Empty() {
		t.Errorf("a generation differs from itself: %+v", back)
	}
	if _, err := Diff(ctx, d, 2, 6); err == nil {
		t.Error("diff of a generation without databases")
	}
}

// BenchmarkLogAndDiff1000: log of 1,000 generations, and diff of the
// first and the last, in a repository of 1,000 packages.
func BenchmarkLogAndDiff1000(b *testing.B) {
	ctx := context.Background()
	d := writeHistory(b, 1000, 1000)
	b.ResetTimer()
	for b.Loop() {
		recs, err := Log(ctx, d, nil)
		if err != nil || len(recs) != 1000 {
			b.Fatal(len(recs), err)
		}
		if _, err := Diff(ctx, d, 1, 1000); err != nil {
			b.Fatal(err)
		}
	}
}
