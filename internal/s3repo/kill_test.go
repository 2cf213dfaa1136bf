package s3repo

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/objstore"
)

// TestHelperPublisher is not a test: the kill tests run the test binary
// as a publisher (PACREPO_S3_HELPER=add or gc) that kills itself with
// SIGKILL at the step PACREPO_S3_KILL_AT.
func TestHelperPublisher(t *testing.T) {
	op := os.Getenv("PACREPO_S3_HELPER")
	if op == "" {
		t.Skip("helper process")
	}
	at := os.Getenv("PACREPO_S3_KILL_AT")
	crashHook = func(step string) {
		if step == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
	}
	addr, err := ParseURL(os.Getenv("PACREPO_S3_URL"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := objstore.Open(ctx, objstore.Config{Bucket: addr.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	grace, _ := time.ParseDuration(os.Getenv("PACREPO_S3_GRACE"))
	r := New(addr, b, Options{Grace: grace})
	switch op {
	case "add":
		_, err = r.Add(ctx, strings.Split(os.Getenv("PACREPO_S3_FILES"), ":"), AddOptions{})
	case "gc":
		_, err = r.GC(ctx, false)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// publisher runs the test binary as a publisher killed at step.
func (tr *testRepo) publisher(t *testing.T, op, step string, grace time.Duration, files ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPublisher$")
	cmd.Env = append(os.Environ(), tr.server.Env()...)
	cmd.Env = append(cmd.Env, "PACREPO_S3_HELPER="+op, "PACREPO_S3_KILL_AT="+step,
		"PACREPO_S3_URL="+tr.addr.String(), "PACREPO_S3_FILES="+strings.Join(files, ":"),
		"PACREPO_S3_GRACE="+grace.String(),
		"TMPDIR="+t.TempDir()) // a killed helper leaves its temporary files to the test's cleanup
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("publisher %s killed at %s: %v\n%s", op, step, err, out)
	}
}

// TestKilledPublisher: a publisher killed after uploading, after its
// commit, or during gc leaves a repository that check finds whole (or,
// after a commit, repairs), that the next run completes, and from which
// nothing referenced was deleted.
func TestKilledPublisher(t *testing.T) {
	for _, step := range []string{"after-upload", "after-commit", "mid-gc"} {
		t.Run(step, func(t *testing.T) {
			tr := newTestRepo(t, "s3://farm/os/x86_64/farm.db.tar.zst", Options{})
			src := t.TempDir()
			a1, b := mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1")
			if _, err := tr.Add(ctx, []string{a1, b}, AddOptions{}); err != nil {
				t.Fatal(err)
			}
			a2, c := mkpkg(t, src, "a", "2-1"), mkpkg(t, src, "c", "1-1")
			want := map[string]string{"a": "2-1", "b": "1-1", "c": "1-1"}
			switch step {
			case "after-upload":
				tr.publisher(t, "add", step, 0, a2, c)
				if got := registered(t, tr.Repo); got["a"] != "1-1" || got["c"] != "" {
					t.Fatalf("a publisher killed before its commit registered %v", got)
				}
				assertClean(t, tr.Repo, false)
				if _, err := tr.Add(ctx, []string{a2, c}, AddOptions{}); err != nil {
					t.Fatalf("the next run: %v", err)
				}
			case "after-commit":
				tr.publisher(t, "add", step, 0, a2, c)
				if got := registered(t, tr.Repo); got["a"] != "2-1" || got["c"] != "1-1" {
					t.Fatalf("a publisher killed after its commit: registered %v", got)
				}
				rep, err := tr.Check(ctx, false)
				if err != nil || len(rep.Findings) == 0 || rep.Findings[0].Kind != "stale-names" {
					t.Fatalf("check after a kill between commit and names: %+v %v", rep, err)
				}
				// The names pacman reads still show the previous
				// database, whole: its packages are all there.
				assertFixedNamesWhole(t, tr)
				if _, err := tr.Check(ctx, true); err != nil {
					t.Fatal(err)
				}
			case "mid-gc":
				if _, err := tr.Add(ctx, []string{a2, c}, AddOptions{}); err != nil {
					t.Fatal(err)
				}
				// A grace of a millisecond: a-1 and the first generation
				// are collectable once the second the server's times are
				// stated in has passed.
				time.Sleep(serverTimeResolution + 20*time.Millisecond)
				tr.publisher(t, "gc", step, time.Millisecond)
				r := tr.reopen(Options{Grace: time.Millisecond})
				assertClean(t, r, false)
				res, err := r.GC(ctx, false)
				if err != nil || len(res.Deleted) == 0 {
					t.Fatalf("the next gc: %+v %v", res, err)
				}
				if _, err := os.Stat(tr.objectFile(tr.addr.key(filepath.Base(a1)))); err == nil {
					t.Error("the retired a-1 outlived two gc runs")
				}
			}
			if got := registered(t, tr.Repo); len(got) != 3 || got["a"] != want["a"] || got["c"] != want["c"] {
				t.Fatalf("registered %v, want %v", got, want)
			}
			assertClean(t, tr.Repo, true)
			assertFixedNamesWhole(t, tr)
		})
	}
}

// assertClean: check finds nothing (stale names only when allowed).
func assertClean(t *testing.T, r *Repo, strict bool) {
	t.Helper()
	rep, err := r.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if strict || f.Kind != "stale-names" {
			t.Errorf("check: %s %s: %s", f.Kind, f.URL, f.Detail)
		}
	}
}

// assertFixedNamesWhole: every package the database pacman reads names
// exists with the size its entry says.
func assertFixedNamesWhole(t *testing.T, tr *testRepo) {
	t.Helper()
	_, db := tr.addr.fixedNames()
	dir := t.TempDir()
	path := filepath.Join(dir, "farm.db.tar.zst")
	data, err := os.ReadFile(tr.objectFile(db[0]))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, data, 0o644)
	entries, err := readDBFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, err := os.Stat(tr.objectFile(tr.addr.key(e.Filename)))
		if err != nil || fi.Size() != e.CSize {
			t.Errorf("the database pacman reads names %s, which is missing or of another size (%v)", e.Filename, err)
		}
	}
}
