package repodb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/sweep"
)

// sampleEntries are entries with file lists, as written by our tests.
func sampleEntries(n, files int) []Entry {
	entries := make([]Entry, n)
	for i := range entries {
		e := Entry{
			Filename: "pkg" + itoa(i) + "-1.0-1-x86_64.pkg.tar.zst", Name: "pkg" + itoa(i), Base: "pkg" + itoa(i),
			Version: "1.0-1", Desc: "Package number " + itoa(i), CSize: int64(1000 + i), ISize: int64(5000 + i),
			SHA256Sum: strings.Repeat("ab", 32), URL: "https://example.org/" + itoa(i), Licenses: []string{"MIT"},
			Arch: "x86_64", BuildDate: 1700000000, Packager: "Test <t@example.org>",
			Depends: []string{"glibc", "bash>=5"}, OptDepends: []string{"python: scripts"},
			Files: []string{"usr/", "usr/bin/"},
		}
		for j := range files {
			e.Files = append(e.Files, "usr/share/pkg"+itoa(i)+"/file-"+itoa(j)+".txt")
		}
		entries[i] = e
	}
	return entries
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func wantKind(t *testing.T, err error, kind ErrorKind, what string) {
	t.Helper()
	if KindOf(err) != kind {
		t.Errorf("%s: got error %v (kind %v), want kind %v", what, err, KindOf(err), kind)
	}
}

func TestMissingDatabaseIsNotExist(t *testing.T) {
	_, err := Read(filepath.Join(t.TempDir(), "x.db.tar.zst"), ReadOptions{})
	if !errors.Is(err, fs.ErrNotExist) || KindOf(err) != 0 {
		t.Fatalf("got %v, want fs.ErrNotExist and no *Error", err)
	}
}

func TestEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db.tar.zst")
	writeFile(t, path, nil)
	_, err := Read(path, ReadOptions{})
	wantKind(t, err, Empty, "zero bytes")
	var de *Error
	if !errors.As(err, &de) || de.Path != path {
		t.Errorf("error %v does not name %s", err, path)
	}
}

// TestTruncated cuts databases we wrote, in every compression, at many
// offsets: every cut must read as Truncated (or, where the cut leaves
// bytes that are not even a known header, Corrupt), never as a shorter
// list of packages.
func TestTruncatedSweep(t *testing.T) {
	entries := sampleEntries(3, 5)
	for _, ext := range testExts {
		t.Run(ext, func(t *testing.T) {
			dir := t.TempDir()
			loc := Location{Dir: dir, Name: "t", Ext: ext}
			if err := Write(loc, entries, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{loc.DBPath(), loc.FilesPath()} {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				cut := filepath.Join(dir, "cut.db"+ext)
				// Every offset of small archives; about 200 plus the
				// last 32 bytes (checksums, end markers) of larger ones.
				var cuts []int
				for n := 1; n < len(data); n += max(1, len(data)/200) {
					cuts = append(cuts, n)
				}
				for n := max(1, len(data)-32); n < len(data); n++ {
					cuts = append(cuts, n)
				}
				for _, n := range sweep.Cases(t, cuts) {
					checkCut(t, cut, data, n)
				}
			}
		})
	}
}

func checkCut(t *testing.T, cut string, data []byte, n int) {
	t.Helper()
	writeFile(t, cut, data[:n])
	entries, err := Read(cut, ReadOptions{Files: true})
	if err == nil {
		t.Errorf("cut at %d of %d: read %d entries, no error", n, len(data), len(entries))
		return
	}
	if k := KindOf(err); k != Truncated {
		t.Errorf("cut at %d of %d: %v (kind %v), want Truncated", n, len(data), err, k)
	}
}

// TestTruncatedRepoAddDatabasesSweep cuts repo-add's own databases, compressed,
// at many offsets.
func TestTruncatedRepoAddDatabasesSweep(t *testing.T) {
	for _, ext := range testExts[1:] {
		t.Run(ext, func(t *testing.T) {
			_, db := buildRepoAddRepo(t, ext)
			data, err := os.ReadFile(strings.Replace(db, ".db.", ".files.", 1))
			if err != nil {
				t.Fatal(err)
			}
			cut := filepath.Join(t.TempDir(), "cut.db"+ext)
			var cuts []int
			for n := 1; n < len(data); n += max(1, len(data)/200) {
				cuts = append(cuts, n)
			}
			for _, n := range sweep.Cases(t, cuts) {
				checkCut(t, cut, data, n)
			}
		})
	}
}

func TestGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	path := filepath.Join(t.TempDir(), "x.db.tar.zst")
	for i := range 50 {
		data := make([]byte, 1+rng.IntN(4096))
		for j := range data {
			data[j] = byte(rng.UintN(256))
		}
		data[0] = 'G' // not the start of any magic number
		writeFile(t, path, data)
		_, err := Read(path, ReadOptions{})
		wantKind(t, err, Corrupt, "garbage "+itoa(i))
	}
	// Valid compression around garbage.
	var buf bytes.Buffer
	w, _ := compress.NewWriter(&buf, compress.Zstd)
	w.Write(bytes.Repeat([]byte("not a tar archive\n"), 100))
	w.Close()
	writeFile(t, path, buf.Bytes())
	_, err := Read(path, ReadOptions{})
	wantKind(t, err, Corrupt, "zstd of garbage")
}

