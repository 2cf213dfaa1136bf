package repodb

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

var testExts = []string{".tar", ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst", ".tar.lz4"}

// md5Section is the one section repo-add writes and we do not.
var md5Section = regexp.MustCompile(`(?m)^%MD5SUM%\n[0-9a-f]{32}\n\n`)

// buildRepoAddRepo makes the test packages in a new directory and runs
// repo-add on them; it returns the directory and the db path.
func buildRepoAddRepo(t testing.TB, ext string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	var pkgs []string
	for _, p := range allTestPackages {
		pkgs = append(pkgs, makePackage(t, dir, p))
	}
	db := filepath.Join(dir, "ref.db"+ext)
	repoAdd(t, db, pkgs...)
	return dir, db
}

func withoutMD5(entries []Entry) []Entry {
	out := slices.Clone(entries)
	for i := range out {
		out[i].MD5Sum = ""
	}
	return out
}

// TestRoundTripRepoAdd reads what the real repo-add wrote in every
// compression, writes it back, and requires the same entries and, member
// by member, the same bytes as repo-add minus its %MD5SUM% section.
func TestRoundTripRepoAdd(t *testing.T) {
	for _, ext := range testExts {
		t.Run(ext, func(t *testing.T) {
			refDir, refDB := buildRepoAddRepo(t, ext)
			refLoc, err := ParseLocation(refDB)
			if err != nil {
				t.Fatal(err)
			}
			dbEntries, err := Read(refLoc.DBPath(), ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(dbEntries) != len(allTestPackages) {
				t.Fatalf("read %d entries, want %d", len(dbEntries), len(allTestPackages))
			}
			for _, e := range dbEntries {
				if e.Files != nil {
					t.Errorf("%s: Files loaded from the db without ReadOptions.Files", e.Name)
				}
				if len(e.MD5Sum) != 32 {
					t.Errorf("%s: MD5Sum %q not kept", e.Name, e.MD5Sum)
				}
			}
			entries, err := ReadLocation(refLoc, ReadOptions{Files: true})
			if err != nil {
				t.Fatal(err)
			}
			checkRichEntry(t, entries)

			outDir := t.TempDir()
			loc := Location{Dir: outDir, Name: "ref", Ext: ext}
			if err := Write(loc, entries, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			again, err := ReadLocation(loc, ReadOptions{Files: true})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(withoutMD5(entries), again) {
				t.Errorf("entries changed by a write/read round trip:\n got  %+v\n want %+v", again, withoutMD5(entries))
			}
			for _, pair := range [][2]string{{refLoc.DBPath(), loc.DBPath()}, {refLoc.FilesPath(), loc.FilesPath()}} {
				want := archiveMembers(t, pair[0])
				got := archiveMembers(t, pair[1])
				for name, body := range want {
					want[name] = md5Section.ReplaceAllString(body, "")
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s differs from repo-add's %s:\n got  %q\n want %q", pair[1], pair[0], got, want)
				}
			}
			_ = refDir
		})
	}
}

// checkRichEntry checks that the fields repo-add wrote were all read.
func checkRichEntry(t *testing.T, entries []Entry) {
	t.Helper()
	i := slices.IndexFunc(entries, func(e Entry) bool { return e.Name == "rich" })
	if i < 0 {
		t.Fatal("no entry rich")
	}
	e := entries[i]
	want := Entry{
		Filename: richPackage.file, Name: "rich", Base: "richbase", Version: "1:2.3.4-5",
		Desc:   "Ünïcödé description — with runs of spaces",
		Groups: []string{"g1", "g2"}, CSize: e.CSize, ISize: 123456, MD5Sum: e.MD5Sum, SHA256Sum: e.SHA256Sum,
		URL: "https://example.org/rich", Licenses: []string{"GPL-3.0-or-later", "MIT"}, Arch: "x86_64",
		BuildDate: 1700000000, Packager: "Test Packager <test@example.org>",
		Replaces: []string{"oldrich", "older-rich<1"}, Conflicts: []string{"conflicting<2"},
		Provides: []string{"richlib=2", "librich.so=1-64"}, Depends: []string{"glibc>=2.30", "bash"},
		OptDepends:  []string{"python: for scripts", "perl: for: colons: galore"},
		MakeDepends: []string{"cmake"}, CheckDepends: []string{"check"},
		Files: []string{"etc/", "etc/rich.conf", "usr/", "usr/bin/", "usr/bin/rich", "usr/share/", "usr/share/rich/",
			"usr/share/rich/a b", "usr/share/rich/données ünï.txt"},
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("rich:\n got  %+v\n want %+v", e, want)
	}
	if e.CSize <= 0 || len(e.SHA256Sum) != 64 {
		t.Errorf("rich: CSize %d SHA256Sum %q", e.CSize, e.SHA256Sum)
	}
	m := slices.IndexFunc(entries, func(e Entry) bool { return e.Name == "minimal" })
	if m < 0 || entries[m].Files == nil || len(entries[m].Files) != 0 {
		t.Errorf("minimal: want an empty, non-nil file list, got %#v", entries)
	}
}

// TestFromPackageMatchesRepoAdd compares the desc FromPackage gives for
// pkgfile.Read's result with the desc repo-add wrote for the same file.
func TestFromPackageMatchesRepoAdd(t *testing.T) {
	dir, db := buildRepoAddRepo(t, ".tar.zst")
	want := archiveMembers(t, strings.Replace(db, ".db.", ".files.", 1))
	for _, tp := range allTestPackages {
		p, err := pkgfile.Read(filepath.Join(dir, tp.file), pkgfile.ReadOptions{Files: true})
		if err != nil {
			t.Fatal(err)
		}
		e := FromPackage(p)
		var desc bytes.Buffer
		if err := WriteDesc(&desc, &e, false); err != nil {
			t.Fatal(err)
		}
		dirName := e.Name + "-" + e.Version + "/"
		if got, want := desc.String(), md5Section.ReplaceAllString(want[dirName+"desc"], ""); got != want {
			t.Errorf("%s desc:\n got  %q\n want %q", tp.file, got, want)
		}
		var files bytes.Buffer
		if err := writeFilesList(bufio.NewWriter(nil), &files, sortedFiles(e.Files)); err != nil {
			t.Fatal(err)
		}
		if got, want := files.String(), want[dirName+"files"]; got != want {
			t.Errorf("%s files:\n got  %q\n want %q", tp.file, got, want)
		}
	}
}

// TestPacmanReadsWhatWeWrite lets the real pacman sync our databases and
// list their packages and files (under fakeroot when the test is not
// root: pacman -Sy refuses to run otherwise).
func TestPacmanReadsWhatWeWrite(t *testing.T) {
	needTool(t, "pacman")
	_, refDB := buildRepoAddRepo(t, ".tar.zst")
	refLoc, _ := ParseLocation(refDB)
	entries, err := ReadLocation(refLoc, ReadOptions{Files: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".tar.zst", ".tar.gz", ".tar"} {
		t.Run(ext, func(t *testing.T) {
			work := t.TempDir()
			repoDir := filepath.Join(work, "repo")
			if err := os.Mkdir(repoDir, 0o755); err != nil {
				t.Fatal(err)
			}
			loc := Location{Dir: repoDir, Name: "ours", Ext: ext}
			if err := Write(loc, entries, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			pacman := testutil.NewPacman(t, map[string]string{"ours": repoDir}).MustRun
			pacman("-Sy")
			out := pacman("-Sl", "ours")
			for _, e := range entries {
				if line := "ours " + e.Name + " " + e.Version; !strings.Contains(out, line) {
					t.Errorf("pacman -Sl ours lacks %q:\n%s", line, out)
				}
			}
			if strings.Contains(out, "warning") || strings.Contains(out, "error") {
				t.Errorf("pacman -Sl complained:\n%s", out)
			}
			info := pacman("-Si", "ours/rich")
			for _, want := range []string{"perl: for: colons: galore", "Ünïcödé", "richlib=2"} {
				if !strings.Contains(info, want) {
					t.Errorf("pacman -Si ours/rich lacks %q:\n%s", want, info)
				}
			}
			pacman("-Fy")
			files := pacman("-Fl", "ours/rich")
			if !strings.Contains(files, "rich usr/share/rich/données ünï.txt") {
				t.Errorf("pacman -Fl ours/rich:\n%s", files)
			}
		})
	}
}
