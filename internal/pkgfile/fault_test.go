package pkgfile

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/sweep"
)

const minimalPKGINFO = "pkgname = t\npkgver = 1-1\narch = any\n"

type entry struct {
	name string
	typ  byte
	data string
}

// makeTar builds a tar archive in makepkg's layout from entries; end
// controls whether the end-of-archive blocks are written.
func makeTar(t testing.TB, entries []entry, end bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
			if strings.HasSuffix(e.name, "/") {
				typ = tar.TypeDir
			}
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Size: int64(len(e.data)), Format: tar.FormatPAX}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if typ == tar.TypeXGlobalHeader {
			h = &tar.Header{Name: e.name, Typeflag: typ, PAXRecords: map[string]string{"comment": e.data}}
			e.data = ""
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if end {
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
	} else if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// retype changes the type of the first header of a tar archive (and its
// checksum): archive/tar will not write PAX or GNU long-name headers of
// our choosing.
func retype(data []byte, typ byte) []byte {
	data = slices.Clone(data)
	data[156] = typ
	copy(data[148:156], "        ")
	var sum int
	for _, c := range data[:512] {
		sum += int(c)
	}
	copy(data[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return data
}

// lyingTar is a tar whose only entry, name, claims size bytes but holds
// none: the stream ends right after the header.
func lyingTar(t testing.TB, name string, size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes() // no data, no Close: the writer would complain
}

func compressBytes(t testing.TB, f compress.Format, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := compress.NewWriter(&buf, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func wantKind(t *testing.T, what string, err error, want ErrorKind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %v", what, want)
		return
	}
	var pe *Error
	if !errors.As(err, &pe) {
		t.Errorf("%s: error %v is not a *pkgfile.Error", what, err)
		return
	}
	if pe.Kind != want {
		t.Errorf("%s: kind %v (%v), want %v", what, pe.Kind, err, want)
	}
}

// TestClassification is the table of what Read answers for each kind of
// bad file.
func TestClassification(t *testing.T) {
	dir := t.TempDir()
	valid := makeTar(t, []entry{{name: ".PKGINFO", data: minimalPKGINFO}, {name: "usr/"}}, true)
	noEnd := makeTar(t, []entry{{name: ".PKGINFO", data: minimalPKGINFO}, {name: "usr/"}}, false)
	oneZeroBlock := append(slices.Clone(noEnd), make([]byte, 512)...)
	exe, err := os.ReadFile("/proc/self/exe")
	if err != nil || len(exe) < 4096 {
		exe = append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 4096)...)
	}
	zstd := func(b []byte) []byte { return compressBytes(t, compress.Zstd, b) }
	cases := []struct {
		name string
		data []byte
		kind ErrorKind
	}{
		{"empty file", nil, Incomplete},
		{"one byte of gzip magic", []byte{0x1f}, Incomplete},
		{"zstd magic only", []byte{0x28, 0xb5, 0x2f, 0xfd}, Incomplete},
		{"plain tar without end blocks", noEnd, Incomplete},
		{"plain tar with one end block", oneZeroBlock, Incomplete},
		{"zstd frame complete, tar without end blocks", zstd(noEnd), Incomplete},
		{"zstd frame complete, one end block", zstd(oneZeroBlock), Incomplete},
		{"entry claiming 1 TiB", zstd(lyingTar(t, "usr/big", 1<<40)), Incomplete},
		{"only zero bytes", make([]byte, 4096), Incomplete},
		{"zstd magic then zero bytes", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, make([]byte, 4096)...), Incomplete},
		{"text", []byte("pkgname = foo\npkgver = 1-1\n"), NotPackage},
		{"short text without newline", []byte("hello\x01"), NotPackage},
		{"ELF", exe[:4096], NotPackage},
		{"PNG", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"), NotPackage},
		{"compress .Z", []byte{0x1f, 0x9d, 0x90, 0x2e, 0x50, 0x4b}, NotPackage},
		{"archive without .PKGINFO", zstd(makeTar(t, []entry{{name: ".BUILDINFO", data: "x"}, {name: "usr/"}}, true)), NotPackage},
		{"empty tar", zstd(makeTar(t, nil, true)), NotPackage},
		{".PKGINFO too large", zstd(makeTar(t, []entry{{name: ".PKGINFO", data: minimalPKGINFO + strings.Repeat("# padding\n", MaxPKGINFO/10+1)}}, true)), Corrupt},
		{".PKGINFO claiming 100 GiB", zstd(lyingTar(t, ".PKGINFO", 100<<30)), Corrupt},
		{".PKGINFO without pkgver", zstd(makeTar(t, []entry{{name: ".PKGINFO", data: "pkgname = t\n"}}, true)), Corrupt},
		{".PKGINFO without pkgname", zstd(makeTar(t, []entry{{name: ".PKGINFO", data: "pkgver = 1-1\n"}}, true)), Corrupt},
		{".PKGINFO bad builddate", zstd(makeTar(t, []entry{{name: ".PKGINFO", data: minimalPKGINFO + "builddate = yesterday\n"}}, true)), Corrupt},
		{".PKGINFO is a directory", zstd(makeTar(t, []entry{{name: ".PKGINFO", typ: tar.TypeDir}}, true)), Corrupt},
		{"zero block then garbage", append(append(slices.Clone(noEnd), make([]byte, 512)...), bytes.Repeat([]byte{'x'}, 512)...), Corrupt},
		{"trailing garbage after zstd", append(zstd(valid), "garbage!"...), Corrupt},
		{"PAX header of 2 MiB", zstd(retype(makeTar(t, []entry{{name: "PaxHeaders/x", data: strings.Repeat("x", 2<<20)}}, true), tar.TypeXHeader)), Corrupt},
		{"GNU long name of 2 MiB", zstd(retype(makeTar(t, []entry{{name: "././@LongLink", data: strings.Repeat("x", 2<<20)}}, true), tar.TypeGNULongName)), Corrupt},
		{"bad tar header checksum", func() []byte {
			b := slices.Clone(valid)
			b[150] ^= 0x01 // inside the checksum field of the first header
			return zstd(b)
		}(), Corrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_")+".pkg.tar.zst", c.data)
			pkg, err := Read(path, ReadOptions{Files: true})
			t.Logf("%v", err)
			wantKind(t, c.name, err, c.kind)
			if pkg != nil {
				t.Errorf("a package returned with an error")
			}
			var pe *Error
			if errors.As(err, &pe) && pe.Path != path {
				t.Errorf("error names %q, want %q", pe.Path, path)
			}
			// ReadFrom classifies the same way.
			_, err = ReadFrom(bytes.NewReader(c.data), c.name, ReadOptions{})
			wantKind(t, "ReadFrom "+c.name, err, c.kind)
		})
	}
	// And the valid base of all this is a package.
	if _, err := Read(writeFile(t, dir, "valid.pkg.tar", valid), ReadOptions{}); err != nil {
		t.Errorf("valid package: %v", err)
	}
}

// TestClassificationOfPaths covers what is not a file of bytes.
func TestClassificationOfPaths(t *testing.T) {
	dir := t.TempDir()
	_, err := Read(dir, ReadOptions{})
	wantKind(t, "directory", err, NotPackage)

	missing := filepath.Join(dir, "missing.pkg.tar.zst")
	_, err = Read(missing, ReadOptions{})
	wantKind(t, "missing file", err, Incomplete)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v does not wrap fs.ErrNotExist", err)
	}

	fifo := filepath.Join(dir, "fifo.pkg.tar.zst")
	if err := syscall.Mkfifo(fifo, 0o644); err == nil {
		_, err = Read(fifo, ReadOptions{}) // must not block
		wantKind(t, "FIFO", err, NotPackage)
	}

	noperm := writeFile(t, dir, "noperm.pkg.tar.zst", []byte("x"))
	if err := os.Chmod(noperm, 0); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(noperm); err == nil {
		f.Close() // root reads anything
	} else {
		_, err = Read(noperm, ReadOptions{})
		wantKind(t, "permission denied", err, Incomplete)
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("permission denied: %v does not wrap fs.ErrPermission", err)
		}
	}
}