// tarMember is one member of a hand-made archive.
type tarMember struct {
	name string
	body string // a name ending in "/" is a directory
}

func makeTar(t testing.TB, members ...tarMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(m.name, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(m.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const fooDesc = "%FILENAME%\nfoo-1-1-any.pkg.tar.zst\n\n%NAME%\nfoo\n\n%VERSION%\n1-1\n\n%CSIZE%\n10\n\n%ISIZE%\n20\n\n%ARCH%\nany\n\n%BUILDDATE%\n5\n\n"

func TestCorruptEntries(t *testing.T) {
	cases := []struct {
		what    string
		members []tarMember
		entry   string // expected in the error
	}{
		{"directory without desc", []tarMember{{"foo-1-1/", ""}, {"bar-1-1/", ""}, {"bar-1-1/desc", strings.ReplaceAll(strings.ReplaceAll(fooDesc, "foo", "bar"), "foo", "bar")}}, "foo-1-1"},
		{"files without desc", []tarMember{{"foo-1-1/files", "%FILES%\nusr/\n"}}, "foo-1-1"},
		{"desc without name", []tarMember{{"foo-1-1/desc", "%VERSION%\n1-1\n\n"}}, "foo-1-1"},
		{"desc without version", []tarMember{{"foo-1-1/desc", "%NAME%\nfoo\n\n"}}, "foo-1-1"},
		{"duplicate names", []tarMember{{"foo-1-1/desc", fooDesc}, {"foo-2-1/desc", strings.Replace(fooDesc, "%VERSION%\n1-1", "%VERSION%\n2-1", 1)}}, "foo-"},
		{"name mismatch", []tarMember{{"foo-1-1/desc", strings.Replace(fooDesc, "%NAME%\nfoo", "%NAME%\nfox", 1)}}, "foo-1-1"},
		{"two values for NAME", []tarMember{{"foo-1-1/desc", "%NAME%\nfoo\nbar\n\n%VERSION%\n1-1\n"}}, "foo-1-1/desc"},
		{"bad number", []tarMember{{"foo-1-1/desc", strings.Replace(fooDesc, "%CSIZE%\n10", "%CSIZE%\nten", 1)}}, "foo-1-1/desc"},
		{"line outside a field", []tarMember{{"foo-1-1/desc", "stray line\n" + fooDesc}}, "foo-1-1/desc"},
		{"duplicate field", []tarMember{{"foo-1-1/desc", fooDesc + "%NAME%\nfoo\n\n"}}, "foo-1-1/desc"},
		{"field in desc and depends", []tarMember{{"foo-1-1/desc", fooDesc + "%DEPENDS%\nbar\n\n"}, {"foo-1-1/depends", "%DEPENDS%\nbaz\n\n"}}, "foo-1-1/depends"},
		{"oversized desc", []tarMember{{"foo-1-1/desc", fooDesc + "%DESC%\n" + strings.Repeat("x", maxDescSize) + "\n"}}, "foo-1-1/desc"},
		{"only stray files", []tarMember{{"README", "hello"}}, ""},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db.tar")
			writeFile(t, path, makeTar(t, c.members...))
			_, err := Read(path, ReadOptions{Files: true})
			wantKind(t, err, Corrupt, c.what)
			if err != nil && !strings.Contains(err.Error(), c.entry) {
				t.Errorf("%s: error %q does not name %q", c.what, err, c.entry)
			}
		})
	}
}

func TestOversizedFilesMember(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MiB")
	}
	path := filepath.Join(t.TempDir(), "x.files.tar")
	// Streamed to the file: built in memory, the 64 MiB member cost more
	// than the rest of the package's tests under the race detector.
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	tw := tar.NewWriter(bw)
	line := "usr/share/some/long/file/name\n"
	head := "%FILES%\n"
	size := int64(len(head) + (maxFilesSize/len(line)+1)*len(line))
	for _, m := range []struct {
		name string
		size int64
		body io.Reader
	}{
		{"foo-1-1/desc", int64(len(fooDesc)), strings.NewReader(fooDesc)},
		{"foo-1-1/files", size, io.MultiReader(strings.NewReader(head), repeatReader(line, maxFilesSize/len(line)+1))},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: m.size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, m.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Read(path, ReadOptions{Files: true})
	wantKind(t, err, Corrupt, "oversized files")
	// Without Files the member is skipped, not judged.
	if _, err := Read(path, ReadOptions{}); err != nil {
		t.Errorf("without Files: %v", err)
	}
}

// repeatReader yields s n times without holding them in memory.
func repeatReader(s string, n int) io.Reader {
	readers := make([]io.Reader, 0, 2)
	const perChunk = 4096
	chunk := strings.Repeat(s, perChunk)
	for ; n >= perChunk; n -= perChunk {
		readers = append(readers, strings.NewReader(chunk))
	}
	readers = append(readers, strings.NewReader(strings.Repeat(s, n)))
	return io.MultiReader(readers...)
}

// TestAcceptedLayouts reads what pacman accepts beyond repo-add's layout:
// no directory members, any order, "./" prefixes, the old separate
// depends file, unknown fields and database files pacman ignores.
func TestAcceptedLayouts(t *testing.T) {
	barDesc := strings.ReplaceAll(fooDesc, "foo", "bar") + "%NEWFIELD%\nv1\nv2\n\n%XDATA%\npkgtype=pkg\n"
	data := makeTar(t,
		tarMember{"foo-1-1/depends", "%DEPENDS%\nbar>=1\n\n%PROVIDES%\nfoolib\n\n"},
		tarMember{"./bar-1-1/desc", barDesc},
		tarMember{"foo-1-1/desc", fooDesc},
		tarMember{"foo-1-1/mtree", "ignored"},
		tarMember{"foo-1-1/files", "%FILES%\nusr/\nusr/bin/foo\n"},
		tarMember{"README", "pacman warns and goes on"},
	)
	path := filepath.Join(t.TempDir(), "x.files.tar")
	writeFile(t, path, data)
	for _, ext := range []string{".tar.gz", ".tar.zst", ".tar.xz"} {
		f, _ := compress.FormatForName(ext)
		var buf bytes.Buffer
		w, _ := compress.NewWriter(&buf, f)
		w.Write(data)
		w.Close()
		writeFile(t, path+ext[4:], buf.Bytes())
	}
	for _, p := range []string{path, path + ".gz", path + ".zst", path + ".xz"} {
		entries, err := Read(p, ReadOptions{Files: true})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(entries) != 2 || entries[0].Name != "bar" || entries[1].Name != "foo" {
			t.Fatalf("%s: entries %+v", p, entries)
		}
		bar, foo := entries[0], entries[1]
		if strings.Join(foo.Depends, ",") != "bar>=1" || strings.Join(foo.Provides, ",") != "foolib" {
			t.Errorf("depends file not merged: %+v", foo)
		}
		if strings.Join(foo.Files, ",") != "usr/,usr/bin/foo" || bar.Files != nil {
			t.Errorf("files: foo %q bar %#v", foo.Files, bar.Files)
		}
		if len(bar.Extra) != 2 || bar.Extra[0].Name != "NEWFIELD" || strings.Join(bar.Extra[0].Values, ",") != "v1,v2" || bar.Extra[1].Name != "XDATA" {
			t.Errorf("extra fields: %+v", bar.Extra)
		}
		var desc bytes.Buffer
		if err := WriteDesc(&desc, &bar, false); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(desc.String(), "%BUILDDATE%\n5\n\n%NEWFIELD%\nv1\nv2\n\n%XDATA%\npkgtype=pkg\n\n") {
			t.Errorf("extra fields not written last, in order:\n%s", desc.String())
		}
	}
}

func TestEmptyDatabase(t *testing.T) {
	for _, ext := range testExts {
		dir := t.TempDir()
		loc := Location{Dir: dir, Name: "e", Ext: ext}
		if err := Write(loc, nil, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{loc.DBPath(), loc.FilesPath()} {
			entries, err := Read(p, ReadOptions{Files: true})
			if err != nil || len(entries) != 0 {
				t.Errorf("%s: %v entries, err %v", p, entries, err)
			}
			if ext != ".tar.bz2" { // bsdtar reads every format; check it agrees
				if m := archiveMembers(t, p); len(m) != 0 {
					t.Errorf("%s: members %v", p, m)
				}
			}
		}
	}
}

// TestRepoAddEmptyDatabase reads the empty database repo-remove writes
// when the last package goes (10 KiB of zeros, no "ustar" magic).
func TestRepoAddEmptyDatabase(t *testing.T) {
	needTool(t, "repo-remove")
	for _, ext := range []string{".tar", ".tar.zst", ".tar.gz"} {
		dir := t.TempDir()
		pkg := makePackage(t, dir, minimalPackage)
		db := filepath.Join(dir, "e.db"+ext)
		repoAdd(t, db, pkg)
		testutil.RepoRemove(t, []string{"-q"}, db, "minimal")
		for _, p := range []string{db, strings.Replace(db, ".db.", ".files.", 1)} {
			entries, err := Read(p, ReadOptions{Files: true})
			if err != nil || len(entries) != 0 {
				t.Errorf("%s: %v entries, err %v", p, entries, err)
			}
		}
	}
}
