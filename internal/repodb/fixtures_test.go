package repodb

import (
	"bufio"
	"bytes"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

var pgpSigSection = regexp.MustCompile(`(?m)^%PGPSIG%\n[^\n]*\n\n`)

// TestFixturesMatchRepoAdd runs repo-add on every makepkg-built fixture
// package and requires, for each, that FromPackage on pkgfile.Read gives
// repo-add's desc and files byte for byte (minus %MD5SUM%, and %PGPSIG%
// which FromPackage leaves to the caller), and that Read then Write gives
// repo-add's archives member by member.
func TestFixturesMatchRepoAdd(t *testing.T) {
	dir := t.TempDir()
	pkgs := testutil.CopyFixtures(t, dir, "*.pkg.tar*")
	db := filepath.Join(dir, "fix.db.tar.gz")
	repoAdd(t, db, pkgs...)
	loc, err := ParseLocation(db)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := archiveMembers(t, loc.FilesPath())

	for _, path := range pkgs {
		p, err := pkgfile.Read(path, pkgfile.ReadOptions{Files: true})
		if err != nil {
			t.Fatal(err)
		}
		e := FromPackage(p)
		var desc, files bytes.Buffer
		if err := WriteDesc(&desc, &e, false); err != nil {
			t.Fatal(err)
		}
		if err := writeFilesList(bufio.NewWriter(nil), &files, sortedFiles(e.Files)); err != nil {
			t.Fatal(err)
		}
		member := e.Name + "-" + e.Version + "/"
		want := pgpSigSection.ReplaceAllString(md5Section.ReplaceAllString(wantFiles[member+"desc"], ""), "")
		if desc.String() != want {
			t.Errorf("%s: desc\n got  %q\n want %q", filepath.Base(path), desc.String(), want)
		}
		if files.String() != wantFiles[member+"files"] {
			t.Errorf("%s: files\n got  %q\n want %q", filepath.Base(path), files.String(), wantFiles[member+"files"])
		}
	}

	entries, err := ReadLocation(loc, ReadOptions{Files: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(pkgs) {
		t.Fatalf("read %d entries from %d packages", len(entries), len(pkgs))
	}
	out := Location{Dir: t.TempDir(), Name: "fix", Ext: ".tar.zst"}
	if err := Write(out, entries, WriteOptions{PGPSig: true}); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{loc.DBPath(), out.DBPath()}, {loc.FilesPath(), out.FilesPath()}} {
		want := archiveMembers(t, pair[0])
		for name, body := range want {
			want[name] = md5Section.ReplaceAllString(body, "")
		}
		if got := archiveMembers(t, pair[1]); !reflect.DeepEqual(got, want) {
			t.Errorf("%s differs from repo-add's %s", pair[1], pair[0])
		}
	}
}