// truncationOffsets returns every length from 1 to 520 (the compression
// header and the first tar header), then about 100 lengths spread over the
// rest, and the last 8 lengths up to size-1.
func truncationOffsets(size int) []int {
	var cuts []int
	for n := 1; n < size && n <= 520; n++ {
		cuts = append(cuts, n)
	}
	stride := max(1, size/100)
	for n := 521; n < size; n += stride {
		cuts = append(cuts, n)
	}
	for n := max(1, size-8); n < size; n++ {
		cuts = append(cuts, n)
	}
	return cuts
}

// checkTruncations cuts data at many lengths and requires Incomplete for
// every one.
func checkTruncations(t *testing.T, name string, data []byte) {
	t.Helper()
	if _, err := ReadFrom(bytes.NewReader(data), name, ReadOptions{Files: true}); err != nil {
		t.Fatalf("%s: the whole file does not read: %v", name, err)
	}
	bad := 0
	for _, n := range sweep.Cases(t, truncationOffsets(len(data))) {
		_, err := ReadFrom(bytes.NewReader(data[:n]), name, ReadOptions{Files: true})
		if KindOf(err) != Incomplete {
			if bad++; bad <= 10 {
				t.Errorf("%s cut to %d of %d bytes: %v (kind %v), want incomplete", name, n, len(data), err, KindOf(err))
			}
		}
	}
	// And through the file system, with the size checks of Read.
	dir := t.TempDir()
	for _, n := range []int{1, len(data) / 2, len(data) - 1} {
		_, err := Read(writeFile(t, dir, fmt.Sprintf("%d-%s", n, name), data[:n]), ReadOptions{})
		wantKind(t, fmt.Sprintf("%s cut to %d (file)", name, n), err, Incomplete)
	}
}

