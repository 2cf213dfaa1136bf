package repodb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/sweep"
)

func zstdLocation(t *testing.T) Location {
	return Location{Dir: t.TempDir(), Name: "inc", Ext: ".tar.zst"}
}

// randomEntry is entry i in version v, with a random file list.
func randomEntry(rng *rand.Rand, i, v int) Entry {
	e := sampleEntries(1, 0)[0]
	name := packageName(i)
	e.Name, e.Base, e.Version = name, name, fmt.Sprintf("%d.0-1", v)
	e.Filename = name + "-" + e.Version + "-x86_64.pkg.tar.zst"
	e.SHA256Sum = fmt.Sprintf("%064x", rng.Uint64())
	e.CSize = rng.Int64N(1 << 20)
	if rng.IntN(4) == 0 {
		e.PGPSig = "iQ" + strconv.FormatUint(rng.Uint64(), 36)
	}
	for j := range rng.IntN(20) {
		e.Files = append(e.Files, fmt.Sprintf("usr/share/%s/%d", name, j))
	}
	return e
}

// TestWriteChangesEqualsWriteSweep: random sequences of registrations,
// upgrades and removals written incrementally give, byte for byte, the
// databases a whole Write of the same entries gives, and the index agrees
// with what Read finds. A failure prints the seed (PACREPO_INDEX_SEED
// replays it). A sweep: under the race detector, the first steps only.
func TestWriteChangesEqualsWriteSweep(t *testing.T) {
	seed := testutil.Seed(t, "PACREPO_INDEX_SEED")
	rng := rand.New(rand.NewPCG(seed, 0))
	loc := zstdLocation(t)
	model, initial := randomModel(600, func(i int) Entry { return randomEntry(rng, i, 1) })
	opts := WriteOptions{PGPSig: true}
	if err := Write(loc, initial, opts); err != nil {
		t.Fatal(err)
	}
	for step := range sweep.Steps(t, 40) {
		ix := ReadIndex(loc)
		if ix == nil || !ix.Incremental() {
			t.Fatalf("step %d: no incremental index after a write", step)
		}
		upserts, removed, did := randomChange(rng, 700, model, func(i int) Entry { return randomEntry(rng, i, 2+step) })
		if err := WriteChanges(loc, ix, upserts, removed, opts); err != nil {
			t.Fatalf("step %d (%v): %v", step, did, err)
		}
		// The same entries written whole, elsewhere.
		ref := zstdLocation(t)
		var all []Entry
		for _, e := range model {
			all = append(all, e)
		}
		if err := Write(ref, all, opts); err != nil {
			t.Fatal(err)
		}
		for _, pair := range [][2]string{{loc.DBPath(), ref.DBPath()}, {loc.FilesPath(), ref.FilesPath()}} {
			got, _ := os.ReadFile(pair[0])
			want, _ := os.ReadFile(pair[1])
			if !bytes.Equal(got, want) {
				t.Fatalf("seed %d step %d (%v): %s differs from a whole write of the same entries", seed, step, did, filepath.Base(pair[0]))
			}
		}
		read, err := Read(loc.FilesPath(), ReadOptions{Files: true})
		if err != nil || len(read) != len(model) {
			t.Fatalf("step %d: read %d entries (%v), want %d", step, len(read), err, len(model))
		}
		ix = ReadIndex(loc)
		keys := ix.Keys()
		for i := range read {
			if !sameKey(&read[i], &keys[i]) {
				t.Fatalf("step %d: index entry %d %+v, database %s", step, i, keys[i], read[i].Name)
			}
		}
	}
}

