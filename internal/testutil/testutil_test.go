package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/compress"
)

// The fixtures every other test relies on, by file name.
var wantFixtures = []string{
	"fixture-any-0.9_beta2-1.1-any.pkg.tar.zst",
	"fixture-compress-bz2-1.0-1-x86_64.pkg.tar.bz2",
	"fixture-compress-gz-1.0-1-x86_64.pkg.tar.gz",
	"fixture-compress-lz4-1.0-1-x86_64.pkg.tar.lz4",
	"fixture-compress-none-1.0-1-x86_64.pkg.tar",
	"fixture-compress-xz-1.0-1-x86_64.pkg.tar.xz",
	"fixture-compress-zst-1.0-1-x86_64.pkg.tar.zst",
	"fixture-deps-1.2.3-4-x86_64.pkg.tar.zst",
	"fixture-epoch-2:1.0.1-3-x86_64.pkg.tar.zst",
	"fixture-manyfiles-1.0-1-x86_64.pkg.tar.zst",
	"fixture-split-core-3.4.5-2-x86_64.pkg.tar.zst",
	"fixture-split-doc-3.4.5-2-any.pkg.tar.zst",
	"fixture-split-extra-3.4.5-2-x86_64.pkg.tar.zst",
	"fixture-unicode-2.0-1-x86_64.pkg.tar.zst",
}

func TestFixturesAreRealPackages(t *testing.T) {
	var got []string
	for _, p := range AllFixtures(t) {
		got = append(got, filepath.Base(p))
	}
	if !reflect.DeepEqual(got, wantFixtures) {
		t.Fatalf("fixtures:\n got %q\nwant %q", got, wantFixtures)
	}
	for _, p := range AllFixtures(t) {
		name := filepath.Base(p)
		want, err := compress.FormatForName(name)
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 512)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := f.Read(head)
		f.Close()
		if got, ok := compress.Sniff(head[:n]); !ok || got != want {
			t.Errorf("%s: compression %v (sniffed %v), want %v", name, got, ok, want)
		}
		list := Run(t, "bsdtar", "-tf", p)
		for _, member := range []string{".PKGINFO\n", ".BUILDINFO\n", ".MTREE\n"} {
			if !strings.Contains(list, member) {
				t.Errorf("%s: no %s", name, strings.TrimSpace(member))
			}
		}
	}
	many := Run(t, "bsdtar", "-tf", Fixture(t, "fixture-manyfiles-*")[0])
	if n := strings.Count(many, "\n"); n <= 1000 {
		t.Errorf("fixture-manyfiles has %d members, want more than 1000", n)
	}
	info := Run(t, "bsdtar", "-xOf", Fixture(t, "fixture-unicode-*")[0], ".PKGINFO")
	if !strings.Contains(info, "pkgdesc = Ünïcödé – 中文 ✓") {
		t.Errorf("fixture-unicode .PKGINFO lacks the Unicode description:\n%s", info)
	}
	if !strings.Contains(Run(t, "bsdtar", "-tf", Fixture(t, "fixture-unicode-*")[0]), ".INSTALL\n") {
		t.Error("fixture-unicode has no .INSTALL")
	}
}

func sampleSpecs() []PackageSpec {
	return []PackageSpec{
		{
			Name: "synth-zst", Version: "1:2.3-4", Desc: "Ünïcödé – 中文 ✓",
			URL: "https://example.org", Licenses: []string{"MIT", "GPL2"},
			Groups: []string{"synth"}, Depends: []string{"glibc>=2.31", "zlib"},
			OptDepends: []string{"python: for the foo: bar script"},
			Provides:   []string{"synth=2"}, Conflicts: []string{"synth-old"},
			Replaces: []string{"synth-ancient<1"}, Backup: []string{"etc/synth.conf"},
			MakeDepends: []string{"cmake"}, CheckDepends: []string{"check"},
			Files: []PackageFile{
				{Path: "etc/synth.conf", Data: []byte("a = b\n")},
				{Path: "usr/bin/synth", Data: []byte("#!/bin/sh\n"), Mode: 0o755},
				{Path: "usr/lib/libsynth.so", Link: "libsynth.so.1"},
				{Path: "usr/share/synth/héllo wörld.txt", Data: []byte("hi\n")},
			},
			NumFiles: 45,
		},
		{Name: "synth-gz", Version: "1.0-1", Ext: ".pkg.tar.gz", NumFiles: 3},
		{Name: "synth-xz", Version: "1.0-1", Ext: ".pkg.tar.xz", NumFiles: 3, Arch: "any"},
		{Name: "synth-lz4", Version: "1.0-1", Ext: ".pkg.tar.lz4", NumFiles: 3},
		{Name: "synth-bz2", Version: "1.0-1", Ext: ".pkg.tar.bz2", NumFiles: 3},
		{Name: "synth-none", Version: "1.0-1", Ext: ".pkg.tar", NumFiles: 3},
	}
}

func TestMakePackageIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, s := range sampleSpecs() {
		pa, err := MakePackage(a, s)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := MakePackage(b, s)
		if err != nil {
			t.Fatal(err)
		}
		da, _ := os.ReadFile(pa)
		db, _ := os.ReadFile(pb)
		if !bytes.Equal(da, db) {
			t.Errorf("%s: two runs differ", filepath.Base(pa))
		}
	}
}

