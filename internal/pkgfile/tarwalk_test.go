package pkgfile

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

type walkResult struct {
	names   []string // every entry but pax global headers, in order
	pkginfo []byte   // content of the first .PKGINFO
	err     error    // nil for a clean end
}

// walkArchiveTar walks data with archive/tar, the reference.
func walkArchiveTar(data []byte) walkResult {
	var res walkResult
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return res
		}
		if err != nil {
			res.err = err
			return res
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		res.names = append(res.names, hdr.Name)
		if hdr.Name == ".PKGINFO" && res.pkginfo == nil && (hdr.Typeflag == tar.TypeReg || hdr.Typeflag == 0 /* pre-POSIX regular file */) && hdr.Size <= MaxPKGINFO {
			if res.pkginfo, err = io.ReadAll(tr); err != nil {
				res.err = err
				return res
			}
		}
	}
}

func walkOurs(data []byte) walkResult {
	var res walkResult
	w := &tarWalker{r: bytes.NewReader(data)}
	for {
		e, err := w.next()
		if err == io.EOF {
			return res
		}
		if err != nil {
			res.err = err
			return res
		}
		res.names = append(res.names, string(e.Name))
		if string(e.Name) == ".PKGINFO" && res.pkginfo == nil && (e.Type == '0' || e.Type == 0) && e.Size <= MaxPKGINFO {
			if res.pkginfo, err = io.ReadAll(w); err != nil {
				res.err = err
				return res
			}
		}
	}
}

// compareWalks checks tarWalker against archive/tar on one archive. When
// archive/tar reads it, tarWalker must give the same entries and
// .PKGINFO, or fail only for a missing end-of-archive marker. tarWalker
// may reject what archive/tar accepts no other way, and may accept
// archives archive/tar rejects for fields it does not use (PAX mtime...).
func compareWalks(t *testing.T, what string, data []byte) {
	t.Helper()
	ref, got := walkArchiveTar(data), walkOurs(data)
	if ref.err != nil {
		return
	}
	if got.err != nil {
		if !errors.Is(got.err, io.ErrUnexpectedEOF) {
			t.Fatalf("%s: archive/tar reads it, tarWalker fails: %v", what, got.err)
		}
		// Fine only when the end marker is missing: archive/tar's reading
		// must then end short of two zero blocks.
		if bytes.HasSuffix(data, make([]byte, 1024)) && len(data)%512 == 0 && len(ref.names) == len(got.names) {
			t.Fatalf("%s: tarWalker calls a complete archive truncated: %v", what, got.err)
		}
		return
	}
	if !slices.Equal(got.names, ref.names) || !bytes.Equal(got.pkginfo, ref.pkginfo) {
		t.Fatalf("%s: tarWalker lists\n%q\narchive/tar lists\n%q\n(.PKGINFO %q vs %q)", what, got.names, ref.names, got.pkginfo, ref.pkginfo)
	}
}

func decompressAll(t testing.TB, data []byte) []byte {
	t.Helper()
	r, _, err := compress.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// formatTars builds the same entries in every tar format archive/tar
// writes: USTAR (long names split into prefix and name), PAX, GNU (long
// names in 'L' headers).
func formatTars(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	long := "usr/share/" + strings.Repeat("deep/", 25) + "file-with-a-rather-long-name.txt"
	for _, f := range []tar.Format{tar.FormatUSTAR, tar.FormatPAX, tar.FormatGNU} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range []*tar.Header{
			{Name: ".PKGINFO", Typeflag: tar.TypeReg, Size: int64(len(minimalPKGINFO))},
			{Name: "usr/", Typeflag: tar.TypeDir},
			{Name: long, Typeflag: tar.TypeReg, Size: 3},
			{Name: "usr/link", Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("target/", 20)},
			{Name: "usr/hard", Typeflag: tar.TypeLink, Linkname: "usr/link"},
			{Name: "usr/fifo", Typeflag: tar.TypeFifo},
		} {
			h.Mode, h.Format = 0o644, f
			if f == tar.FormatUSTAR && len(h.Linkname) > 100 {
				h.Linkname = "short"
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatalf("%v: %v", f, err)
			}
			if h.Name == ".PKGINFO" {
				tw.Write([]byte(minimalPKGINFO))
			} else if h.Size > 0 {
				tw.Write([]byte("abc"))
			}
		}
		tw.Close()
		out[f.String()] = buf.Bytes()
	}
	return out
}

// TestTarWalkerMatchesArchiveTar walks real and synthetic packages and
// tars of every format with both readers.
func TestTarWalkerMatchesArchiveTar(t *testing.T) {
	for name, data := range formatTars(t) {
		compareWalks(t, name, data)
		if r := walkOurs(data); r.err != nil || len(r.names) != 6 {
			t.Errorf("%s: %d entries, %v", name, len(r.names), r.err)
		}
	}
	for _, path := range testutil.AllFixtures(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		tarData := decompressAll(t, data)
		compareWalks(t, path, tarData)
		if r := walkOurs(tarData); r.err != nil || r.pkginfo == nil {
			t.Errorf("%s: %v, .PKGINFO found: %v", path, r.err, r.pkginfo != nil)
		}
	}
}

func FuzzTarWalker(f *testing.F) {
	for _, data := range formatTars(f) {
		f.Add(data)
	}
	f.Add(makeTar(f, []entry{{name: ".PKGINFO", data: minimalPKGINFO}, {name: "usr/"}, {name: "usr/a"}}, true))
	f.Fuzz(func(t *testing.T, data []byte) {
		compareWalks(t, "fuzz input", data)
	})
}