// TestWriteChangesTouchesLittle: one registration in a repository of
// thousands re-encodes a chunk or two; the rest is copied.
func TestWriteChangesTouchesLittle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	loc := zstdLocation(t)
	var all []Entry
	for i := range 3000 {
		all = append(all, randomEntry(rng, i, 1))
	}
	if err := Write(loc, all, WriteOptions{PGPSig: true}); err != nil {
		t.Fatal(err)
	}
	before := ReadIndex(loc)
	oldDB, _ := os.ReadFile(loc.DBPath())
	e := randomEntry(rng, 1234, 9)
	if err := WriteChanges(loc, before, []Entry{e}, nil, WriteOptions{PGPSig: true}); err != nil {
		t.Fatal(err)
	}
	after := ReadIndex(loc)
	newDB, _ := os.ReadFile(loc.DBPath())
	unchanged := map[string]bool{}
	for _, c := range before.Chunks {
		unchanged[string(oldDB[c.DB.Offset:c.DB.Offset+c.DB.Length])] = true
	}
	changed := 0
	for _, c := range after.Chunks {
		if !unchanged[string(newDB[c.DB.Offset:c.DB.Offset+c.DB.Length])] {
			changed++
		}
	}
	t.Logf("%d chunks, %d re-encoded", len(after.Chunks), changed)
	if changed > 2 || len(after.Chunks) < 20 {
		t.Errorf("%d of %d chunks re-encoded for one entry", changed, len(after.Chunks))
	}
}