// TestMakePackageLayout compares bsdtar's view of a synthetic package with
// makepkg's layout: metadata first, directories with trailing slashes,
// C-sorted paths.
func TestMakePackageLayout(t *testing.T) {
	dir := t.TempDir()
	p := MustMakePackage(t, dir, sampleSpecs()[0])
	if filepath.Base(p) != "synth-zst-1:2.3-4-x86_64.pkg.tar.zst" {
		t.Errorf("file name %s", filepath.Base(p))
	}
	list := strings.Split(strings.TrimSpace(Run(t, "bsdtar", "-tf", p)), "\n")
	if !reflect.DeepEqual(list[:5], []string{".BUILDINFO", ".MTREE", ".PKGINFO", "etc/", "etc/synth.conf"}) {
		t.Errorf("first members %q", list[:5])
	}
	rest := list[3:]
	if !sort.StringsAreSorted(trimSlashes(rest)) {
		t.Errorf("members not sorted: %q", rest)
	}
	// 3 metadata files; 10 directories: etc usr usr/bin usr/lib usr/share
	// usr/share/synth usr/share/synth-zst and its d000..d002; 4+45 files.
	if len(list) != 3+10+4+45 {
		t.Errorf("%d members, want %d: %q", len(list), 3+10+4+45, list)
	}
	for _, want := range []string{"usr/", "usr/share/", "usr/share/synth-zst/d002/", "usr/share/synth/héllo wörld.txt"} {
		if !contains(list, want) {
			t.Errorf("no member %q", want)
		}
	}
	mtree := Run(t, "bsdtar", "-xOf", p, ".MTREE")
	if len(mtree) == 0 {
		t.Error("empty .MTREE")
	}
	verbose := Run(t, "bsdtar", "-tvf", p)
	if !strings.Contains(verbose, "lrwxrwxrwx  0 root   root        0 ") || !strings.Contains(verbose, "usr/lib/libsynth.so -> libsynth.so.1") {
		t.Errorf("symlink not as expected:\n%s", verbose)
	}
}

func trimSlashes(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.TrimSuffix(v, "/")
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestMakePackageAcceptedByRepoAddAndPacman: the real repo-add indexes
// every synthetic package, and the real pacman syncs, shows, downloads
// (verifying checksums) and lists the files of them.
func TestMakePackageAcceptedByRepoAddAndPacman(t *testing.T) {
	RequireTool(t, "repo-add")
	RequireTool(t, "bsdtar")
	dir := t.TempDir()
	var paths []string
	for _, s := range sampleSpecs() {
		paths = append(paths, MustMakePackage(t, dir, s))
	}
	// Replayed from the tools cache when these packages were added before
	// (they are a function of sampleSpecs): see RepoAdd.
	out := RepoAdd(t, nil, filepath.Join(dir, "synth.db.tar.gz"), paths...)
	if strings.Contains(out, "WARNING") || strings.Contains(out, "ERROR") {
		t.Fatalf("repo-add complained:\n%s", out)
	}

	pm := NewPacman(t, map[string]string{"synth": dir})
	pm.MustRun("-Sy")
	got := pm.Sync("synth")
	want := []string{"synth-bz2 1.0-1", "synth-gz 1.0-1", "synth-lz4 1.0-1", "synth-none 1.0-1", "synth-xz 1.0-1", "synth-zst 1:2.3-4"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pacman -Sl synth:\n got %q\nwant %q", got, want)
	}
	info := pm.Info("synth", "synth-zst")
	for k, v := range map[string]string{
		"Version":       "1:2.3-4",
		"Description":   "Ünïcödé – 中文 ✓",
		"Depends On":    "glibc>=2.31  zlib",
		"Optional Deps": "python: for the foo: bar script",
		"Provides":      "synth=2",
		"Groups":        "synth",
	} {
		if info[k] != v {
			t.Errorf("pacman -Si synth-zst: %s = %q, want %q", k, info[k], v)
		}
	}
	cache := t.TempDir()
	pm.MustRun("-Sw", "--nodeps", "--nodeps", "--cachedir", cache, "synth-zst", "synth-gz", "synth-xz", "synth-lz4", "synth-bz2", "synth-none")

	pm.MustRun("-Fy")
	files := pm.MustRun("-Fl", "synth-zst")
	var fromPacman []string
	for _, l := range strings.Split(strings.TrimSpace(files), "\n") {
		_, f, _ := strings.Cut(l, " ")
		fromPacman = append(fromPacman, f)
	}
	var fromTar []string
	for _, l := range strings.Split(strings.TrimSpace(Run(t, "bsdtar", "-tf", paths[0])), "\n") {
		if !strings.HasPrefix(l, ".") {
			fromTar = append(fromTar, l)
		}
	}
	// repo-add lists files "LC_ALL=C sort -u"ed, with the slashes.
	sort.Strings(fromTar)
	if !reflect.DeepEqual(fromPacman, fromTar) {
		t.Errorf("pacman -Fl synth-zst:\n got %q\nwant %q", fromPacman, fromTar)
	}
}
