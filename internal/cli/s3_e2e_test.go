package cli_test

import (
	"context"
	"fmt"
	"io"
	"os"
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
// a state of its own as if on separate machines, publish 200 packages into
// one repository in a real S3-compatible server at once, one add per
// package. Every package is registered, check is clean, and a reader that
// reads the database pacman reads all along never finds it naming a
// package object that is missing. Then pacman syncs the repository and
// downloads every package, its checksum checked.
func TestObjectStoragePublishers(t *testing.T) {
	const publishers, total = 16, 200
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
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	t.Logf("%d publishers, %d adds in %s; the reader read the database %d times", publishers, total, elapsed.Round(time.Millisecond), reads.Load())
	if n := violations.Load(); n > 0 {
		t.Errorf("%d reads found the database naming a missing package; the first: %v", n, firstViolation.Load())
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

	// pacman reads the very objects: versitygw keeps each as a file.
	pm := testutil.NewPacman(t, map[string]string{"farm": filepath.Join(srv.Root, "farm", "os", "x86_64")})
	pm.MustRun("-Syy")
	if synced := pm.Sync("farm"); len(synced) != total {
		t.Fatalf("pacman -Sl lists %d packages, want %d", len(synced), total)
	}
	names := make([]string, 0, total)
	for n := range want {
		names = append(names, "farm/"+n)
	}
	sort.Strings(names)
	pm.MustRun(append([]string{"-Sw"}, names...)...)
}

// checkReadersView reads the database pacman reads (NAME.db) under prefix
// and checks that every package it names exists with the size its entry
// says.
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
	for _, e := range entries {
		obj, err := b.Head(ctx, prefix+e.Filename)
		if err != nil {
			return fmt.Errorf("the database names %s: %w", e.Filename, err)
		}
		if obj.Size != e.CSize {
			return fmt.Errorf("the database names %s of %d bytes; the object has %d", e.Filename, e.CSize, obj.Size)
		}
	}
	return nil
}
