package pkgfile

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestLibrariesMatchReadelf reads the C packages built by makepkg and
// compares the sonames found in the stream with what readelf -d says of
// the files bsdtar extracts.
func TestLibrariesMatchReadelf(t *testing.T) {
	t.Parallel()
	readelf := testutil.RequireTool(t, "readelf")
	bsdtar := testutil.RequireTool(t, "bsdtar")
	for _, base := range []string{"libfoo-1-1-x86_64.pkg.tar.zst", "libfoo-2-1-x86_64.pkg.tar.zst", "bar-1-1-x86_64.pkg.tar.zst", "baz-1-1-any.pkg.tar.zst"} {
		path := testutil.ELFFixture(t, base)
		p, err := Read(path, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		testutil.Run(t, bsdtar, "-xf", path, "-C", dir)
		var wantProvides, wantNeeded []Soname
		filepath.WalkDir(dir, func(f string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
				return err
			}
			out, err := exec.Command(readelf, "-d", f).CombinedOutput()
			if err != nil {
				return nil // not ELF
			}
			for _, m := range regexp.MustCompile(`\(SONAME\)\s+Library soname: \[(.*)\]`).FindAllStringSubmatch(string(out), -1) {
				wantProvides = append(wantProvides, Soname{m[1], 64})
			}
			for _, m := range regexp.MustCompile(`\(NEEDED\)\s+Shared library: \[(.*)\]`).FindAllStringSubmatch(string(out), -1) {
				wantNeeded = append(wantNeeded, Soname{m[1], 64})
			}
			return nil
		})
		slices.SortFunc(wantProvides, compareSonames)
		slices.SortFunc(wantNeeded, compareSonames)
		if !slices.Equal(p.Libraries.Provides, wantProvides) || !slices.Equal(p.Libraries.Needed, slices.Compact(wantNeeded)) {
			t.Errorf("%s: read %+v, readelf says provides %v needs %v", base, p.Libraries, wantProvides, wantNeeded)
		}
		if len(p.Libraries.Skipped) > 0 {
			t.Errorf("%s: skipped %v", base, p.Libraries.Skipped)
		}
	}
	// What the fixtures are for: libfoo's soname goes from 1 to 2, bar
	// links against 1, and makepkg's provides say so as we do.
	libfoo2, _ := Read(testutil.ELFFixture(t, "libfoo-2-1-x86_64.pkg.tar.zst"), ReadOptions{})
	if got := libfoo2.Libraries.Provides; len(got) != 1 || got[0].Provision() != "libfoo.so=2-64" || !slices.Contains(libfoo2.Provides, got[0].Provision()) {
		t.Errorf("libfoo 2 provides %v, makepkg wrote %v", got, libfoo2.Provides)
	}
	bar, _ := Read(testutil.ELFFixture(t, "bar-1-1-x86_64.pkg.tar.zst"), ReadOptions{})
	if !slices.Contains(bar.Libraries.Links(), "libfoo.so.1") {
		t.Errorf("bar links %v, want libfoo.so.1", bar.Libraries.Links())
	}
}

func TestSonameProvision(t *testing.T) {
	for soname, want := range map[string]string{
		"libfoo.so.1":          "libfoo.so=1-64",
		"libfoo.so.1.2":        "libfoo.so=1.2-64",
		"ld-linux-x86-64.so.2": "ld-linux-x86-64.so=2-64",
		"libfoo.so":            "libfoo.so=libfoo.so-64",
	} {
		if got := (Soname{soname, 64}).Provision(); got != want {
			t.Errorf("%s: %s, want %s", soname, got, want)
		}
	}
}

// TestELFMembersHostile: an ELF member debug/elf refuses, one over the
// size read and a truncated one are skipped with a reason; the package is
// read all the same.
func TestELFMembersHostile(t *testing.T) {
	t.Parallel()
	lib, err := os.ReadFile(testutil.ELFFixture(t, "libfoo-1-1-x86_64.pkg.tar.zst"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ReadFrom(bytes.NewReader(lib), "libfoo.pkg.tar.zst", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Libraries.Provides) != 1 {
		t.Fatalf("provides %v", p.Libraries.Provides)
	}
	var lr libraryReader
	hostile := append([]byte(elf.ELFMAG), bytes.Repeat([]byte{0xff}, 200)...)
	if err := lr.member(bytes.NewReader(hostile), []byte("usr/lib/libx.so"), int64(len(hostile))); err != nil {
		t.Fatal(err)
	}
	if err := lr.member(bytes.NewReader(hostile[:100]), []byte("usr/lib/liby.so"), int64(len(hostile))); err == nil {
		t.Error("a member that ends early is no error of the archive")
	}
	if err := lr.member(bytes.NewReader(hostile), []byte("usr/lib/libz.so"), MaxELFMember+1); err != nil {
		t.Fatal(err)
	}
	if got := lr.libraries().Skipped; len(got) != 2 || !strings.HasPrefix(got[0], "usr/lib/libx.so: malformed") || !strings.Contains(got[1], "over the") {
		t.Errorf("skipped %q", got)
	}
}

// FuzzReadELF: whatever the bytes (hostile section tables, truncated
// files), ReadELF returns. The seeds are the ELF files of the C fixtures
// when they are built, and their truncations.
func FuzzReadELF(f *testing.F) {
	for _, base := range []string{"libfoo-2-1-x86_64.pkg.tar.zst", "bar-1-1-x86_64.pkg.tar.zst"} {
		for _, member := range elfMembers(filepath.Join("..", "..", "testdata", "cache", "elfpkgs", base)) {
			f.Add(member)
			f.Add(member[:len(member)/2])
			f.Add(member[:100])
		}
	}
	f.Add([]byte(elf.ELFMAG))
	f.Fuzz(func(t *testing.T, data []byte) {
		soname, needed, _, err := ReadELF(bytes.NewReader(data))
		if err != nil && (soname != "" || needed != nil) {
			t.Errorf("an error with results: %q %q", soname, needed)
		}
	})
}

// elfMembers are the ELF files of the package at path (none when it
// cannot be read).
func elfMembers(path string) [][]byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	dec, _, err := compress.NewReader(f)
	if err != nil {
		return nil
	}
	defer dec.Close()
	var out [][]byte
	tr := tar.NewReader(dec)
	for {
		h, err := tr.Next()
		if err != nil {
			return out
		}
		data, err := io.ReadAll(tr)
		if err == nil && h.Typeflag == tar.TypeReg && bytes.HasPrefix(data, []byte(elf.ELFMAG)) {
			out = append(out, data)
		}
	}
}
