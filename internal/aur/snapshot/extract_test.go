package snapshot

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/aur/aurtest"
)

type E = aurtest.Entry

func TestExtractSnapshot(t *testing.T) {
	dest := t.TempDir()
	data := aurtest.Tarball(
		E{Name: "foo/"},
		E{Name: "foo/PKGBUILD", Body: "pkgname=foo\n"},
		E{Name: "foo/.SRCINFO", Body: "pkgbase = foo\npkgname = foo\n"},
		E{Name: "foo/build.sh", Body: "#!/bin/sh\n", Mode: 0o4777},
		E{Name: "foo/sub/"},
		E{Name: "foo/sub/patch", Body: "x"},
		E{Name: "foo/link", Type: tar.TypeSymlink, Linkname: "sub/patch"},
		E{Name: "foo/up", Type: tar.TypeSymlink, Linkname: "sub/../PKGBUILD"},
		E{Name: "foo/hard", Type: tar.TypeLink, Linkname: "foo/PKGBUILD"},
	)
	dir, err := Extract(bytes.NewReader(data), dest, "foo", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(dest, "foo") {
		t.Fatalf("dir %s", dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "link"))
	if err != nil || string(b) != "x" {
		t.Fatalf("link: %q %v", b, err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "build.sh"))
	if fi.Mode().Perm() != 0o755 || fi.Mode()&os.ModeSetuid != 0 {
		t.Errorf("build.sh mode %v, want 0755 without setuid", fi.Mode())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "hard")); string(b) != "pkgname=foo\n" {
		t.Errorf("hard link content %q", b)
	}
	assertOnly(t, dest, "foo")

	// An existing directory is refused without clobber, replaced with it.
	if _, err := Extract(bytes.NewReader(data), dest, "foo", Options{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second extraction: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "stale"), []byte("old"), 0o644)
	if _, err := Extract(bytes.NewReader(data), dest, "foo", Options{Clobber: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stale")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("clobber kept a stale file: %v", err)
	}
	assertOnly(t, dest, "foo")
}

// assertOnly checks that dest holds exactly names (no temporary leftovers).
func assertOnly(t *testing.T, dest string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dest)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("dest holds %q, want %q", got, names)
	}
}

