package pkgfile

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// parseDesc reads a repo-add desc or files file: "%KEY%" lines followed by
// values up to an empty line.
func parseDesc(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	var key string
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case key == "" && strings.HasPrefix(line, "%") && strings.HasSuffix(line, "%"):
			key = strings.Trim(line, "%")
			out[key] = []string{}
		case line == "":
			key = ""
		case key != "":
			out[key] = append(out[key], line)
		}
	}
	return out
}

// TestAgainstRepoAdd adds every fixture with the real repo-add and
// compares its desc and files entries with what Read returns (repo-add's
// database replayed from the tools cache when these very fixtures were
// added by this very repo-add before: see testutil.RepoAdd).
func TestAgainstRepoAdd(t *testing.T) {
	testutil.RequireTool(t, "repo-add")
	dir := t.TempDir()
	pkgs := testutil.CopyFixtures(t, filepath.Join(dir, "repo"), "*.pkg.tar*")
	db := filepath.Join(dir, "repo", "t.db.tar.gz")
	testutil.RepoAdd(t, []string{"-q"}, db, pkgs...)
	out := filepath.Join(dir, "files")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, "bsdtar", "-xf", filepath.Join(dir, "repo", "t.files.tar.gz"), "-C", out)

	for _, path := range pkgs {
		pkg, err := Read(path, ReadOptions{Files: true, MD5: true})
		if err != nil {
			t.Fatal(err)
		}
		entry := filepath.Join(out, pkg.Name+"-"+pkg.Version)
		desc := parseDesc(t, filepath.Join(entry, "desc"))
		files := parseDesc(t, filepath.Join(entry, "files"))
		one := func(s string) []string {
			if s == "" {
				return nil
			}
			return []string{s}
		}
		num := func(n int64) []string {
			if n == 0 {
				return nil
			}
			return []string{strconv.FormatInt(n, 10)}
		}
		want := map[string][]string{
			"FILENAME": one(pkg.Filename), "NAME": one(pkg.Name), "BASE": one(pkg.Base),
			"VERSION": one(pkg.Version), "DESC": one(pkg.Desc), "GROUPS": pkg.Groups,
			"CSIZE": num(pkg.CSize), "ISIZE": num(pkg.Size), "MD5SUM": one(pkg.MD5),
			"SHA256SUM": one(pkg.SHA256), "URL": one(pkg.URL), "LICENSE": pkg.Licenses,
			"ARCH": one(pkg.Arch), "BUILDDATE": num(pkg.BuildDate), "PACKAGER": one(pkg.Packager),
			"REPLACES": pkg.Replaces, "CONFLICTS": pkg.Conflicts, "PROVIDES": pkg.Provides,
			"DEPENDS": pkg.Depends, "OPTDEPENDS": pkg.OptDepends, "MAKEDEPENDS": pkg.MakeDepends,
			"CHECKDEPENDS": pkg.CheckDepends,
		}
		for key, w := range want {
			if got := desc[key]; !slices.Equal(got, w) && !(len(got) == 0 && len(w) == 0) {
				t.Errorf("%s: %%%s%% is %q in repo-add's desc, Read gives %q", pkg.Filename, key, got, w)
			}
		}
		for key := range desc {
			if _, ok := want[key]; !ok {
				t.Errorf("%s: repo-add wrote %%%s%%, which this test does not compare", pkg.Filename, key)
			}
		}
		if got := files["FILES"]; !slices.Equal(got, pkg.Files) {
			t.Errorf("%s: repo-add's file list\n%q\nRead's\n%q", pkg.Filename, got, pkg.Files)
		}
	}
}
