package pkgfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// TestSparseFilesAreJudgedQuickly: a file named like a package that is a
// terabyte of holes (truncate -s 1T, or a preallocating downloader) is
// classified without reading a terabyte of zeros (which would take about
// an hour, holding the repository lock). Its kind is what it would be if
// the zeros were read: the holes count as zero bytes, and data after a
// hole is still looked at.
func TestSparseFilesAreJudgedQuickly(t *testing.T) {
	const size = 1 << 40
	dir := t.TempDir()
	pkg, err := pkggen.MakePackage(dir, pkggen.Spec{Name: "s", Version: "1-1", NumFiles: 20, FileSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		head, tail []byte
		kind       ErrorKind
	}{
		{"only a hole", nil, nil, Incomplete},
		{"zstd magic then a hole", data[:4], nil, Incomplete},
		{"half a package then a hole", data[:len(data)/2], nil, Incomplete},
		{"half a package, a hole, then garbage", data[:len(data)/2], []byte("garbage at the end"), Corrupt},
		{"a whole package, then a hole", data, nil, Incomplete},
		{"a hole then a package", nil, data, NotPackage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "sparse.pkg.tar.zst")
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Write(c.head)
			if err == nil {
				err = f.Truncate(size)
			}
			if err == nil && c.tail != nil {
				_, err = f.WriteAt(c.tail, size-int64(len(c.tail)))
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Skipf("this file system cannot hold a sparse file of %d bytes: %v", int64(size), err)
			}
			_, err = Read(path, ReadOptions{Files: true})
			t.Log(err)
			wantKind(t, c.name, err, c.kind)
		})
	}
}
