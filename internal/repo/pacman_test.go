package repo

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestPacmanReadsEveryChange lets real pacman sync the repository after
// each kind of change (reset, add, add of an older file, update with a
// newer file, update after a file vanished, remove, backups on) and checks
// that -Sl lists exactly the registered versions, -Fl the file lists, and
// that -Sw downloads every package with verified checksums.
func TestPacmanReadsEveryChange(t *testing.T) {
	r := withOpts(newRepo(t), func(o *Options) { o.BackupDir = filepath.Join(t.TempDir(), "backup") })
	dir := r.opts.DB.Dir
	in := t.TempDir()
	pm := testutil.NewPacman(t, map[string]string{"test": dir})

	verify := func(step string) {
		t.Helper()
		pm.MustRun("-Syy")
		pm.MustRun("-Fyy")
		want := []string{}
		reg := registered(t, r)
		for name, ver := range reg {
			want = append(want, name+" "+ver)
		}
		sort.Strings(want)
		got := pm.Sync("test")
		if got == nil {
			got = []string{}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: pacman -Sl test = %q, want %q", step, got, want)
		}
		for name := range reg {
			files := pm.MustRun("-Fl", "test/"+name)
			if !strings.Contains(files, name+" usr/share/"+name+"/") {
				t.Fatalf("%s: pacman -Fl test/%s lacks the package's files:\n%s", step, name, files)
			}
			// -Sw downloads into the cache and verifies size and SHA-256.
			pm.MustRun("-Sw", "--cachedir", t.TempDir(), "test/"+name)
		}
		assertInvariant1(t, r)
	}

	mkpkg(t, dir, "alpha", "1.0-1")
	mkpkg(t, dir, "beta", "2.0-1")
	if _, err := r.Reset(ctx, Request{}); err != nil {
		t.Fatal(err)
	}
	verify("reset")

	if _, err := r.Add(ctx, []string{mkpkg(t, in, "gamma", "1:0.1-1")}, AddOptions{Mode: Copy}); err != nil {
		t.Fatal(err)
	}
	verify("add")

	if _, err := r.Add(ctx, []string{mkpkg(t, in, "beta", "1.5-1")}, AddOptions{Mode: Move}); err != nil {
		t.Fatal(err)
	}
	verify("add older (downgrade)")

	mkpkg(t, dir, "alpha", "1.1-1")
	if _, err := r.Update(ctx, nil, Request{}); err != nil {
		t.Fatal(err)
	}
	verify("update newer")

	if err := os.Remove(filepath.Join(dir, "gamma-1:0.1-1-x86_64.pkg.tar.zst")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update(ctx, nil, Request{}); err != nil {
		t.Fatal(err)
	}
	verify("update after a file vanished")

	if _, err := r.Remove(ctx, []string{"alpha"}, Request{}); err != nil {
		t.Fatal(err)
	}
	verify("remove")

	if _, err := r.Remove(ctx, []string{"beta"}, Request{}); err != nil {
		t.Fatal(err)
	}
	verify("remove the last package")
}