// TestTruncatedFixturesSweep cuts the real makepkg packages of every format.
func TestTruncatedFixturesSweep(t *testing.T) {
	for _, path := range testutil.Fixture(t, "fixture-compress-*") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkTruncations(t, filepath.Base(path), data)
		})
	}
}

// cliCompressors are the commands makepkg's default makepkg.conf (and
// Arch's) uses for each format.
var cliCompressors = map[string][]string{
	".pkg.tar.gz":       {"gzip", "-c", "-f", "-n"},
	".pkg.tar.bz2":      {"bzip2", "-c", "-f"},
	".pkg.tar.xz":       {"xz", "-c", "-z", "-"},
	".pkg.tar.zst":      {"zstd", "-c", "-z", "-q", "-"},
	".arch.pkg.tar.zst": {"zstd", "-c", "-T0", "--ultra", "-20", "-q", "-"},
	".pkg.tar.lz4":      {"lz4", "-q", "-c"},
}

// TestCLICompressedSweep reads packages compressed by the real tools: the
// same tar must give the same package whatever compressed it, and each
// must also be Incomplete when cut.
func TestCLICompressedSweep(t *testing.T) {
	dir := t.TempDir()
	plain := testutil.MustMakePackage(t, dir, testutil.PackageSpec{
		Name: "clitest", Version: "1.0-1", Ext: ".pkg.tar", NumFiles: 60,
		Depends: []string{"glibc", "zlib>=1.2"}, OptDepends: []string{"foo: for = bar"},
		Files: []testutil.PackageFile{{Path: "usr/bin/clitest", Data: []byte("#!/bin/sh\n")}},
	})
	want, err := Read(plain, ReadOptions{Files: true})
	if err != nil {
		t.Fatal(err)
	}
	tarData, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	for ext, args := range cliCompressors {
		t.Run(ext, func(t *testing.T) {
			tool := testutil.RequireTool(t, args[0])
			cmd := exec.Command(tool, args[1:]...)
			cmd.Stdin = bytes.NewReader(tarData)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			path := writeFile(t, dir, "clitest-1.0-1-x86_64"+ext, out)
			got := checkAgainstOracles(t, path)
			if describe(&got.Info) != describe(&want.Info) || !slices.Equal(got.Files, want.Files) {
				t.Errorf("%s gives another package than the plain tar", ext)
			}
			checkTruncations(t, filepath.Base(path), out)
		})
	}
	checkTruncations(t, "plain", tarData)
}