// TestIndexTrust: an index describes only the very files it was written
// for; a touched database, another tool's write or a damaged index make it
// unusable, and a stale entry refuses the incremental write.
func TestIndexTrust(t *testing.T) {
	loc := zstdLocation(t)
	if err := Write(loc, sampleEntries(100, 2), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if ReadIndex(loc) == nil {
		t.Fatal("no index after a write")
	}
	// Touched (mtime), replaced, damaged.
	now := time.Now().Add(time.Hour)
	os.Chtimes(loc.FilesPath(), now, now)
	if ReadIndex(loc) != nil {
		t.Error("index trusted after the files database changed")
	}
	Write(loc, sampleEntries(100, 2), WriteOptions{})
	path := indexPath(loc)
	data, _ := os.ReadFile(path)
	data[len(data)-1] ^= 1
	os.WriteFile(path, data, 0o644)
	if ReadIndex(loc) != nil {
		t.Error("damaged index trusted")
	}
	// An index naming another entry than the chunk holds (written for
	// these very files, so trusted) refuses to update them.
	Write(loc, sampleEntries(100, 2), WriteOptions{})
	ix := ReadIndex(loc)
	ix.Chunks[0].Keys[0].SHA256Sum = strings.Repeat("cd", 32)
	ix.Chunks[0].encoded = nil // the keys as read no longer
	if err := writeIndex(loc, ix); err != nil {
		t.Fatal(err)
	}
	ix = ReadIndex(loc)
	e := sampleEntries(101, 2)[100]
	before, _ := os.ReadFile(loc.DBPath())
	// The new entry lands in the chunk of the lying entry only if they
	// share it; remove the lying entry's neighbour to be sure its chunk
	// is rebuilt.
	err := WriteChanges(loc, ix, []Entry{e}, []string{ix.Chunks[0].Keys[1].Name}, WriteOptions{})
	if !errors.Is(err, ErrNotIncremental) {
		t.Fatalf("stale index entry: %v", err)
	}
	if after, _ := os.ReadFile(loc.DBPath()); !bytes.Equal(before, after) {
		t.Error("a refused incremental write changed the database")
	}
	// Other formats have an index for planning, but no chunks.
	gz := Location{Dir: t.TempDir(), Name: "gz", Ext: ".tar.gz"}
	Write(gz, sampleEntries(10, 1), WriteOptions{})
	if ix := ReadIndex(gz); ix == nil || ix.Incremental() || ix.Len() != 10 {
		t.Errorf("gzip index: %+v", ix)
	}
	if err := WriteChanges(gz, ReadIndex(gz), nil, []string{"pkg0"}, WriteOptions{}); !errors.Is(err, ErrNotIncremental) {
		t.Errorf("gzip WriteChanges: %v", err)
	}
}

// TestChunkedDatabaseRealTools: a database of many frames, changed in
// place, is one archive to bsdtar and zstd, real repo-add updates it, and
// real pacman syncs it and lists packages and files.
func TestChunkedDatabaseRealTools(t *testing.T) {
	needTool(t, "bsdtar")
	needTool(t, "zstd")
	loc := zstdLocation(t)
	rng := rand.New(rand.NewPCG(3, 4))
	var all []Entry
	for i := range 400 {
		all = append(all, randomEntry(rng, i, 1))
	}
	if err := Write(loc, all, WriteOptions{PGPSig: true}); err != nil {
		t.Fatal(err)
	}
	ix := ReadIndex(loc)
	if err := WriteChanges(loc, ix, []Entry{randomEntry(rng, 7, 2)}, []string{"pkg-0100"}, WriteOptions{PGPSig: true}); err != nil {
		t.Fatal(err)
	}
	if n := len(ReadIndex(loc).Chunks); n < 3 {
		t.Fatalf("only %d chunks", n)
	}
	for _, p := range []string{loc.DBPath(), loc.FilesPath()} {
		runTool(t, "zstd", "-tq", p)
		out, err := exec.Command("bsdtar", "-tf", p).CombinedOutput()
		if err != nil {
			t.Fatalf("bsdtar -tf %s: %v\n%s", p, err, out)
		}
		if n := strings.Count(string(out), "/desc\n"); n != 399 {
			t.Errorf("bsdtar lists %d desc members in %s, want 399", n, filepath.Base(p))
		}
	}
	pm := testutil.NewPacman(t, map[string]string{"inc": loc.Dir})
	pm.MustRun("-Sy")
	if got := pm.Sync("inc"); len(got) != 399 || !slices.Contains(got, "pkg-0007 2.0-1") {
		t.Errorf("pacman -Sl: %d packages", len(got))
	}
	if info := pm.Info("inc", "pkg-0007"); info["Version"] != "2.0-1" {
		t.Errorf("pacman -Si: %v", info)
	}
	pm.MustRun("-Fy")
	if out := pm.MustRun("-Fl", "pkg-0007"); !strings.Contains(out, "usr/share/pkg-0007/") && len(all[7].Files) > 0 {
		t.Errorf("pacman -Fl pkg-0007:\n%s", out)
	}
	// repo-add updates a chunked database, and pacrepo reads the result
	// (the index is then stale and unused).
	pkg := makePackage(t, t.TempDir(), plainPackage)
	repoAdd(t, loc.DBPath(), pkg)
	if ReadIndex(loc) != nil {
		t.Error("index trusted after repo-add rewrote the databases")
	}
	got, err := Read(loc.DBPath(), ReadOptions{})
	if err != nil || len(got) != 400 {
		t.Fatalf("after repo-add: %d entries, %v", len(got), err)
	}
}

func FuzzDecodeIndex(f *testing.F) {
	loc := Location{Dir: f.TempDir(), Name: "fz", Ext: ".tar.zst"}
	if err := Write(loc, sampleEntries(70, 1), WriteOptions{}); err != nil {
		f.Fatal(err)
	}
	data, _ := os.ReadFile(indexPath(loc))
	f.Add(data)
	f.Add([]byte(indexMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := decodeIndex(data)
		if err != nil {
			return
		}
		// What decodes encodes back to the same bytes.
		if got := encodeIndex(ix); !bytes.Equal(got, data) {
			t.Fatalf("re-encoded index differs")
		}
	})
}

func TestCompareDirNames(t *testing.T) {
	names := [][2]string{{"a", "1-1"}, {"a-b", "1-1"}, {"a", "1-10"}, {"ab", "1-1"}, {"a", "1:1-1"}, {"", ""}, {"a-", "1"}}
	for _, x := range names {
		for _, y := range names {
			a, b := &Entry{Name: x[0], Version: x[1]}, &Entry{Name: y[0], Version: y[1]}
			want := strings.Compare(dirName(a), dirName(b))
			got := compareDirNames(a.Name, a.Version, b.Name, b.Version)
			if (got < 0) != (want < 0) || (got == 0) != (want == 0) {
				t.Errorf("%q vs %q: %d, want sign of %d", dirName(a), dirName(b), got, want)
			}
		}
	}
}

// TestDatabasesInIgnoresTemporaries: while a database is being written,
// its temporaries (which end like a database) are no second repository.
func TestDatabasesInIgnoresTemporaries(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"farm.db.tar.zst", ".pacrepo-tmp-0a1b2c-farm.db.tar.zst", ".farm.db.tar.zst.tmp-0a1b",
		".other.db.tar.gz", "farm.db.tar.zst.old", "farm.files.tar.zst", "notes.txt"} {
		writeFile(t, filepath.Join(dir, name), []byte("x"))
	}
	locs, err := DatabasesIn(dir)
	if err != nil || len(locs) != 1 || locs[0].Name != "farm" {
		t.Fatalf("DatabasesIn = %+v, %v", locs, err)
	}
}