func TestExtractRefusesHostileArchives(t *testing.T) {
	big := strings.Repeat("A", 2000)
	for _, tc := range []struct {
		name    string
		entries []E
		limits  Limits
		want    string
	}{
		{"dotdot", []E{{Name: "foo/"}, {Name: "foo/../evil", Body: "x"}}, Limits{}, ".."},
		{"dotdot-deep", []E{{Name: "foo/a/../../../evil", Body: "x"}}, Limits{}, ".."},
		{"absolute", []E{{Name: "/tmp/evil", Body: "x"}}, Limits{}, "absolute"},
		{"outside-base", []E{{Name: "bar/evil", Body: "x"}}, Limits{}, "outside"},
		{"symlink-out", []E{{Name: "foo/"}, {Name: "foo/l", Type: tar.TypeSymlink, Linkname: "../../etc"}}, Limits{}, "points outside"},
		{"symlink-to-sibling-dir", []E{{Name: "foo/l", Type: tar.TypeSymlink, Linkname: "../bar"}}, Limits{}, "points outside"},
		{"symlink-absolute", []E{{Name: "foo/l", Type: tar.TypeSymlink, Linkname: "/etc/passwd"}}, Limits{}, "absolute"},
		{"symlink-chain", []E{
			{Name: "foo/a", Type: tar.TypeSymlink, Linkname: "b/x"},
			{Name: "foo/b", Type: tar.TypeSymlink, Linkname: ".."},
			{Name: "foo/c", Type: tar.TypeSymlink, Linkname: "b/.."},
		}, Limits{}, "points outside"},
		{"symlink-late-escape", []E{
			{Name: "foo/a/"},
			{Name: "foo/a/l", Type: tar.TypeSymlink, Linkname: "t/../../x"},
			{Name: "foo/a/t", Type: tar.TypeSymlink, Linkname: ".."},
		}, Limits{}, "through other symlinks"},
		{"symlink-loop", []E{
			{Name: "foo/x", Type: tar.TypeSymlink, Linkname: "y"},
			{Name: "foo/y", Type: tar.TypeSymlink, Linkname: "x"},
		}, Limits{}, "points outside"},
		{"write-through-symlink", []E{
			{Name: "foo/sub/"},
			{Name: "foo/l", Type: tar.TypeSymlink, Linkname: "sub"},
			{Name: "foo/l/file", Body: "x"},
		}, Limits{}, "parent directory is a symlink"},
		{"overwrite-symlink", []E{
			{Name: "foo/l", Type: tar.TypeSymlink, Linkname: "PKGBUILD"},
			{Name: "foo/l", Body: "x"},
		}, Limits{}, "duplicate"},
		{"hardlink-out", []E{{Name: "foo/h", Type: tar.TypeLink, Linkname: "../etc/passwd"}}, Limits{}, ".."},
		{"hardlink-absolute", []E{{Name: "foo/h", Type: tar.TypeLink, Linkname: "/etc/passwd"}}, Limits{}, "absolute"},
		{"hardlink-to-symlink", []E{
			{Name: "foo/l", Type: tar.TypeSymlink, Linkname: "PKGBUILD"},
			{Name: "foo/h", Type: tar.TypeLink, Linkname: "foo/l"},
		}, Limits{}, "not an extracted regular file"},
		{"hardlink-through-symlink", []E{
			{Name: "foo/sub/"},
			{Name: "foo/sub/f", Body: "x"},
			{Name: "foo/l", Type: tar.TypeSymlink, Linkname: "sub"},
			{Name: "foo/h", Type: tar.TypeLink, Linkname: "foo/l/f"},
		}, Limits{}, "behind a symlink"},
		{"fifo", []E{{Name: "foo/p", Type: tar.TypeFifo}}, Limits{}, "FIFO"},
		{"chardev", []E{{Name: "foo/c", Type: tar.TypeChar}}, Limits{}, "device"},
		{"blockdev", []E{{Name: "foo/b", Type: tar.TypeBlock}}, Limits{}, "device"},
		{"too-many-bytes", []E{{Name: "foo/a", Body: big}, {Name: "foo/b", Body: big}}, Limits{MaxBytes: 3000}, "exceed"},
		{"too-many-entries", []E{{Name: "foo/a"}, {Name: "foo/b"}, {Name: "foo/c"}}, Limits{MaxEntries: 2}, "more than 2"},
		{"no-base-dir", []E{}, Limits{}, "no foo/ directory"},
		{"directory-over-file", []E{{Name: "foo/a", Body: "x"}, {Name: "foo/a/"}}, Limits{}, "non-directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dest := filepath.Join(parent, "dest")
			os.Mkdir(dest, 0o755)
			data := aurtest.Tarball(tc.entries...)
			_, err := Extract(bytes.NewReader(data), dest, "foo", Options{Limits: tc.limits})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			assertOnly(t, dest)
			assertOnly(t, parent, "dest")
		})
	}
}

func TestExtractCorruptArchives(t *testing.T) {
	good := aurtest.Tarball(E{Name: "foo/"}, E{Name: "foo/PKGBUILD", Body: strings.Repeat("x", 10000)})
	for name, data := range map[string][]byte{
		"not-gzip":  []byte("<html>404</html>"),
		"truncated": good[:len(good)/2],
		"bad-crc":   append(append([]byte{}, good[:len(good)-8]...), 0, 0, 0, 0, 0, 0, 0, 0),
	} {
		t.Run(name, func(t *testing.T) {
			dest := t.TempDir()
			if _, err := Extract(bytes.NewReader(data), dest, "foo", Options{}); err == nil {
				t.Fatal("no error")
			}
			assertOnly(t, dest)
		})
	}
}

func TestInvalidPkgbase(t *testing.T) {
	for _, b := range []string{"", ".", "..", "a/b", "../x"} {
		if err := CheckTarget(t.TempDir(), b, false); err == nil {
			t.Errorf("pkgbase %q accepted", b)
		}
	}
}
