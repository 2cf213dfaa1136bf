package server

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// TestPacmanPinnedToSnapshot: real pacman whose Server is a snapshot
// keeps getting the snapshot's versions while the repository changes
// under it (the file it served deleted by the upgrade, backup = false),
// at /NAME/snapshots/S and, with one repository served, /snapshots/S; the
// repository itself serves the new version, and the snapshot serves
// nothing it does not hold.
func TestPacmanPinnedToSnapshot(t *testing.T) {
	t.Parallel()
	dir, src := t.TempDir(), t.TempDir()
	loc, err := repodb.ParseLocation(filepath.Join(dir, "testrepo.db.tar.zst"))
	must(t, err)
	r := repo.New(repo.Options{DB: loc, LockTimeout: 30 * time.Second})
	ctx := context.Background()
	add := func(name, version string) {
		t.Helper()
		p := makeTestPackage(t, src, testPackage{Name: name, Version: version})
		if _, err := r.Add(ctx, []string{p}, repo.AddOptions{Mode: repo.Copy}); err != nil {
			t.Fatal(err)
		}
	}
	add("alpha", "1.0-1")
	add("beta", "1.0-1")
	if _, err := r.CreateSnapshot(ctx, "tested", -1, "test"); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, Options{Repos: []Repository{{Name: "testrepo", Dir: dir}}})
	pinned := newPacman(t, map[string]string{"testrepo": srv.URL + "/testrepo/snapshots/tested"})
	atRoot := newPacman(t, map[string]string{"testrepo": srv.URL + "/snapshots/tested"})
	current := newPacman(t, map[string]string{"testrepo": srv.URL + "/testrepo"})
	// versions syncs pm, downloads alpha and beta (pacman checks each
	// against the database) and returns the versions it saw.
	versions := func(pm *pacmanEnv) string {
		t.Helper()
		if out, err := pm.run("-Syy"); err != nil {
			t.Fatalf("pacman -Syy: %v\n%s", err, out)
		}
		names := []string{"alpha"}
		if pm != current {
			names = append(names, "beta")
		}
		if out, err := pm.run(append([]string{"-Sw"}, names...)...); err != nil {
			t.Fatalf("pacman -Sw: %v\n%s", err, out)
		}
		out, err := pm.run("-Sl", "testrepo")
		if err != nil {
			t.Fatalf("pacman -Sl: %v\n%s", err, out)
		}
		return out
	}
	const tested = "testrepo alpha 1.0-1\ntestrepo beta 1.0-1\n"
	if got := versions(pinned); got != tested {
		t.Fatalf("pinned pacman sees\n%s", got)
	}
	add("alpha", "2.0-1")
	if _, err := r.Remove(ctx, []string{"beta"}, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	add("alpha", "3.0-1")
	for _, pm := range []*pacmanEnv{pinned, atRoot} {
		if got := versions(pm); got != tested {
			t.Errorf("pinned pacman sees, after the repository changed,\n%s", got)
		}
	}
	if got := versions(current); got != "testrepo alpha 3.0-1\n" {
		t.Errorf("pacman sees the repository as\n%s", got)
	}
	for _, path := range []string{
		"/testrepo/snapshots/tested/alpha-3.0-1-any.pkg.tar.zst",  // not the snapshot's
		"/testrepo/snapshots/tested/testrepo.db.tar.gz",           // another extension
		"/testrepo/snapshots/tested/testrepo.db.sig",              // unsigned
		"/testrepo/snapshots/nosuch/testrepo.db",                  // no such snapshot
		"/testrepo/snapshots/.hidden/testrepo.db",                 // not a snapshot's name
		"/testrepo/snapshots/tested/.testrepo.pacrepo.history",    // never public
		"/testrepo/snapshots/tested/alpha-1.0-1-any.pkg.tar.zst/", // subpath
	} {
		resp, err := http.Get(srv.URL + path)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// TestPacmanSeesPromotedSet: after promote --all from testing to stable,
// real pacman syncing stable sees the set tested (a newer version, a new
// package), and testing keeps only what did not differ.
func TestPacmanSeesPromotedSet(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	open := func(name string) *repo.Repo {
		loc, err := repodb.ParseLocation(filepath.Join(t.TempDir(), name+".db.tar.zst"))
		must(t, err)
		return repo.New(repo.Options{DB: loc, LockTimeout: 30 * time.Second})
	}
	testingRepo, stable := open("testing"), open("stable")
	ctx := context.Background()
	add := func(r *repo.Repo, pkgs ...testPackage) {
		t.Helper()
		var paths []string
		for _, p := range pkgs {
			paths = append(paths, makeTestPackage(t, src, p))
		}
		if _, err := r.Add(ctx, paths, repo.AddOptions{Mode: repo.Copy}); err != nil {
			t.Fatal(err)
		}
	}
	add(stable, testPackage{Name: "alpha", Version: "1.0-1"}, testPackage{Name: "beta", Version: "1.0-1"})
	add(testingRepo, testPackage{Name: "alpha", Version: "2.0-1"}, testPackage{Name: "beta", Version: "1.0-1"},
		testPackage{Name: "gamma", Version: "1.0-1"})
	if _, err := testingRepo.Promote(ctx, stable, repo.PromoteRequest{All: true}); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, Options{Repos: []Repository{{Name: "stable", Dir: stable.Options().DB.Dir}}})
	pm := newPacman(t, map[string]string{"stable": srv.URL + "/stable"})
	if out, err := pm.run("-Sy"); err != nil {
		t.Fatalf("pacman -Sy: %v\n%s", err, out)
	}
	if out, err := pm.run("-Sw", "alpha", "beta", "gamma"); err != nil {
		t.Fatalf("pacman -Sw: %v\n%s", err, out)
	}
	out, err := pm.run("-Sl", "stable")
	if want := "stable alpha 2.0-1\nstable beta 1.0-1\nstable gamma 1.0-1\n"; err != nil || out != want {
		t.Errorf("pacman -Sl stable after promote --all: %v\n%s\nwant\n%s", err, out, want)
	}
	// beta's version did not differ: --all leaves it in testing.
	es, err := testingRepo.Entries(ctx)
	if err != nil || len(es) != 1 || es[0].Name != "beta" {
		t.Errorf("testing after promote --all: %+v %v", es, err)
	}
}
