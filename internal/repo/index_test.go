package repo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// manyPackages adds n packages to r in one add.
func manyPackages(t *testing.T, r *Repo, n int) {
	t.Helper()
	src := t.TempDir()
	var files []string
	for i := range n {
		files = append(files, mkpkg(t, src, fmt.Sprintf("p%04d", i), "1-1"))
	}
	mustAdd(t, r, files...)
}

// unchangedPrefix is how many leading bytes two files share.
func unchangedPrefix(t *testing.T, a []byte, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestChangesWriteOnlyWhatChanged: with the index, add, update and
// remove of one package rewrite a chunk of each database and copy the
// rest; the result is what check and a whole read find.
func TestChangesWriteOnlyWhatChanged(t *testing.T) {
	r := newRepo(t)
	manyPackages(t, r, 400)
	if ix := repodb.ReadIndex(r.opts.DB); ix == nil || len(ix.Chunks) < 4 {
		t.Fatalf("index after add: %+v", ix)
	}
	for _, step := range []struct {
		name string
		do   func() error
	}{
		{"add a new package at the end", func() error {
			_, err := r.Add(ctx, []string{mkpkg(t, t.TempDir(), "zz-late", "1-1")}, AddOptions{})
			return err
		}},
		{"upgrade one at the end", func() error {
			_, err := r.Add(ctx, []string{mkpkg(t, t.TempDir(), "p0399", "2-1")}, AddOptions{})
			return err
		}},
		{"remove one at the end", func() error { _, err := r.Remove(ctx, []string{"p0398"}, Request{}); return err }},
		{"update finds one at the end", func() error {
			mkpkg(t, r.dir(), "zz-placed", "1-1")
			_, err := r.Update(ctx, nil, Request{})
			return err
		}},
	} {
		oldDB, _ := os.ReadFile(r.opts.DB.DBPath())
		oldFiles, _ := os.ReadFile(r.opts.DB.FilesPath())
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		// Names sort p0000 ... p0399, zz-*: a change at the end leaves the
		// chunks before it as they were.
		if n := unchangedPrefix(t, oldDB, r.opts.DB.DBPath()); n < len(oldDB)/2 {
			t.Errorf("%s: the db shares only %d of %d bytes with the one before", step.name, n, len(oldDB))
		}
		if n := unchangedPrefix(t, oldFiles, r.opts.DB.FilesPath()); n < len(oldFiles)/2 {
			t.Errorf("%s: the files database shares only %d of %d bytes with the one before", step.name, n, len(oldFiles))
		}
		if repodb.ReadIndex(r.opts.DB) == nil {
			t.Errorf("%s: no index afterwards", step.name)
		}
		assertClean(t, r)
	}
	got := registered(t, r)
	if len(got) != 401 || got["p0399"] != "2-1" || got["zz-late"] != "1-1" || got["zz-placed"] != "1-1" || got["p0398"] != "" {
		t.Fatalf("registered %d: p0399=%s zz-late=%s zz-placed=%s p0398=%q", len(got), got["p0399"], got["zz-late"], got["zz-placed"], got["p0398"])
	}
}

// TestIndexFallbacks: databases the index cannot update in place (another
// compression; rewritten by repo-add) are read and written whole, and the
// result is right.
func TestIndexFallbacks(t *testing.T) {
	gz := New(Options{DB: repodb.Location{Dir: t.TempDir(), Name: "gz", Ext: ".tar.gz"}, LockTimeout: 20e9})
	manyPackages(t, gz, 30)
	if _, err := gz.Remove(ctx, []string{"p0003"}, Request{}); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, gz, mkpkg(t, t.TempDir(), "p0004", "2-1"))
	if got := registered(t, gz); len(got) != 29 || got["p0004"] != "2-1" {
		t.Fatalf("gzip repository: %v", got)
	}
	assertClean(t, gz)

	testutil.RequireTool(t, "repo-add")
	r := newRepo(t)
	manyPackages(t, r, 100)
	other := mkpkg(t, r.dir(), "by-repo-add", "1-1")
	// Replayed from the tools cache when this very database had this very
	// package added before (see testutil.RepoAdd): the files are written
	// anew all the same, which is what the index must notice.
	testutil.RepoAdd(t, []string{"-q"}, r.opts.DB.DBPath(), other)
	mustAdd(t, r, mkpkg(t, t.TempDir(), "after", "1-1"))
	if got := registered(t, r); len(got) != 102 || got["by-repo-add"] != "1-1" || got["after"] != "1-1" {
		t.Fatalf("after repo-add and add: %d entries", len(got))
	}
	assertClean(t, r)
}

// TestCheckIndex: an index that claims to describe the databases but
// disagrees with them is found by check and removed by check --repair;
// the next change works without it.
func TestCheckIndex(t *testing.T) {
	r := newRepo(t)
	manyPackages(t, r, 10)
	path := filepath.Join(r.dir(), r.names().IndexFile())
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Change a digit of the first SHA-256 in the index and mend its CRC,
	// as damage that keeps the file well formed would.
	es, _ := r.Entries(ctx)
	i := bytes.Index(data, []byte(es[0].SHA256Sum))
	if i < 0 {
		t.Fatal("no SHA-256 in the index")
	}
	data[i] ^= 0x01
	const magic = len("pacrepo-index-2\n")
	binary.BigEndian.PutUint32(data[magic:], crc32.ChecksumIEEE(data[magic+4:]))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// The index file was replaced, the databases were not: it is trusted.
	if repodb.ReadIndex(r.opts.DB) == nil {
		t.Fatal("the tampered index is not trusted: the test proves nothing")
	}
	rep, err := r.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != FindIndex {
		t.Fatalf("findings %+v", rep.Findings)
	}
	if rep, err = r.Check(ctx, true); err != nil || !rep.Findings[0].Repaired {
		t.Fatalf("repair: %+v %v", rep, err)
	}
	assertClean(t, r)
	mustAdd(t, r, mkpkg(t, t.TempDir(), "p0003", "2-1"))
	assertClean(t, r)
}

// TestPackedFileListsWriteTheSame: a read of many packages keeps their file
// lists compressed; the databases written are the very bytes of those
// written from plain lists.
func TestPackedFileListsWriteTheSame(t *testing.T) {
	write := func(threshold int) (db, files []byte) {
		defer func(old int) { packFileListsFrom = old }(packFileListsFrom)
		packFileListsFrom = threshold
		r := newRepo(t)
		for _, n := range []string{"a", "b", "c", "d"} {
			mkpkg(t, r.dir(), n, "1.0-1")
		}
		if _, err := r.Reset(ctx, Request{}); err != nil {
			t.Fatal(err)
		}
		db, _ = os.ReadFile(r.opts.DB.DBPath())
		files, _ = os.ReadFile(r.opts.DB.FilesPath())
		return db, files
	}
	plainDB, plainFiles := write(1 << 30)
	packedDB, packedFiles := write(1)
	if !bytes.Equal(plainDB, packedDB) || !bytes.Equal(plainFiles, packedFiles) || len(plainFiles) == 0 {
		t.Fatal("the databases differ when the file lists are packed")
	}
}
