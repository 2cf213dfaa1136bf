package server

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureRepo is a repository directory with two packages and a database
// built by the real repo-add.
type fixtureRepo struct {
	Repository
	pkgs []string // package file paths
}

func newFixtureRepo(t testing.TB, name string, pkgs ...testPackage) fixtureRepo {
	t.Helper()
	dir := t.TempDir()
	if len(pkgs) == 0 {
		pkgs = []testPackage{{Name: "alpha", Version: "1.0-1"}, {Name: "beta", Version: "2.3-4"}}
	}
	var paths []string
	for _, p := range pkgs {
		paths = append(paths, makeTestPackage(t, dir, p))
	}
	repoAdd(t, dir, name, paths...)
	return fixtureRepo{Repository: Repository{Name: name, Dir: dir}, pkgs: paths}
}

func startServer(t testing.TB, opts Options) *httptest.Server {
	t.Helper()
	h, err := NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestPacmanSyncInfoDownload(t *testing.T) {
	repo := newFixtureRepo(t, "testrepo")
	srv := startServer(t, Options{Repos: []Repository{repo.Repository}})
	pm := newPacman(t, map[string]string{"testrepo": srv.URL + "/testrepo"})

	if out, err := pm.run("-Sy"); err != nil {
		t.Fatalf("pacman -Sy: %v\n%s", err, out)
	}
	out, err := pm.run("-Si", "beta")
	if err != nil {
		t.Fatalf("pacman -Si beta: %v\n%s", err, out)
	}
	for _, want := range []string{"Repository      : testrepo", "Name            : beta", "Version         : 2.3-4"} {
		if !strings.Contains(out, want) {
			t.Errorf("pacman -Si beta: missing %q in\n%s", want, out)
		}
	}
	if out, err := pm.run("-Sw", "alpha", "beta"); err != nil {
		t.Fatalf("pacman -Sw: %v\n%s", err, out)
	}
	for _, p := range repo.pkgs {
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(pm.cache, filepath.Base(p)))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: downloaded copy differs (err %v)", filepath.Base(p), err)
		}
	}
}
