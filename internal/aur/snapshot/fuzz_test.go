package snapshot

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/pacrepo/pacrepo/internal/aur/aurtest"
)

// FuzzExtract feeds arbitrary archives: whatever happens, nothing may
// appear beside the destination, and a failure leaves the destination empty.
func FuzzExtract(f *testing.F) {
	f.Add(aurtest.Tarball(E{Name: "foo/"}, E{Name: "foo/PKGBUILD", Body: "x"}))
	f.Add(aurtest.Tarball(E{Name: "foo/l", Type: tar.TypeSymlink, Linkname: "../x"}, E{Name: "foo/l/y", Body: "x"}))
	f.Add(aurtest.Tarball(E{Name: "foo/a/"}, E{Name: "foo/a/l", Type: tar.TypeSymlink, Linkname: "t/../../x"}, E{Name: "foo/a/t", Type: tar.TypeSymlink, Linkname: ".."}))
	f.Add(aurtest.Tarball(E{Name: "foo/h", Type: tar.TypeLink, Linkname: "foo/../../etc/passwd"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dest := filepath.Join(parent, "dest")
		_, err := Extract(bytes.NewReader(data), dest, "foo", Options{Limits: Limits{MaxBytes: 1 << 20, MaxEntries: 100}})
		ents, _ := os.ReadDir(parent)
		if len(ents) != 1 || ents[0].Name() != "dest" {
			t.Fatalf("something appeared beside dest: %v", ents)
		}
		inside, _ := os.ReadDir(dest)
		if err != nil && len(inside) != 0 {
			t.Fatalf("failed extraction (%v) left %v", err, inside)
		}
		if err == nil && (len(inside) != 1 || inside[0].Name() != "foo") {
			t.Fatalf("successful extraction left %v", inside)
		}
	})
}
