package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
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
// toggled package either completely or not at all. The test counts the
// syncs during which a change replaced the databases and goes on until 10
// were (20 syncs at least): the writer, never pausing, does so in half
// the syncs or more, where 30 syncs with no such count made the same
// point blindly.
func TestPacmanSyncWhileRepositoryChanges(t *testing.T) {
	syncs, minRaced := 20, 10
	if testing.Short() {
		syncs, minRaced = 8, 4
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
	raced := 0             // syncs during whose download a change was made
	// Until the writer made enough changes, however slow the machine; the
	// deadline only bounds a writer that makes no progress at all.
	deadline := time.Now().Add(5 * time.Minute)
	i := 0
	for ; time.Now().Before(deadline) && (i < syncs || raced < minRaced || len(seen) < 2); i++ {
		before := writes.Load()
		if out, err := pm.run("-Syy"); err != nil {
			close(stop)
			t.Fatalf("sync %d (after %d database writes): pacman -Syy: %v\n%s", i, writes.Load(), err, out)
		}
		if writes.Load() > before {
			raced++
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
	t.Logf("%d syncs during %d database writes, %d of them while a change was made; gamma seen %d times, absent %d times", i, writes.Load(), raced, seen[true], seen[false])
	if raced < minRaced || len(seen) < 2 {
		t.Fatalf("the writer did not overlap the syncs enough (%d syncs while a change was made, seen %v): the test proved nothing", raced, seen)
	}
}

// TestPacmanSignedSyncWhileWritersCommit: real pacman requiring a signed
// database (SigLevel = Required DatabaseRequired) syncs again and again
// through the server while a writer commits signed generations: every
// sync must verify, however the commits fall between a database request
// and its signature's. Two pacman installations sync at once, from the
// same address, alternating -Syy and -Sy (which asks with
// If-Modified-Since).
//
// The window between a database and its signature is a few milliseconds
// of pacman's time: a writer committing blindly lands in it in a few syncs
// of a hundred. So every other database served is held on its connection
// (the response sent, the next request not yet read) until the writer has
// made a commit, and the writer commits on its own pace besides, landing
// anywhere else. The test counts the syncs whose signature was asked
// after a whole commit made since their database was served, and demands
// a quarter of the syncs at least: 60 syncs put a commit in that window
// about 30 times, where 200 blind ones did a handful of times.
// PACREPO_HOST_SIGNED_SYNCS sets the number of syncs (default 60, 20 with
// -short).
func TestPacmanSignedSyncWhileWritersCommit(t *testing.T) {
	t.Parallel()
	syncs := 60
	if testing.Short() {
		syncs = 20
	}
	if s := os.Getenv("PACREPO_HOST_SIGNED_SYNCS"); s != "" {
		n, err := strconv.Atoi(s)
		must(t, err)
		syncs = n
	}
	key := testutil.NewPGPKey(t, "repo")
	r, dir := signedRepo(t, key, "testrepo")
	pkgDir := t.TempDir()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var started, commits atomic.Int64
	commitNow := make(chan chan struct{}) // a commit asked for, answered once made
	writerErr := make(chan error, 1)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		defer close(writerErr)
		for ctx.Err() == nil {
			var asked chan struct{}
			select {
			case <-ctx.Done():
				return
			case asked = <-commitNow:
			// Between the held commits, one every few pacman requests
			// lands anywhere, without the writer taking the machine.
			case <-time.After(30 * time.Millisecond):
			}
			n := started.Add(1)
			// A new release of gamma each time: no two generations have
			// the same database, so a signature of another generation
			// than the database's never verifies by chance.
			gamma, err := testutil.MakePackage(pkgDir, testutil.PackageSpec{Name: "gamma", Version: fmt.Sprintf("1.0-%d", n), Arch: "any", NumFiles: 3})
			if err == nil {
				_, err = r.Add(ctx, []string{gamma}, repo.AddOptions{Mode: repo.Copy})
			}
			if err != nil && ctx.Err() == nil {
				writerErr <- err
				return
			}
			commits.Add(1)
			if asked != nil {
				close(asked)
			}
		}
	}()

	h, err := NewHandler(Options{Repos: []Repository{{Name: "testrepo", Dir: dir}}})
	must(t, err)
	var (
		mu       sync.Mutex
		servedAt = map[string]int64{} // connection -> commits started when its database was served
		served   atomic.Int64         // databases sent whole (200)
		held     atomic.Int64         // of which held until a commit was made
		between  atomic.Int64         // signatures asked after a whole commit since their database
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch path.Base(req.URL.Path) {
		case "testrepo.db.sig":
			mu.Lock()
			s, ok := servedAt[req.RemoteAddr]
			delete(servedAt, req.RemoteAddr)
			mu.Unlock()
			// Commit s+1 started after the database was served.
			if ok && commits.Load() > s {
				between.Add(1)
			}
			h.ServeHTTP(w, req)
		case "testrepo.db":
			tw := newTrackedWriter(w, 0)
			h.ServeHTTP(tw, req)
			if tw.status != http.StatusOK {
				return // not modified: pacman asks for no signature
			}
			mu.Lock()
			servedAt[req.RemoteAddr] = started.Load()
			mu.Unlock()
			if served.Add(1)%2 == 0 {
				return
			}
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("flush the database: %v", err)
				return
			}
			made := make(chan struct{})
			select {
			case commitNow <- made:
				select {
				case <-made:
					held.Add(1)
				case <-writerDone:
				}
			case <-writerDone:
			}
		default:
			h.ServeHTTP(w, req)
		}
	}))
	t.Cleanup(srv.Close)

	const clients = 2
	var pms []*testutil.Pacman
	for range clients {
		pm := testutil.NewPacman(t, map[string]string{"testrepo": srv.URL + "/testrepo"})
		pm.RequireSignatures(map[string]string{key.Fingerprint: key.Keyring})
		pms = append(pms, pm)
	}

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
	t.Logf("%d signed syncs in %s while the writer made %d commits: %d databases sent, %d held for a commit, %d signatures asked after a commit since their database; %d failed",
		syncs, time.Since(start).Round(time.Millisecond), commits.Load(), served.Load(), held.Load(), between.Load(), failures.Load())
	if failures.Load() > 0 {
		t.Fatalf("%d of %d syncs failed", failures.Load(), syncs)
	}
	if between.Load() < int64(syncs)/4 {
		t.Fatalf("only %d of %d syncs asked for the signature after a commit made since their database: the test proved nothing", between.Load(), syncs)
	}
}
