package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
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
	var accessLog syncBuffer
	srv := startServer(t, Options{Repos: []Repository{repo.Repository}, AccessLog: slog.New(slog.NewTextHandler(&accessLog, nil))})
	pm := newPacman(t, map[string]string{"testrepo": srv.URL + "/testrepo"})

	if out, err := pm.run("-Sy"); err != nil {
		t.Fatalf("pacman -Sy: %v\n%s", err, out)
	}
	// A second -Sy asks with If-Modified-Since and gets 304.
	if out, err := pm.run("-Sy"); err != nil {
		t.Fatalf("second pacman -Sy: %v\n%s", err, out)
	}
	if log := accessLog.String(); strings.Count(log, "path=/testrepo/testrepo.db status=304") != 1 {
		t.Errorf("second pacman -Sy did not get a 304:\n%s", log)
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
	// pacman resumes a partial download in its cache with a Range request.
	alpha, err := os.ReadFile(repo.pkgs[0])
	must(t, err)
	part := filepath.Join(pm.cache, filepath.Base(repo.pkgs[0])+".part")
	must(t, os.WriteFile(part, alpha[:len(alpha)/2], 0o644))
	if out, err := pm.run("-Sw", "alpha", "beta"); err != nil {
		t.Fatalf("pacman -Sw: %v\n%s", err, out)
	}
	if log := accessLog.String(); !strings.Contains(log, "path=/testrepo/"+filepath.Base(repo.pkgs[0])+" status=206") {
		t.Errorf("pacman did not resume with a Range request (206):\n%s", log)
	}
	for _, p := range repo.pkgs {
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(pm.cache, filepath.Base(p)))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: downloaded copy differs (err %v)", filepath.Base(p), err)
		}
	}
}

// TestPacmanAtRoot: a single repository served at the root works for real
// pacman with repoctl's "Server = http://HOST:PORT" (no /NAME).
func TestPacmanAtRoot(t *testing.T) {
	repo := newFixtureRepo(t, "testrepo")
	srv := startServer(t, Options{Repos: []Repository{repo.Repository}})
	pm := newPacman(t, map[string]string{"testrepo": srv.URL})
	if out, err := pm.run("-Sy"); err != nil {
		t.Fatalf("pacman -Sy: %v\n%s", err, out)
	}
	if out, err := pm.run("-Sw", "alpha"); err != nil {
		t.Fatalf("pacman -Sw alpha: %v\n%s", err, out)
	}
	want, _ := os.ReadFile(repo.pkgs[0])
	got, err := os.ReadFile(filepath.Join(pm.cache, filepath.Base(repo.pkgs[0])))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("downloaded alpha differs (err %v)", err)
	}
}

// TestPacmanRejectsCorruptedPackage: the server hands out bytes as they are
// on disk, and pacman's checksum from the database must catch damage.
func TestPacmanRejectsCorruptedPackage(t *testing.T) {
	repo := newFixtureRepo(t, "testrepo")
	content, err := os.ReadFile(repo.pkgs[0])
	must(t, err)
	content[len(content)/2] ^= 0xff // same size, different bytes
	must(t, os.WriteFile(repo.pkgs[0], content, 0o644))
	srv := startServer(t, Options{Repos: []Repository{repo.Repository}})
	pm := newPacman(t, map[string]string{"testrepo": srv.URL + "/testrepo"})
	if out, err := pm.run("-Sy"); err != nil {
		t.Fatalf("pacman -Sy: %v\n%s", err, out)
	}
	out, err := pm.run("-Sw", "alpha")
	if err == nil {
		t.Fatalf("pacman -Sw of a corrupted package succeeded:\n%s", out)
	}
	if !strings.Contains(out, "invalid or corrupted package") && !strings.Contains(out, "checksum") {
		t.Errorf("pacman -Sw failed for another reason than the checksum:\n%s", out)
	}
	// The untouched package still downloads.
	if out, err := pm.run("-Sw", "beta"); err != nil {
		t.Fatalf("pacman -Sw beta: %v\n%s", err, out)
	}
}

