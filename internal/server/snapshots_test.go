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