// TestOwnWritersTruncatedSweep does the same with packages written by
// internal/compress (what pkggen and our tests produce).
func TestOwnWritersTruncatedSweep(t *testing.T) {
	dir := t.TempDir()
	for _, f := range compress.Formats {
		path := testutil.MustMakePackage(t, dir, testutil.PackageSpec{
			Name: "own-" + f.String(), Version: "1-1", Ext: ".pkg.tar" + f.Ext(), NumFiles: 30,
		})
		checkAgainstOracles(t, path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkTruncations(t, filepath.Base(path), data)
	}
}

// TestCorruptedFixtures flips bytes after the magic number of every
// compressed fixture (after the first 10 bytes: gzip header bytes 8-9 are
// informative and unchecked): the result must never be read as a package, and
// never be called "not a package".
func TestCorruptedFixtures(t *testing.T) {
	for _, path := range testutil.Fixture(t, "fixture-compress-*") {
		if strings.HasSuffix(path, ".tar") {
			continue // a plain tar has no checksum over file contents
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		orig, err := ReadFrom(bytes.NewReader(data), path, ReadOptions{Files: true})
		if err != nil {
			t.Fatal(err)
		}
		corrupt := 0
		for i := 10; i < len(data); i += max(1, len(data)/100) {
			b := slices.Clone(data)
			b[i] ^= 0x55
			got, err := ReadFrom(bytes.NewReader(b), path, ReadOptions{Files: true})
			switch KindOf(err) {
			case 0:
				// A few compressed bits carry no information (bzip2's code
				// lengths of unused symbols, say): the archive inside is
				// then the same, and reading it is right. Different content
				// must never pass.
				if !reflect.DeepEqual(got.Info, orig.Info) || !slices.Equal(got.Files, orig.Files) {
					t.Errorf("%s with byte %d flipped: read as a different package", filepath.Base(path), i)
				}
			case NotPackage:
				t.Errorf("%s with byte %d flipped: %v", filepath.Base(path), i, err)
			case Corrupt:
				corrupt++
			}
		}
		if corrupt == 0 {
			t.Errorf("%s: no flipped byte was reported as corrupt", filepath.Base(path))
		}
	}
}

// TestChangedWhileRead changes the file between the read and the final
// checks: appended to, truncated, touched, replaced.
func TestChangedWhileRead(t *testing.T) {
	src := testutil.Fixture(t, "fixture-compress-zst-*")[0]
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	changes := map[string]func(path string) error{
		"appended": func(path string) error {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write([]byte("more"))
			return err
		},
		"truncated": func(path string) error { return os.Truncate(path, int64(len(data)/2)) },
		"touched": func(path string) error {
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			return os.Chtimes(path, st.ModTime(), st.ModTime().Add(1))
		},
		"replaced": func(path string) error {
			tmp := path + ".new"
			if err := os.WriteFile(tmp, data, 0o644); err != nil {
				return err
			}
			return os.Rename(tmp, path)
		},
		"removed": os.Remove,
	}
	t.Cleanup(func() { testHookAfterRead = nil })
	for name, change := range changes {
		path := writeFile(t, dir, name+".pkg.tar.zst", data)
		testHookAfterRead = func(p string) {
			if err := change(p); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		_, err := Read(path, ReadOptions{})
		wantKind(t, name, err, Incomplete)
		if err != nil && !strings.Contains(err.Error(), "changed while being read") {
			t.Errorf("%s: %v does not say the file changed", name, err)
		}
	}
}

// TestReadWhileWritten reads a package again and again while another
// goroutine writes it in small pieces, as a slow copy or a builder would:
// every read must either fail as Incomplete or return the complete file.
func TestReadWhileWritten(t *testing.T) {
	src := testutil.Fixture(t, "fixture-manyfiles-*")[0]
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Read(src, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), filepath.Base(src))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		defer f.Close()
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 701)
			if _, err := f.Write(rest[:n]); err != nil {
				t.Error(err)
				return
			}
			rest = rest[n:]
		}
	})
	reads, incomplete := 0, 0
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		reads++
		pkg, err := Read(path, ReadOptions{Files: true})
		switch {
		case err == nil:
			if pkg.SHA256 != want.SHA256 || pkg.CSize != want.CSize {
				t.Fatalf("read %d bytes of a file being written as a complete package", pkg.CSize)
			}
		case KindOf(err) == Incomplete:
			incomplete++
		default:
			t.Fatalf("a file being written gave %v (kind %v), want incomplete", err, KindOf(err))
		}
	}
	wg.Wait()
	t.Logf("%d reads, %d incomplete", reads, incomplete)
	if _, err := Read(path, ReadOptions{}); err != nil {
		t.Errorf("the finished file: %v", err)
	}
}

// TestHostileSizesBounded reads archives that claim huge sizes and
// checks that memory stays small.
func TestHostileSizesBounded(t *testing.T) {
	// 64 MiB of zeros in one entry compresses to a few KiB: reading it
	// (a "bomb") must stream, not hold it.
	var buf bytes.Buffer
	zw, err := compress.NewWriter(&buf, compress.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: ".PKGINFO", Mode: 0o644, Size: int64(len(minimalPKGINFO))})
	tw.Write([]byte(minimalPKGINFO))
	const big = 64 << 20
	tw.WriteHeader(&tar.Header{Name: "usr/zeros", Mode: 0o644, Size: big})
	io.Copy(tw, io.LimitReader(zeroReader{}, big))
	tw.Close()
	zw.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := ReadFrom(bytes.NewReader(buf.Bytes()), "bomb", ReadOptions{Files: true}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > big/4 {
		t.Errorf("reading a %d-byte package holding %d zero bytes allocated %d bytes", buf.Len(), big, grew)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestPreallocated reads packages written into preallocated space: the
// part still to be written is zero bytes. They must be Incomplete, never
// corrupt or "not a package".
func TestPreallocated(t *testing.T) {
	for _, path := range testutil.Fixture(t, "fixture-compress-*") {
		if strings.HasSuffix(path, ".tar") {
			continue // zeros are a plain tar's own end marker; see zeroTail
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, written := range []int{0, 1, 20, len(data) / 3, len(data) - 600} {
			b := make([]byte, len(data))
			copy(b, data[:written])
			_, err := ReadFrom(bytes.NewReader(b), path, ReadOptions{})
			wantKind(t, fmt.Sprintf("%s with %d of %d bytes written", filepath.Base(path), written, len(data)), err, Incomplete)
		}
	}
}
