package compat_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestChangesSameAsRepoAdd: after the same changes (add a newer version of
// a split package member, a newer epoch of another package and a new
// package; then remove two packages, one of them signed), repo.Add and
// repo.Remove leave the same databases as repo-add and repo-remove, apart
// from %MD5SUM%.
func TestChangesSameAsRepoAdd(t *testing.T) {
	requireTools(t)
	testutil.RequireTool(t, "repo-remove")
	const ext = ".tar.zst"
	ctx := context.Background()

	refDir, refPkgs := repoFixtures(t)
	repoAdd(t, refDir, "fx", ext, refPkgs)
	ourDir, _ := repoFixtures(t)
	ours := repodb.Location{Dir: ourDir, Name: "fx", Ext: ext}
	r := repo.New(repo.Options{DB: ours, BackupDir: filepath.Join(t.TempDir(), "backup")})
	if _, err := r.Reset(ctx, repo.Request{EmbedSignatures: true}); err != nil {
		t.Fatalf("repo.Reset: %v", err)
	}

	// New files, made outside both repositories.
	src := t.TempDir()
	newPkgs := []string{
		testutil.MustMakePackage(t, src, testutil.PackageSpec{
			Name: "fixture-split-extra", Base: "fixture-split", Version: "3.4.6-1",
			Desc: "Split package fixture: extra part, newer", Depends: []string{"fixture-split-core=3.4.5-2", "zlib"},
			OptDepends: []string{"fixture-split-doc: documentation: all of it"}, NumFiles: 4,
		}),
		testutil.MustMakePackage(t, src, testutil.PackageSpec{
			Name: "fixture-epoch", Version: "3:0.1-1", Desc: "Package with a larger epoch", NumFiles: 2,
		}),
		testutil.MustMakePackage(t, src, testutil.PackageSpec{
			Name: "brand-new", Version: "0.1-1", Arch: "any", Desc: "Ünïcödé newcomer",
			Groups: []string{"fixture-group"}, Provides: []string{"fixture-virtual"}, NumFiles: 30,
		}),
	}

	// Reference: repo-add of copies in the reference directory.
	var refNew []string
	for _, p := range newPkgs {
		dst := filepath.Join(refDir, filepath.Base(p))
		copyFile(t, p, dst)
		refNew = append(refNew, dst)
	}
	repoAdd(t, refDir, "fx", ext, refNew)
	if _, err := r.Add(ctx, newPkgs, repo.AddOptions{Mode: repo.Copy, Request: repo.Request{EmbedSignatures: true}}); err != nil {
		t.Fatalf("repo.Add: %v", err)
	}
	compareDatabases(t, snapshotReference(t, refDir, ext), ours, stripMD5)

	// Remove two packages, one of them signed.
	testutil.RepoRemove(t, []string{"-q"}, filepath.Join(refDir, "fx.db"+ext), "fixture-deps", "fixture-compress-gz")
	if _, err := r.Remove(ctx, []string{"fixture-deps", "fixture-compress-gz"}, repo.Request{EmbedSignatures: true}); err != nil {
		t.Fatalf("repo.Remove: %v", err)
	}
	compareDatabases(t, snapshotReference(t, refDir, ext), ours, stripMD5)
}

// snapshotReference unpacks the current state of a reference repository.
func snapshotReference(t *testing.T, dir, ext string) *reference {
	t.Helper()
	loc := repodb.Location{Dir: dir, Name: "fx", Ext: ext}
	return &reference{loc: loc, db: unpack(t, loc.DBPath()), files: unpack(t, loc.FilesPath())}
}