// TestChunkedWriteFailureChangesNothing: a whole or an incremental write
// of a chunked database that fails part way (a full disk) leaves both
// databases, their index and the directory as they were (invariant 5).
func TestChunkedWriteFailureChangesNothing(t *testing.T) {
	for _, incremental := range []bool{false, true} {
		loc := zstdLocation(t)
		if err := Write(loc, sampleEntries(300, 5), WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		before := map[string][]byte{}
		for _, p := range []string{loc.DBPath(), loc.FilesPath(), indexPath(loc)} {
			before[p], _ = os.ReadFile(p)
		}
		for _, limit := range []int{0, 100, 5000} {
			testHookWriter = func(w io.Writer) io.Writer { return &failingWriter{w: w, n: limit} }
			var err error
			if incremental {
				err = WriteChanges(loc, ReadIndex(loc), sampleEntries(301, 5)[300:], []string{"pkg7"}, WriteOptions{})
			} else {
				err = Write(loc, sampleEntries(400, 5), WriteOptions{})
			}
			testHookWriter = nil
			if err == nil || !strings.Contains(err.Error(), "injected") {
				t.Fatalf("incremental %v, limit %d: %v, want the injected failure", incremental, limit, err)
			}
			for p, want := range before {
				if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
					t.Errorf("incremental %v, limit %d: %s changed by a failed write", incremental, limit, p)
				}
			}
			if ReadIndex(loc) == nil {
				t.Errorf("incremental %v, limit %d: the index no longer describes the databases", incremental, limit)
			}
			if names := dotFiles(t, loc.Dir); len(names) != 0 {
				t.Errorf("incremental %v, limit %d: temporary files left: %v", incremental, limit, names)
			}
		}
	}
}

// packageName is the name of package i of randomModel and randomChange.
func packageName(i int) string { return fmt.Sprintf("pkg-%04d", i) }

// randomModel is packages 0 to n-1 as made by made, by name and in order.
func randomModel[T any](n int, made func(i int) T) (map[string]T, []T) {
	model := make(map[string]T, n)
	var all []T
	for i := range n {
		v := made(i)
		model[packageName(i)] = v
		all = append(all, v)
	}
	return model, all
}

// randomChange is one random change to model, whose keys are the names
// pkg-NNNN of packages 0 to n-1: one to five distinct packages, each
// removed (one in three of those present) or upserted as made by upsert.
// did says what it did, for the failure message.
func randomChange[T any](rng *rand.Rand, n int, model map[string]T, upsert func(i int) T) (upserts []T, removed, did []string) {
	touched := map[string]bool{}
	for range 1 + rng.IntN(5) {
		i := rng.IntN(n)
		name := packageName(i)
		if touched[name] {
			continue
		}
		touched[name] = true
		if _, ok := model[name]; ok && rng.IntN(3) == 0 {
			removed = append(removed, name)
			delete(model, name)
			did = append(did, "remove "+name)
			continue
		}
		v := upsert(i)
		upserts = append(upserts, v)
		model[name] = v
		did = append(did, "upsert "+name)
	}
	return upserts, removed, did
}
