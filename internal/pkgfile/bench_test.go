package pkgfile

import (
	"os"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// BenchmarkRead reads a package of 1,000 files (plus directories) in each
// format, with and without the file list. b.SetBytes is the size of the
// package file, so MB/s is compressed megabytes per second.
func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	for _, ext := range []string{".pkg.tar.zst", ".pkg.tar.xz", ".pkg.tar.gz", ".pkg.tar.bz2", ".pkg.tar.lz4", ".pkg.tar"} {
		path := testutil.MustMakePackage(b, dir, testutil.PackageSpec{
			Name: "bench", Version: "1.0-1", Ext: ext, NumFiles: 1000, FileSize: 2048,
		})
		st, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, files := range []bool{true, false} {
			name := ext[1:]
			if files {
				name += "/files"
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(st.Size())
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Read(path, ReadOptions{Files: files}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
