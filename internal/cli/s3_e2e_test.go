package cli_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// TestObjectStoragePublishers: 16 publishers, separate processes each with
// a state of its own as if on separate machines, publish 64 packages into
// one repository in a real S3-compatible server at once, one add per
// package. All along, a reader reads the database pacman reads from the
// bucket and never finds it naming a package object that is missing, and
// real pacman syncs through host (-Syy) and downloads every package listed
// (-Sw, each checksum checked), again and again. At the end every package
// is registered, check is clean, and pacman gets all of them, through host
// and straight from the bucket's objects.
func TestObjectStoragePublishers(t *testing.T) {
	// Commits are serialized by nature: the time is the number of adds
	// (200 took almost four minutes under the race detector on a slow
	// machine); the races come from the number of publishers, four adds
	// each.
	const publishers, total = 16, 64
	srv := testutil.StartS3(t, "farm")
	pacrepo := pacrepoCommand(t)
	env := append(isolatedEnv(t), srv.Env()...)
	url := "s3://farm/os/x86_64/farm.db.tar.zst"
	src := t.TempDir()
	files := make([][]string, publishers)
	want := map[string]string{}
	for i := range total {
		name := fmt.Sprintf("pub%02d-pkg%03d", i%publishers, i)
		p, err := pkggen.MakePackage(src, pkggen.Spec{Name: name, Version: "1.0-1", NumFiles: 2, FileSize: 200})
		if err != nil {
			t.Fatal(err)
		}
		files[i%publishers] = append(files[i%publishers], p)
		want[name] = "1.0-1"
	}

	srv.SetEnv(t)
	bucket, err := objstore.Open(context.Background(), objstore.Config{Bucket: "farm", Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	var reads, violations atomic.Int64
	var firstViolation atomic.Value
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := checkReadersView(bucket, "os/x86_64/"); err != nil {
				violations.Add(1)
				firstViolation.CompareAndSwap(nil, err.Error())
			}
			reads.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}()

	// pacman over HTTP, through host, while the publishers run.
	hostURL, _ := startHostProcess(t, pacrepo, env, url, "farm")
	pmHTTP := testutil.NewPacman(t, map[string]string{"farm": hostURL})
	var syncs atomic.Int64
	var pacmanErr atomic.Value
	pacmanDone := make(chan struct{})
	go func() {
		defer close(pacmanDone)
		// From the first commit on: before it there is no repository.
		for {
			if _, err := bucket.Head(context.Background(), "os/x86_64/.pacrepo/farm/commits/0000000000000001.json"); err == nil {
				break
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := syncAndDownload(pmHTTP); err != nil {
				pacmanErr.CompareAndSwap(nil, err.Error())
				return
			}
			syncs.Add(1)
		}
	}()

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan string, total)
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each publisher has a home (and so a cache and configuration)
			// of its own.
			penv := append(isolatedEnv(t), srv.Env()...)
			for _, f := range files[p] {
				out, err := runPacrepo(context.Background(), pacrepo, penv, "--repo", url, "add", f)
				if err != nil {
					errs <- fmt.Sprintf("publisher %d: add %s: %v\n%s", p, filepath.Base(f), err, out)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	<-readerDone
	<-pacmanDone
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	t.Logf("%d publishers, %d adds in %s; the reader read the database %d times; pacman synced and downloaded through host %d times",
		publishers, total, elapsed.Round(time.Millisecond), reads.Load(), syncs.Load())
	if n := violations.Load(); n > 0 {
		t.Errorf("%d reads found the database naming a missing package; the first: %v", n, firstViolation.Load())
	}
	if e := pacmanErr.Load(); e != nil {
		t.Errorf("pacman through host while publishers ran: %v", e)
	}

	out, err := runPacrepo(context.Background(), pacrepo, env, "--repo", url, "list", "-v")
	if err != nil {
		t.Fatalf("list: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			got[f[0]] = f[1]
		}
	}
	if len(got) != total {
		t.Fatalf("%d packages registered, want %d", len(got), total)
	}
	for n, v := range want {
		if got[n] != v {
			t.Errorf("%s: registered %q, want %q", n, got[n], v)
		}
	}
	if out, err := runPacrepo(context.Background(), pacrepo, env, "--repo", url, "check"); err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}

	// Through host, and from the very objects (versitygw keeps each as a
	// file), pacman gets every package.
	pmFiles := testutil.NewPacman(t, map[string]string{"farm": filepath.Join(srv.Root, "farm", "os", "x86_64")})
	for _, pm := range []*testutil.Pacman{pmHTTP, pmFiles} {
		if err := syncAndDownload(pm); err != nil {
			t.Fatal(err)
		}
		if synced := pm.Sync("farm"); len(synced) != total {
			t.Fatalf("pacman -Sl lists %d packages, want %d", len(synced), total)
		}
	}
}

// syncAndDownload has pacman sync the repository farm and download every
// package it lists, which checks each one's checksum.
func syncAndDownload(pm *testutil.Pacman) error {
	if out, err := pm.Run("-Syy"); err != nil {
		return fmt.Errorf("pacman -Syy: %v\n%s", err, out)
	}
	out, err := pm.Run("-Slq", "farm")
	if err != nil {
		return fmt.Errorf("pacman -Sl: %v\n%s", err, out)
	}
	names := strings.Fields(out)
	if len(names) == 0 {
		return nil
	}
	for i := range names {
		names[i] = "farm/" + names[i]
	}
	sort.Strings(names)
	if out, err := pm.Run(append([]string{"-Sw"}, names...)...); err != nil {
		return fmt.Errorf("pacman -Sw of %d packages: %v\n%s", len(names), err, out)
	}
	return nil
}

// checkReadersView reads the database pacman reads (NAME.db) under prefix
// and checks that every package it names exists with the size its entry
// says: by one listing of prefix after the read, which sees what a HEAD
// of each package would (the test's reader runs all along: one request
// a read, not one per package).
func checkReadersView(b *objstore.Bucket, prefix string) error {
	ctx := context.Background()
	body, _, err := b.Get(ctx, prefix+"farm.db")
	if err != nil {
		if strings.Contains(err.Error(), objstore.ErrNotFound.Error()) {
			return nil // no commit yet
		}
		return err
	}
	f, err := os.CreateTemp("", "pacrepo-reader-*.db.tar.zst")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, body)
	body.Close()
	f.Close()
	if err != nil {
		return err
	}
	entries, err := repodb.Read(f.Name(), repodb.ReadOptions{})
	if err != nil {
		return fmt.Errorf("the database pacman reads cannot be read: %w", err)
	}
	listed, _, err := b.ListLevel(ctx, prefix)
	if err != nil {
		return err
	}
	sizes := map[string]int64{}
	for _, o := range listed {
		sizes[o.Key] = o.Size
	}
	for _, e := range entries {
		size, ok := sizes[prefix+e.Filename]
		if !ok {
			return fmt.Errorf("the database names %s: %w", e.Filename, objstore.ErrNotFound)
		}
		if size != e.CSize {
			return fmt.Errorf("the database names %s of %d bytes; the object has %d", e.Filename, e.CSize, size)
		}
	}
	return nil
}

// TestPublishDirectory: publish copies a repository directory to a bucket
// (and then only what changed), list and check read it there, pacman
// syncs it through host, and gc keeps what was unpublished for the grace
// period.
func TestPublishDirectory(t *testing.T) {
	srv := testutil.StartS3(t, "mirror")
	pacrepo := pacrepoCommand(t)
	env := append(isolatedEnv(t), srv.Env()...)
	db := filepath.Join(t.TempDir(), "repo", "farm.db.tar.zst")
	url := "s3://mirror/farm.db.tar.zst"
	run := func(args ...string) string {
		t.Helper()
		out, err := runPacrepo(context.Background(), pacrepo, env, args...)
		if err != nil {
			t.Fatalf("pacrepo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	src := t.TempDir()
	var files []string
	for i := range 5 {
		p, err := pkggen.MakePackage(src, pkggen.Spec{Name: fmt.Sprintf("m%d", i), Version: "1.0-1", NumFiles: 2})
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	run(append([]string{"--repo", db, "add"}, files...)...)
	if out := run("--repo", db, "publish", "-n", url); !strings.Contains(out, "m4") {
		t.Fatalf("publish -n:\n%s", out)
	}
	run("--repo", db, "publish", url)
	if out := run("--repo", url, "list"); len(strings.Fields(out)) != 5 {
		t.Fatalf("list after publish:\n%s", out)
	}
	if out := run("--repo", db, "publish", "--json", url); !strings.Contains(out, `"applied": false`) {
		t.Fatalf("a second publish of the same repository changed something:\n%s", out)
	}
	if out := run("--repo", url, "status"); !strings.Contains(out, "Everything up-to-date.") {
		t.Fatalf("status of the published repository:\n%s", out)
	}
	run("--repo", db, "remove", "m0")
	run("--repo", db, "publish", url)
	run("--repo", url, "check")
	// m0's object is still there (until gc), kept: status, update and
	// reset leave it alone, as they leave a file retired in place.
	if out := run("--repo", url, "status"); !strings.Contains(out, "Everything up-to-date.") {
		t.Fatalf("status with an object the publish unregistered:\n%s", out)
	}
	if out := run("--repo", url, "reset", "-n"); strings.Contains(out, "m0") {
		t.Fatalf("reset -n registers an object the publish unregistered:\n%s", out)
	}
	hostURL, _ := startHostProcess(t, pacrepo, env, url, "farm")
	pm := testutil.NewPacman(t, map[string]string{"farm": hostURL})
	if err := syncAndDownload(pm); err != nil {
		t.Fatal(err)
	}
	if synced := pm.Sync("farm"); len(synced) != 4 {
		t.Fatalf("pacman -Sl through host: %v", synced)
	}
	if out := run("--repo", url, "gc"); !strings.Contains(out, "deleted 0 objects") {
		t.Fatalf("gc within the grace period:\n%s", out)
	}
}

// TestPublishMassRemovalNeedsForce: publishing a directory that lost most
// of what the bucket registers (here all of it) is refused with exit 5
// and the bucket keeps its packages; --force publishes it.
func TestPublishMassRemovalNeedsForce(t *testing.T) {
	srv := testutil.StartS3(t, "mirror")
	pacrepo := pacrepoCommand(t)
	env := append(isolatedEnv(t), srv.Env()...)
	db := filepath.Join(t.TempDir(), "repo", "farm.db.tar.zst")
	url := "s3://mirror/farm.db.tar.zst"
	run := func(args ...string) (string, int) {
		t.Helper()
		out, err := runPacrepo(context.Background(), pacrepo, env, args...)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out, ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out, 0
	}
	src := t.TempDir()
	var files, names []string
	for i := range 12 {
		p, err := pkggen.MakePackage(src, pkggen.Spec{Name: fmt.Sprintf("m%02d", i), Version: "1.0-1", NumFiles: 1})
		if err != nil {
			t.Fatal(err)
		}
		files, names = append(files, p), append(names, fmt.Sprintf("m%02d", i))
	}
	for _, args := range [][]string{
		append([]string{"--repo", db, "add"}, files...),
		{"--repo", db, "publish", url},
		append([]string{"--repo", db, "remove", "--force"}, names...),
	} {
		if out, code := run(args...); code != 0 {
			t.Fatalf("pacrepo %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	if out, code := run("--repo", db, "publish", url); code != 5 || !strings.Contains(out, "without --force") {
		t.Fatalf("publish of an empty directory over 12 packages: exit %d\n%s", code, out)
	}
	if out, _ := run("--repo", url, "list"); len(strings.Fields(out)) != 12 {
		t.Fatalf("the refused publish changed the bucket:\n%s", out)
	}
	if out, code := run("--repo", db, "publish", "--force", url); code != 0 {
		t.Fatalf("publish --force: exit %d\n%s", code, out)
	}
	if out, _ := run("--repo", url, "list"); len(strings.Fields(out)) != 0 {
		t.Fatalf("after publish --force:\n%s", out)
	}
}