// TestPacmanSyncWhileRepositoryChanges runs real `pacman -Syy` again and
// again while another goroutine adds and removes a package through the
// repo package (which replaces both databases by atomic rename). Every sync
// must succeed and see a whole database: the base packages always, and the
// toggled package either completely or not at all.
func TestPacmanSyncWhileRepositoryChanges(t *testing.T) {
	syncs := 30
	if testing.Short() {
		syncs = 8
	}
	dir := t.TempDir()
	src := t.TempDir()
	base := []string{"alpha", "beta", "delta", "epsilon", "zeta"}
	var basePaths []string
	for _, n := range base {
		basePaths = append(basePaths, makeTestPackage(t, src, testPackage{Name: n, Version: "1.0-1"}))
	}
	// Many files, so that the files database takes a while to write.
	gamma, err := testutil.MakePackage(src, testutil.PackageSpec{Name: "gamma", Version: "2.0-1", Arch: "any", NumFiles: 2000, FileSize: 16})
	must(t, err)

	loc, err := repodb.ParseLocation(filepath.Join(dir, "testrepo.db.tar.zst"))
	must(t, err)
	r := repo.New(repo.Options{DB: loc, LockTimeout: 30 * time.Second})
	ctx := context.Background()
	if _, err := r.Add(ctx, basePaths, repo.AddOptions{Mode: repo.Copy}); err != nil {
		t.Fatalf("add base packages: %v", err)
	}

	srv := startServer(t, Options{Repos: []Repository{{Name: "testrepo", Dir: dir}}})
	pm := newPacman(t, map[string]string{"testrepo": srv.URL + "/testrepo"})

	stop := make(chan struct{})
	var writes atomic.Int64
	writerErr := make(chan error, 1)
	go func() {
		defer close(writerErr)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := r.Add(ctx, []string{gamma}, repo.AddOptions{Mode: repo.Copy}); err != nil {
				writerErr <- fmt.Errorf("add gamma: %w", err)
				return
			}
			writes.Add(1)
			if _, err := r.Remove(ctx, []string{"gamma"}, repo.Request{}); err != nil {
				writerErr <- fmt.Errorf("remove gamma: %w", err)
				return
			}
			writes.Add(1)
		}
	}()

	seen := map[bool]int{} // gamma present or not in the synced database
	// Until the writer made enough changes, however slow the machine; the
	// deadline only bounds a writer that makes no progress at all.
	deadline := time.Now().Add(5 * time.Minute)
	i := 0
	for ; time.Now().Before(deadline) && (i < syncs || writes.Load() < 10 || len(seen) < 2); i++ {
		if out, err := pm.run("-Syy"); err != nil {
			close(stop)
			t.Fatalf("sync %d (after %d database writes): pacman -Syy: %v\n%s", i, writes.Load(), err, out)
		}
		out, err := pm.run("-Sl", "testrepo")
		// pacman -Sl exits 0 even when it cannot read the database.
		if err != nil || strings.Contains(out, "error:") {
			close(stop)
			t.Fatalf("sync %d: pacman -Sl: %v\n%s", i, err, out)
		}
		listed := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) >= 2 {
				listed[f[1]] = true
			}
		}
		for _, n := range base {
			if !listed[n] {
				close(stop)
				t.Fatalf("sync %d: %s missing from the synced database:\n%s", i, n, out)
			}
		}
		seen[listed["gamma"]]++
		if listed["gamma"] {
			// The files database is consistent with it as well.
			if out, err := pm.run("-Fyl", "gamma"); err != nil && (!strings.Contains(out, "not found") || strings.Contains(out, "failed")) {
				close(stop)
				t.Fatalf("sync %d: pacman -Fyl gamma: %v\n%s", i, err, out)
			}
		}
	}
	close(stop)
	if err := <-writerErr; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d syncs during %d database writes; gamma seen %d times, absent %d times", i, writes.Load(), seen[true], seen[false])
	if writes.Load() < 10 || len(seen) < 2 {
		t.Fatalf("the writer did not overlap the syncs enough (%d writes, seen %v): the test proved nothing", writes.Load(), seen)
	}
}

// TestPacmanSignedSyncWhileWritersCommit: real pacman requiring a signed
// database (SigLevel = Required DatabaseRequired) syncs again and again
// through the server while a writer commits signed generations without
// pause: every sync must verify, however the commits fall between a
// database request and its signature's. Two pacman installations sync
// at once, alternating -Syy and -Sy (which asks with If-Modified-Since).
// PACREPO_HOST_SIGNED_SYNCS sets the number of syncs (default 200, 50
// with -short).
func TestPacmanSignedSyncWhileWritersCommit(t *testing.T) {
	t.Parallel()
	syncs := 200
	if testing.Short() {
		syncs = 50
	}
	if s := os.Getenv("PACREPO_HOST_SIGNED_SYNCS"); s != "" {
		n, err := strconv.Atoi(s)
		must(t, err)
		syncs = n
	}
	key := testutil.NewPGPKey(t, "repo")
	r, dir := signedRepo(t, key, "testrepo")
	gamma := makeTestPackage(t, t.TempDir(), testPackage{Name: "gamma", Version: "1.0-1"})
	srv := startServer(t, Options{Repos: []Repository{{Name: "testrepo", Dir: dir}}})
	const clients = 2
	var pms []*testutil.Pacman
	for range clients {
		pm := testutil.NewPacman(t, map[string]string{"testrepo": srv.URL + "/testrepo"})
		pm.RequireSignatures(map[string]string{key.Fingerprint: key.Keyring})
		pms = append(pms, pm)
	}

	ctx, stop := context.WithCancel(context.Background())
	var commits atomic.Int64
	writerErr := make(chan error, 1)
	go func() {
		defer close(writerErr)
		for ctx.Err() == nil {
			var err error
			if commits.Load()%2 == 0 {
				_, err = r.Add(ctx, []string{gamma}, repo.AddOptions{Mode: repo.Copy})
			} else {
				_, err = r.Remove(ctx, []string{"gamma"}, repo.Request{})
			}
			if err != nil && ctx.Err() == nil {
				writerErr <- err
				return
			}
			commits.Add(1)
			// A commit lands every few pacman requests: often between a
			// database and its signature, without the writer taking
			// the machine.
			time.Sleep(30 * time.Millisecond)
		}
	}()

	start := time.Now()
	var failures atomic.Int64
	var firstFailure sync.Once
	var wg sync.WaitGroup
	for c, pm := range pms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < syncs; i += clients {
				op := "-Syy"
				if i%4 >= 2 {
					op = "-Sy"
				}
				if out, err := pm.Run(op); err != nil {
					failures.Add(1)
					firstFailure.Do(func() { t.Errorf("sync %d (pacman %s, %d commits so far): %v\n%s", i, op, commits.Load(), err, out) })
				}
			}
		}()
	}
	wg.Wait()
	stop()
	if err := <-writerErr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	t.Logf("%d signed syncs in %s while the writer made %d commits: %d failed", syncs, time.Since(start).Round(time.Millisecond), commits.Load(), failures.Load())
	if failures.Load() > 0 {
		t.Fatalf("%d of %d syncs failed", failures.Load(), syncs)
	}
	if commits.Load() < int64(syncs)/10 {
		t.Fatalf("only %d commits during %d syncs: the test proved nothing", commits.Load(), syncs)
	}
}
